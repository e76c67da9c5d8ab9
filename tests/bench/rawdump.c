/* rawdump: the leanest possible TCP inet_diag dump, for the benchmarks.
 *
 * Plain netlink socket, no libnl, no parsing beyond counting messages:
 * what a dump costs the kernel plus the reads. It also tries request
 * variants the exporter could use, so their cost can be compared:
 *
 *   --family v4|v6|both   SOCK_DIAG_BY_FAMILY per family (default both:
 *                         AF_INET then AF_INET6, like the exporter)
 *   --family compat       one legacy TCPDIAG_GETSOCK request
 *                         (struct inet_diag_req): the kernel walks its
 *                         socket hash once for both families
 *   --no-info             no INET_DIAG_INFO (no tcp_info per socket)
 *   --repeat K            passes; each prints "sockets=N seconds=S"
 *   --rcvbuf BYTES        recv() buffer (default 32 KiB)
 *
 * States: the exporter's connected set (all but LISTEN, TIME_WAIT, CLOSE). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#ifndef TCPDIAG_GETSOCK
#define TCPDIAG_GETSOCK 18
#endif

/* TCP_ESTABLISHED..TCP_CLOSING without TIME_WAIT (6), CLOSE (7), LISTEN (10). */
#define CONNECTED_STATES                                                                           \
	((1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 9) |       \
	 (1u << 11))

/* Send a dump request of type with body (an inet_diag request) as its
 * payload. 0 or -errno. */
static int send_dump(int fd, uint16_t type, uint32_t seq, const void *body, size_t body_len)
{
	struct {
		struct nlmsghdr nlh;
		union {
			struct inet_diag_req_v2 v2;
			struct inet_diag_req compat;
		} r;
	} req;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = (uint32_t)NLMSG_LENGTH(body_len);
	req.nlh.nlmsg_type = type;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nlh.nlmsg_seq = seq;
	memcpy(&req.r, body, body_len);
	return sendto(fd, &req, req.nlh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0
		   ? -errno
		   : 0;
}

static int send_v2(int fd, int family, uint8_t ext, uint32_t seq)
{
	struct inet_diag_req_v2 r;

	memset(&r, 0, sizeof(r));
	r.sdiag_family = (uint8_t)family;
	r.sdiag_protocol = IPPROTO_TCP;
	r.idiag_ext = ext;
	r.idiag_states = CONNECTED_STATES;
	return send_dump(fd, SOCK_DIAG_BY_FAMILY, seq, &r, sizeof(r));
}

static int send_compat(int fd, uint8_t ext, uint32_t seq)
{
	struct inet_diag_req r;

	memset(&r, 0, sizeof(r));
	r.idiag_family = AF_INET; /* ignored by the compat dump: both families */
	r.idiag_ext = ext;
	r.idiag_states = CONNECTED_STATES;
	return send_dump(fd, TCPDIAG_GETSOCK, seq, &r, sizeof(r));
}

/* Read one dump to its end; count messages of type want. */
static int drain(int fd, void *buf, size_t len, uint16_t want, uint64_t *n)
{
	for (;;) {
		ssize_t r = recv(fd, buf, len, 0);
		struct nlmsghdr *h;
		size_t rem;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		rem = (size_t)r;
		for (h = buf; NLMSG_OK(h, rem); h = NLMSG_NEXT(h, rem)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_type == want)
				(*n)++;
		}
	}
}

int main(int argc, char **argv)
{
	const char *family = "both";
	uint8_t ext = 1u << (INET_DIAG_INFO - 1);
	size_t rcvbuf = 32 * 1024;
	int repeat = 1, sockbuf = 1 << 20;
	uint32_t seq = 1;
	void *buf;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--family") && i + 1 < argc)
			family = argv[++i];
		else if (!strcmp(argv[i], "--no-info"))
			ext = 0;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc)
			rcvbuf = (size_t)atol(argv[++i]);
		else {
			fprintf(stderr, "usage: rawdump [--family v4|v6|both|compat] [--no-info] "
					"[--repeat K] [--rcvbuf BYTES]\n");
			return 2;
		}
	}
	buf = malloc(rcvbuf);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (!buf || fd < 0) {
		perror("rawdump");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof(sockbuf));
	for (int k = 0; k < repeat; k++) {
		struct timespec a, b;
		uint64_t n = 0;
		int r = 0;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (!strcmp(family, "compat")) {
			r = send_compat(fd, ext, seq);
			if (r == 0)
				r = drain(fd, buf, rcvbuf, TCPDIAG_GETSOCK, &n);
			seq++;
		} else {
			static const int fams[] = {AF_INET, AF_INET6};

			for (int f = 0; f < 2 && r == 0; f++) {
				if ((f == 0 && !strcmp(family, "v6")) ||
				    (f == 1 && !strcmp(family, "v4")))
					continue;
				r = send_v2(fd, fams[f], ext, seq);
				if (r == 0)
					r = drain(fd, buf, rcvbuf, SOCK_DIAG_BY_FAMILY, &n);
				seq++;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (r < 0) {
			fprintf(stderr, "rawdump: %s\n", strerror(-r));
			return 1;
		}
		fprintf(stderr, "sockets=%llu seconds=%.6f\n", (unsigned long long)n,
			(double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	}
	close(fd);
	free(buf);
	return 0;
}
