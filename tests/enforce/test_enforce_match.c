/* The BPF enforce program and userspace's service_table pick the same
 * service for a socket (issue 20: one source of truth for the port ->
 * service rule, collectors/bpf/service_rule.h).
 *
 * Random configs (seeded; the seed is printed, HALFOPEN_TEST_SEED
 * replays one): up to 8 services over a small window of ports so that
 * they overlap, inbound and outbound, single ports and ranges, some
 * without enforce, some with CIDRs, listening_ports and count_unmatched
 * on or off. Real loopback connections (IPv4 and IPv6) in a fresh network
 * namespace, clients bound to ports of the window or left ephemeral.
 * Userspace's answer: a sock_diag dump (LISTEN for the listening set,
 * ESTABLISHED for the sockets) through service_match(). The BPF answer:
 * the real program, loaded by enforce_open() and run by enforce_pass()
 * (not a dry run), gives service i a TCP_USER_TIMEOUT of 1000 + i, read
 * back from each socket with getsockopt: which service the kernel side
 * picked, per socket, with no observable added to the program.
 *
 * Agreement: where the program acted, it picked userspace's service.
 * Where it did not, userspace's service enforces nothing, is an auto or
 * "unmatched" one, or the socket is ambiguous to the kernel side (its
 * first claimant has CIDRs, which BPF does not match: service_rule.h).
 * Both read paths when the kernel has both. Needs root (BPF, a network
 * namespace): otherwise it skips (77; a failure under CI=true). */
#include "unit/testing.h"

#include "collectors/enforce.h"
#include "collectors/service_table.h"
#include "collectors/sockdiag.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS	      60
#define WINDOW	      24 /* ports per round's window: small, so services overlap */
#define MAX_SERVICES  8
#define MAX_LISTENERS 4
#define MAX_CONNS     10
#define UT_BASE_MS    1000 /* service i enforces TCP_USER_TIMEOUT UT_BASE_MS + i */
#define PICK_NONE     (-1)

static unsigned seed, first_seed; /* seed: rand_r's state; first_seed: to replay */

static unsigned rnd(unsigned n)
{
	return (unsigned)(rand_r(&seed) % (int)n);
}

static int lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr) == 0 ? 0 : -errno;
	}
	close(s);
	return r;
}

/* One round's config, in storage the round owns. */
struct gen_config {
	struct config cfg;
	struct service_config svc[MAX_SERVICES];
	struct port_range ranges[MAX_SERVICES][3];
	struct cidr cidr[MAX_SERVICES];
	char names[MAX_SERVICES][24]; /* "s" + a size_t: -Wformat-truncation at -O0 */
};

static const struct cidr cidr_loopback = {.family = AF_INET, .addr = {127}, .prefix = 8};
static const struct cidr cidr_elsewhere = {.family = AF_INET, .addr = {10}, .prefix = 8};

static void gen_config(struct gen_config *g, uint16_t base)
{
	memset(g, 0, sizeof(*g));
	g->cfg.n_services = 1 + rnd(MAX_SERVICES);
	g->cfg.services = g->svc;
	g->cfg.stale_after_ms = 300000;
	g->cfg.listening_ports = rnd(2);
	g->cfg.max_listening_services = 1 + rnd(3);
	g->cfg.count_unmatched = rnd(2);
	for (size_t i = 0; i < g->cfg.n_services; i++) {
		struct service_config *s = &g->svc[i];

		snprintf(g->names[i], sizeof(g->names[i]), "s%zu", i);
		s->name = g->names[i];
		s->direction = rnd(2) ? DIRECTION_OUTBOUND : DIRECTION_INBOUND;
		s->ports = g->ranges[i];
		s->n_ports = 1 + rnd(3);
		for (size_t k = 0; k < s->n_ports; k++) {
			uint32_t lo = base + rnd(WINDOW), hi = lo;

			if (rnd(4) == 0) /* a range */
				hi = lo + rnd(8);
			if (hi >= base + (uint32_t)WINDOW)
				hi = base + WINDOW - 1u;
			s->ports[k] = (struct port_range){(uint16_t)lo, (uint16_t)hi};
		}
		if (rnd(5) == 0) {
			g->cidr[i] = rnd(2) ? cidr_loopback : cidr_elsewhere;
			s->cidrs = &g->cidr[i];
			s->n_cidrs = 1;
		}
		s->stale_after_ms = 300000;
		/* As config validation wants it (config/service_enforce.c): a
		 * service with cidrs cannot enforce. */
		if (!s->n_cidrs && rnd(5) != 0)
			s->enforce.user_timeout_ms = UT_BASE_MS + (uint32_t)i;
	}
}

