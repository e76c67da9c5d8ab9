/* sockdiag_record: dump the TCP sockets of the current network namespace
 * with the exporter's own sockdiag code, and
 *   - print one line per socket (what the parser saw), and/or
 *   - record the raw netlink datagrams to a file (test fixtures).
 * With --count it only walks the dump: the raw floor the benchmarks
 * compare the exporter against (same dump, same extensions, no
 * classification).
 *
 * usage: sockdiag_record [--states connected|all|listen] [--record FILE]
 *                        [--print] [--count] [--repeat N] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>

#include "collectors/sockdiag.h"

struct ctx {
	FILE *record;
	int print;
	uint64_t n;
};

static void tap(const void *data, size_t len, void *p)
{
	struct ctx *c = p;

	if (c->record)
		fwrite(data, 1, len, c->record);
}

static int on_sock(const struct sock_record *r, void *p)
{
	struct ctx *c = p;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	c->n++;
	if (!c->print)
		return 0;
	inet_ntop(r->family, r->saddr, src, sizeof(src));
	inet_ntop(r->family, r->daddr, dst, sizeof(dst));
	printf("family=%u state=%u timer=%u retrans=%u src=%s sport=%u dst=%s dport=%u "
	       "has_info=%d info_len=%u lastrcv=%u lastack=%u backoff=%u probes=%u unacked=%u "
	       "cookie=%llu\n",
	       r->family, r->state, r->timer, r->retrans, src, r->sport, dst, r->dport,
	       r->has_info, r->info_len, r->info.tcpi_last_data_recv, r->info.tcpi_last_ack_recv,
	       r->info.tcpi_backoff, r->info.tcpi_probes, r->info.tcpi_unacked,
	       (unsigned long long)r->cookie);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t states = SOCKDIAG_STATES_CONNECTED;
	struct ctx c = {0};
	const char *record = NULL;
	int repeat = 1, r = 0;
	struct nl_sock *sk = NULL;
	void *buf = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--states") && i + 1 < argc) {
			const char *s = argv[++i];

			if (!strcmp(s, "all"))
				states = ~0u;
			else if (!strcmp(s, "listen"))
				states = SOCKDIAG_STATE(TCPS_LISTEN);
			else
				states = SOCKDIAG_STATES_CONNECTED;
		} else if (!strcmp(argv[i], "--record") && i + 1 < argc) {
			record = argv[++i];
		} else if (!strcmp(argv[i], "--print")) {
			c.print = 1;
		} else if (!strcmp(argv[i], "--count")) {
			c.print = 0;
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: sockdiag_record [--states connected|all|listen] "
					"[--record FILE] [--print] [--count] [--repeat N]\n");
			return 2;
		}
	}
	if (record) {
		c.record = fopen(record, "wb");
		if (!c.record) {
			fprintf(stderr, "sockdiag_record: %s: %s\n", record, strerror(errno));
			return 1;
		}
	}
	buf = malloc(SOCKDIAG_RECV_BUF);
	if (!buf)
		goto fail;
	r = sockdiag_open(&sk);
	if (r < 0)
		goto fail;
	for (int k = 0; k < repeat; k++) {
		struct timespec a, b;
		static const uint8_t fams[] = {AF_INET, AF_INET6};

		c.n = 0;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (size_t f = 0; f < sizeof(fams); f++) {
			struct sockdiag_request req = {
				.family = fams[f],
				.states = states,
				.ext = 1u << (INET_DIAG_INFO - 1),
				.tap = tap,
				.tap_ctx = &c,
			};
			r = sockdiag_dump(sk, &req, buf, SOCKDIAG_RECV_BUF, on_sock, &c, NULL);
			if (r < 0)
				goto fail;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		fprintf(stderr, "sockets=%llu seconds=%.6f\n", (unsigned long long)c.n,
			(double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
		/* Record only the first pass. */
		if (c.record) {
			fclose(c.record);
			c.record = NULL;
		}
	}
	sockdiag_close(sk);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "sockdiag_record: %s\n", strerror(r < 0 ? -r : ENOMEM));
	if (c.record)
		fclose(c.record);
	sockdiag_close(sk);
	free(buf);
	return 1;
}
