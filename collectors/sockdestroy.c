/* sockdestroy: one SOCK_DESTROY request and its ACK.
 *
 * The request is a plain inet_diag_req_v2 carrying the socket id exactly
 * as a dump reported it; the kernel (inet_diag_find_one_icsk) looks the
 * 4-tuple up in the sender's namespace, compares the cookie, and runs
 * tcp_abort() in the sender's context, which is why the capability check
 * applies to us and why the ACK is already queued when sendto() returns.
 * The message is built by hand rather than with libnl so that building it
 * is pure and the sequence number is ours to match. */
#include "sockdestroy.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netlink/socket.h>

_Static_assert(SOCKDESTROY_MSG_LEN == NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)),
	       "SOCKDESTROY_MSG_LEN must match the kernel's request layout");

/* Big enough for an error ACK that echoes our request (plus extended ACK
 * attributes); longer datagrams are leftovers of an aborted dump. */
#define ACK_BUF_LEN 4096

/* Reads before giving up on finding our ACK behind leftovers of an
 * earlier, aborted dump; each is bounded by the handle's SO_RCVTIMEO. */
#define MAX_READS 1024

int sockdestroy_build(const struct sockdestroy_target *t, uint32_t seq, void *buf, size_t len)
{
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
	size_t alen;

	if (t->family == AF_INET)
		alen = 4;
	else if (t->family == AF_INET6)
		alen = 16;
	else
		return -EAFNOSUPPORT;
	if (len < SOCKDESTROY_MSG_LEN)
		return -ENOSPC;

	memset(&nlh, 0, sizeof(nlh));
	nlh.nlmsg_len = SOCKDESTROY_MSG_LEN;
	nlh.nlmsg_type = SOCK_DESTROY;
	nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh.nlmsg_seq = seq;

	memset(&req, 0, sizeof(req));
	req.sdiag_family = t->family;
	req.sdiag_protocol = IPPROTO_TCP;
	req.id.idiag_sport = htons(t->sport);
	req.id.idiag_dport = htons(t->dport);
	memcpy(req.id.idiag_src, t->saddr, alen);
	memcpy(req.id.idiag_dst, t->daddr, alen);
	req.id.idiag_if = t->ifindex;
	/* The inverse of sockdiag_parse(); the kernel compares both halves. */
	req.id.idiag_cookie[0] = (uint32_t)t->cookie;
	req.id.idiag_cookie[1] = (uint32_t)(t->cookie >> 32);

	memcpy(buf, &nlh, sizeof(nlh));
	memcpy((char *)buf + NLMSG_HDRLEN, &req, sizeof(req));
	return SOCKDESTROY_MSG_LEN;
}

int sockdestroy_parse_ack(const void *buf, size_t len, uint32_t seq, int *err)
{
	const struct nlmsghdr *h = buf;
	size_t rem = len;

	for (; NLMSG_OK(h, rem); h = NLMSG_NEXT(h, rem)) {
		const struct nlmsgerr *e;

		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type != NLMSG_ERROR)
			continue; /* SOCK_DESTROY answers only with an ACK */
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			return -EBADMSG;
		e = NLMSG_DATA(h);
		*err = e->error > 0 ? -EPROTO : e->error;
		return 1;
	}
	return 0;
}

int sockdestroy(struct nl_sock *sk, const struct sockdestroy_target *t)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	uint32_t msg[SOCKDESTROY_MSG_LEN / sizeof(uint32_t)];
	/* uint32_t: nlmsghdr alignment for the parser. */
	uint32_t ack[ACK_BUF_LEN / sizeof(uint32_t)];
	uint32_t seq = nl_socket_use_seq(sk);
	int fd = nl_socket_get_fd(sk);
	int len, r;

	len = sockdestroy_build(t, seq, msg, sizeof(msg));
	if (len < 0)
		return len;
	for (;;) {
		if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) >=
		    0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	for (int i = 0; i < MAX_READS; i++) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		/* MSG_TRUNC: netlink then returns the datagram's real length. */
		ssize_t n =
		    recvfrom(fd, ack, sizeof(ack), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		int verdict = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		if (from.nl_pid != 0)
			continue; /* only the kernel answers */
		/* Longer than ack[]: a leftover dump batch, truncated; our
		 * ACK is always a datagram of its own. */
		if ((size_t)n > sizeof(ack))
			continue;
		r = sockdestroy_parse_ack(ack, (size_t)n, seq, &verdict);
		if (r < 0)
			return r;
		if (r == 1)
			return verdict;
	}
	return -ETIMEDOUT;
}