static void print_config(const struct config *cfg)
{
	printf("  config: listening_ports %d (max %u), count_unmatched %d\n", cfg->listening_ports,
	       cfg->max_listening_services, cfg->count_unmatched);
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct service_config *s = &cfg->services[i];

		printf("  s%zu %s ut %u cidrs %zu ports", i, direction_name(s->direction),
		       s->enforce.user_timeout_ms, s->n_cidrs);
		for (size_t k = 0; k < s->n_ports; k++)
			printf(" %u-%u", s->ports[k].lo, s->ports[k].hi);
		printf("\n");
	}
}

/* What a dump saw: the listening set and the established sockets. */
struct dumped {
	struct port_set listening;
	struct sock_record rec[4 * MAX_CONNS];
	size_t n;
};

static int on_listen(const struct sock_record *rec, void *ctx)
{
	port_set_add(&((struct dumped *)ctx)->listening, rec->sport);
	return 0;
}

static int on_established(const struct sock_record *rec, void *ctx)
{
	struct dumped *d = ctx;

	if (d->n == sizeof(d->rec) / sizeof(d->rec[0]))
		return -E2BIG;
	d->rec[d->n++] = *rec;
	return 0;
}

static int dump(struct dumped *d)
{
	static char buf[SOCKDIAG_RECV_BUF];
	struct nl_sock *sk = NULL;
	int r = sockdiag_open(&sk);

	memset(d, 0, sizeof(*d));
	for (int f = 0; r == 0 && f < 2; f++) {
		struct sockdiag_request q = {.family = f ? AF_INET6 : AF_INET,
					     .states = SOCKDIAG_STATE(TCP_LISTEN)};

		r = sockdiag_dump(sk, &q, buf, sizeof(buf), on_listen, d, NULL);
		if (r == 0) {
			q.states = SOCKDIAG_STATE(TCP_ESTABLISHED);
			r = sockdiag_dump(sk, &q, buf, sizeof(buf), on_established, d, NULL);
		}
	}
	sockdiag_close(sk);
	return r;
}

/* The socket of fd: its family and ports. */
struct sock_id {
	int family;
	uint16_t local, remote;
};

static int sock_id_of(int fd, struct sock_id *id)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	id->family = a.sin6_family;
	id->local = ntohs(a.sin6_port); /* sin_port and sin6_port share the offset */
	len = sizeof(a);
	if (getpeername(fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	id->remote = ntohs(a.sin6_port);
	return 0;
}

static void set_addr(struct sockaddr_in6 *a, socklen_t *len, int family, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)a;

		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	} else {
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		*len = sizeof(*a);
	}
}

/* Close with a reset: no TIME_WAIT left on the window's ports. */
static void close_reset(int fd)
{
	struct linger l = {1, 0};

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Whether a service up to and including upto that has CIDRs names the
 * socket's port in its direction: the kernel side then leaves the socket
 * alone (ENFORCE_KIND_AMBIGUOUS). */
static bool ambiguous_for_bpf(const struct config *cfg, const struct sock_record *rec, size_t upto)
{
	for (size_t j = 0; j <= upto && j < cfg->n_services; j++) {
		const struct service_config *s = &cfg->services[j];
		uint16_t port = s->direction == DIRECTION_INBOUND ? rec->sport : rec->dport;

		if (!s->n_cidrs)
			continue;
		for (size_t k = 0; k < s->n_ports; k++)
			if (port >= s->ports[k].lo && port <= s->ports[k].hi)
				return true;
	}
	return false;
}

struct tally {
	unsigned sockets, acted, not_enforcing, ambiguous, unclaimed, mismatches;
};

/* One round on e: a config, sockets, both answers. 0, or -1 when they
 * disagree (printed) or the round could not be set up. */
static int round_once(struct enforce *e, unsigned round, struct tally *tl)
{
	uint16_t base = (uint16_t)(20000 + round * WINDOW), order[WINDOW];
	int lfd[MAX_LISTENERS], cfd[MAX_CONNS], afd[MAX_CONNS], lfam[MAX_LISTENERS];
	uint16_t lport[MAX_LISTENERS];
	unsigned n_listen = 1 + rnd(MAX_LISTENERS), n_conn = 4 + rnd(MAX_CONNS - 3), next = 0;
	struct service_table *t = NULL;
	static struct gen_config g;
	static struct dumped d;
	int r = -1;

	for (unsigned i = 0; i < MAX_LISTENERS; i++)
		lfd[i] = -1;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		cfd[i] = afd[i] = -1;
	for (unsigned i = 0; i < WINDOW; i++)
		order[i] = (uint16_t)(base + i);
	for (unsigned i = WINDOW - 1; i > 0; i--) {
		unsigned j = rnd(i + 1);
		uint16_t x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	gen_config(&g, base);

	for (unsigned i = 0; i < n_listen; i++) {
		struct sockaddr_in6 a;
		socklen_t len;
		int one = 1;

		lfam[i] = rnd(3) ? AF_INET : AF_INET6;
		lport[i] = order[next++];
		set_addr(&a, &len, lfam[i], lport[i]);
		lfd[i] = socket(lfam[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd[i] < 0 ||
		    setsockopt(lfd[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(lfd[i], (struct sockaddr *)&a, len) < 0 || listen(lfd[i], MAX_CONNS) < 0) {
			printf("round %u: listener on %u: %s\n", round, lport[i], strerror(errno));
			goto out;
		}
	}
	for (unsigned i = 0; i < n_conn; i++) {
		unsigned l = rnd(n_listen);
		struct sockaddr_in6 a;
		socklen_t len;

		cfd[i] = socket(lfam[l], SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd[i] < 0)
			goto sock_fail;
		if (rnd(4) != 0) { /* a client port in the window; else ephemeral */
			set_addr(&a, &len, lfam[l], order[next++]);
			if (bind(cfd[i], (struct sockaddr *)&a, len) < 0)
				goto sock_fail;
		}
		set_addr(&a, &len, lfam[l], lport[l]);
		if (connect(cfd[i], (struct sockaddr *)&a, len) < 0)
			goto sock_fail;
		afd[i] = accept4(lfd[l], NULL, NULL, SOCK_CLOEXEC);
		if (afd[i] < 0)
			goto sock_fail;
	}

	/* Userspace's answer, as a collection gets it. */
	if (dump(&d) < 0 || service_table_build(&g.cfg, &d.listening, &t, NULL) < 0) {
		printf("round %u: dump or table failed\n", round);
		goto out;
	}
	if (d.n != 2 * n_conn) {
		printf("round %u: dumped %zu established sockets, made %u\n", round, d.n,
		       2 * n_conn);
		goto out;
	}
	/* The kernel's answer: a real pass. */
	if (enforce_configure(e, &g.cfg, false) < 0 || enforce_pass(e) < 0) {
		printf("round %u: enforce configure or pass failed\n", round);
		goto out;
	}
	enforce_end_collection(e);

	r = 0;
	for (unsigned i = 0; i < 2 * n_conn; i++) {
		int fd = i < n_conn ? cfd[i] : afd[i - n_conn], ut = 0, user = PICK_NONE, bpf;
		socklen_t len = sizeof(ut);
		const struct sock_record *rec = NULL;
		const char *why = NULL;
		struct sock_id id = {0};
		int m;

		if (sock_id_of(fd, &id) < 0 ||
		    getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, &len) < 0) {
			printf("round %u: reading socket %u: %s\n", round, i, strerror(errno));
			r = -1;
			break;
		}
		for (size_t k = 0; k < d.n; k++)
			if (d.rec[k].family == id.family && d.rec[k].sport == id.local &&
			    d.rec[k].dport == id.remote)
				rec = &d.rec[k];
		if (!rec) {
			printf("round %u: %u->%u not in the dump\n", round, id.local, id.remote);
			r = -1;
			break;
		}
		m = service_match(t, rec);
		if (m >= 0 && service_table_entry(t, (size_t)m)->id != SERVICE_ID_NONE)
			user = (int)service_table_entry(t, (size_t)m)->id;
		bpf = ut == 0 ? PICK_NONE : ut - UT_BASE_MS;
		tl->sockets++;
		if (bpf != PICK_NONE) {
			if (bpf != user)
				why = "the program acted as another service";
			else
				tl->acted++;
		} else if (user == PICK_NONE) {
			tl->unclaimed++;
		} else if (!service_enforces(&g.svc[user])) {
			tl->not_enforcing++;
		} else if (ambiguous_for_bpf(&g.cfg, rec, (size_t)user)) {
			tl->ambiguous++;
		} else {
			why = "the program left an enforcing service's socket alone";
		}
		if (why) {
			printf(
			    "round %u: %s %u -> %u: userspace s%d, BPF s%d (user timeout %d): %s\n",
			    round, id.family == AF_INET ? "v4" : "v6", id.local, id.remote, user,
			    bpf, ut, why);
			tl->mismatches++;
			r = -1;
		}
	}
	if (r)
		print_config(&g.cfg);
	goto out;
sock_fail:
	printf("round %u: making a connection: %s\n", round, strerror(errno));
out:
	service_table_free(t);
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		close_reset(cfd[i]);
		close_reset(afd[i]);
	}
	for (unsigned i = 0; i < MAX_LISTENERS; i++)
		close_reset(lfd[i]);
	return r;
}

static struct enforce *paths[2];

DEF_TEST(same_service)
{
	struct tally tl = {0};
	struct timespec a, b;
	int failed = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct enforce *e = paths[round % 2] ? paths[round % 2] : paths[0];

		if (round_once(e, round, &tl) < 0)
			failed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%d rounds (seed %u) in %.2f s: %u sockets; the program acted on %u, as "
	       "userspace's service; left alone %u of services without enforce, %u ambiguous "
	       "(CIDRs), %u of no configured service; %u disagreements\n",
	       ROUNDS, first_seed,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9, tl.sockets,
	       tl.acted, tl.not_enforcing, tl.ambiguous, tl.unclaimed, tl.mismatches);
	CHECK_EQ_INT(0, failed);
	/* The check means something only if both kinds of answer occurred. */
	CHECK(tl.acted > tl.sockets / 10);
	CHECK(tl.unclaimed + tl.not_enforcing + tl.ambiguous > tl.sockets / 10);
	return 0;
}

int main(void)
{
	char why[300] = "";
	const char *s = getenv("HALFOPEN_TEST_SEED");

	seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
	first_seed = seed;
	printf("seed %u (HALFOPEN_TEST_SEED=%u replays it)\n", seed, seed);
	if (geteuid() != 0)
		SKIP_MAIN("needs root (BPF, a network namespace)");
	if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0)
		SKIP_MAIN("cannot make a network namespace: %s", strerror(errno));
	if (enforce_open(&paths[0], ENFORCE_READ_FIELDS, why, sizeof(why)) < 0)
		SKIP_MAIN("the enforce program does not load here: %s", why);
	if (enforce_open(&paths[1], ENFORCE_READ_GETSOCKOPT, why, sizeof(why)) < 0)
		printf("getsockopt read path not here (%s): fields only\n", why);
	else
		printf("both read paths, alternating rounds\n");
	RUN_TEST(same_service);
	enforce_free(paths[0]);
	enforce_free(paths[1]);
	END_TEST;
}
