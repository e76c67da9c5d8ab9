/* enforce: loader and runner of the BPF socket iterator (enforce.h).
 *
 * The maps hold, per port, the first service in file order that claims
 * it (inbound: local port, outbound: remote port), and per service its
 * policy and the counters of the passes since the last collection. The
 * userspace half keeps the totals the metrics show, keyed by service
 * name and direction so a reload carries them over. */
#include "enforce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"


struct enforce_service {
	char *name;
	enum direction direction;
	bool enforces;
	bool keepalive, user_timeout;
	struct enforce_counts last, total;
};

/* The userspace half, the same with or without BPF. */
struct enforce_state {
	struct enforce_service *svc;
	size_t n;
	bool dry_run;
	uint64_t passes, pass_errors;
	double last_pass_seconds; /* the slowest pass of the last collection */
};

bool config_wants_enforce(const struct config *cfg)
{
	for (size_t i = 0; cfg && i < cfg->n_services; i++)
		if (service_enforces(&cfg->services[i]))
			return true;
	return false;
}

static void services_free(struct enforce_service *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Contract: a fresh service list for cfg, totals carried over from st by
 * name and direction; st untouched on -ENOMEM. */
static int state_configure(struct enforce_state *st, const struct config *cfg, bool dry_run)
{
	struct enforce_service *v = calloc(cfg->n_services ? cfg->n_services : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct service_config *sc = &cfg->services[i];

		v[i].name = strdup(sc->name);
		if (!v[i].name) {
			services_free(v, i);
			return -ENOMEM;
		}
		v[i].direction = sc->direction;
		v[i].enforces = service_enforces(sc);
		v[i].keepalive = sc->enforce.keepalive;
		v[i].user_timeout = sc->enforce.user_timeout_ms != 0;
		for (size_t j = 0; j < st->n; j++)
			if (st->svc[j].direction == sc->direction &&
			    strcmp(st->svc[j].name, sc->name) == 0)
				v[i].total = st->svc[j].total;
	}
	services_free(st->svc, st->n);
	st->svc = v;
	st->n = cfg->n_services;
	st->dry_run = dry_run;
	return 0;
}

#ifdef HALFOPEN_HAVE_BPF

#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/enforce_abi.h"

/* Service ids are config indexes (0..CONFIG_MAX_SERVICES-1) and index
 * the BPF maps directly; the slot after them is the self-test's. A config
 * limit above the maps' would put a service in the self-test slot. */
_Static_assert(CONFIG_MAX_SERVICES == ENFORCE_MAX_SERVICES,
	       "enforce_abi.h's ENFORCE_MAX_SERVICES must equal CONFIG_MAX_SERVICES");

#include "enforce.skel.h"

static void counts_add(struct enforce_counts *to, const struct enforce_counts *c)
{
	to->matched += c->matched;
	for (int o = 0; o < 2; o++) {
		to->set[o] += c->set[o];
		to->chosen[o] += c->chosen[o];
		to->reverted[o] += c->reverted[o];
		to->errors[o] += c->errors[o];
	}
}

struct enforce {
	struct enforce_state st;
	struct enforce_bpf *skel;
	struct bpf_link *link;
	int ncpu;
	double slowest;
};

static int no_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int run_pass(int link_fd);

/* Contract: one dry pass over a loopback connection made for it, in the
 * calling thread's namespace, proves the kernel lets the program read the
 * options ("already chose"): bpf_getsockopt of SO_KEEPALIVE and
 * TCP_USER_TIMEOUT answers EINVAL before Linux 6.1. 0 when it can (or
 * when no loopback connection could be made to find out); -EOPNOTSUPP
 * when it cannot; the -errno of a map update or of the pass. */
static int selftest(struct enforce *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct enforce_policy p = {.kind = ENFORCE_KIND_ENFORCE,
				   .keepalive = 1,
				   .idle_s = 1,
				   .interval_s = 1,
				   .count = 1,
				   .user_timeout_ms = 1,
				   .dry_run = 1};
	int pfd = bpf_map__fd(e->skel->maps.policy), sfd = bpf_map__fd(e->skel->maps.stats);
	int ofd = bpf_map__fd(e->skel->maps.outbound);
	uint32_t id = ENFORCE_SELFTEST_ID, port, cport, none = ENFORCE_NO_SERVICE;
	struct enforce_stats st = {0};
	socklen_t len = sizeof(sa);
	int lfd, cfd = -1, r = 0;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		goto out; /* no loopback here: cannot tell */
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	port = ntohs(sa.sin_port);
	len = sizeof(sa);
	if (getsockname(cfd, (struct sockaddr *)&sa, &len) < 0)
		goto out;
	cport = ntohs(sa.sin_port);
	/* The maps start zeroed (every port service 0's): the client's local
	 * port must name no service for its remote port to decide. */
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.inbound), &cport, &none, BPF_ANY) < 0 ||
	    bpf_map_update_elem(pfd, &id, &p, BPF_ANY) < 0 ||
	    bpf_map_update_elem(sfd, &id, &st, BPF_ANY) < 0 ||
	    bpf_map_update_elem(ofd, &port, &id, BPF_ANY) < 0) {
		r = -errno;
		goto out;
	}
	r = run_pass(bpf_link__fd(e->link));
	if (r == 0 && bpf_map_lookup_elem(sfd, &id, &st) < 0)
		r = -errno;
	(void)bpf_map_update_elem(ofd, &port, &none, BPF_ANY);
	if (r == 0 && st.matched && (st.keepalive_errors || st.user_timeout_errors))
		r = -EOPNOTSUPP;
out:
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return r;
}

int enforce_open(struct enforce **out, char *why, size_t why_len)
{
	struct enforce *e = calloc(1, sizeof(*e));
	int r;

	if (!e) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	libbpf_set_print(no_print);
	e->skel = enforce_bpf__open();
	if (!e->skel) {
		r = -errno;
		snprintf(why, why_len, "opening the BPF object: %s", strerror(-r));
		goto fail;
	}
	r = enforce_bpf__load(e->skel);
	if (r) {
		snprintf(why, why_len,
			 "the kernel refused the BPF socket iterator (%s); it needs Linux >= "
			 "5.15 with BTF (/sys/kernel/btf/vmlinux) and CAP_BPF + CAP_PERFMON",
			 strerror(-r));
		goto fail;
	}
	e->link = bpf_program__attach_iter(e->skel->progs.enforce, NULL);
	if (!e->link) {
		r = -errno;
		snprintf(why, why_len, "attaching the BPF socket iterator: %s", strerror(-r));
		goto fail;
	}
	r = selftest(e);
	if (r == -EOPNOTSUPP) {
		snprintf(why, why_len,
			 "this kernel does not let BPF read SO_KEEPALIVE and TCP_USER_TIMEOUT "
			 "(bpf_getsockopt, Linux >= 6.1), so enforce could not tell what an "
			 "application already chose");
		goto fail;
	}
	if (r) {
		snprintf(why, why_len, "self-test of the BPF socket iterator: %s", strerror(-r));
		goto fail;
	}
	*out = e;
	return 0;
fail:
	enforce_free(e);
	return r < 0 ? r : -EINVAL;
}

/* Contract: ports[p] = the index of the first service (file order) of
 * direction dir that names port p, ENFORCE_NO_SERVICE when none. */
static int fill_ports(int map_fd, const struct config *cfg, enum direction dir)
{
	static uint32_t owner[65536];
	uint32_t keys[1024];

	for (size_t p = 0; p < 65536; p++)
		owner[p] = ENFORCE_NO_SERVICE;
	for (size_t i = cfg->n_services; i-- > 0;) {
		const struct service_config *s = &cfg->services[i];

		if (s->direction != dir)
			continue;
		for (size_t k = 0; k < s->n_ports; k++)
			for (uint32_t p = s->ports[k].lo; p <= s->ports[k].hi; p++)
				owner[p] = (uint32_t)i;
	}
	for (uint32_t base = 0; base < 65536; base += 1024) {
		uint32_t n = 1024;
		DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, o);

		for (uint32_t k = 0; k < 1024; k++)
			keys[k] = base + k;
		if (bpf_map_update_batch(map_fd, keys, owner + base, &n, &o) < 0) {
			/* Kernels without batch ops for arrays: one by one. */
			for (uint32_t k = 0; k < 1024; k++)
				if (bpf_map_update_elem(map_fd, &keys[k], &owner[base + k],
							BPF_ANY) < 0)
					return -errno;
		}
	}
	return 0;
}

int enforce_configure(struct enforce *e, const struct config *cfg, bool dry_run)
{
	int pfd, r;

	if (!e)
		return 0;
	r = state_configure(&e->st, cfg, dry_run);
	if (r)
		return r;
	pfd = bpf_map__fd(e->skel->maps.policy);
	for (uint32_t i = 0; i < ENFORCE_MAX_SERVICES; i++) {
		struct enforce_policy p = {0};

		if (i < cfg->n_services) {
			const struct service_config *s = &cfg->services[i];

			p.kind = service_enforces(s) ? ENFORCE_KIND_ENFORCE
				 : s->n_cidrs	     ? ENFORCE_KIND_AMBIGUOUS
						     : ENFORCE_KIND_NONE;
			p.keepalive = s->enforce.keepalive;
			p.idle_s = s->enforce.idle_s;
			p.interval_s = s->enforce.interval_s;
			p.count = s->enforce.count;
			p.user_timeout_ms = s->enforce.user_timeout_ms;
			p.dry_run = dry_run;
		}
		if (bpf_map_update_elem(pfd, &i, &p, BPF_ANY) < 0)
			return -errno;
	}
	r = fill_ports(bpf_map__fd(e->skel->maps.inbound), cfg, DIRECTION_INBOUND);
	if (r == 0)
		r = fill_ports(bpf_map__fd(e->skel->maps.outbound), cfg, DIRECTION_OUTBOUND);
	return r;
}

/* Contract: create an iterator from the link (it walks the calling
 * thread's namespace) and read it to the end, which runs the program on
 * every socket. 0 or -errno. */
static int run_pass(int link_fd)
{
	char sink[256];
	ssize_t n;
	int fd = bpf_iter_create(link_fd), r = 0;

	if (fd < 0)
		return -errno;
	/* The program writes nothing; reading runs it to the end. */
	while ((n = read(fd, sink, sizeof(sink))) > 0)
		;
	if (n < 0)
		r = -errno;
	close(fd);
	return r;
}

int enforce_pass(struct enforce *e)
{
	struct timespec a, b;
	double s;
	int r;

	if (!e)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = run_pass(bpf_link__fd(e->link));
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (s > e->slowest)
		e->slowest = s;
	e->st.passes++;
	return r;
}

void enforce_pass_failed(struct enforce *e)
{
	if (e)
		e->st.pass_errors++;
}

void enforce_end_collection(struct enforce *e)
{
	int fd;

	if (!e)
		return;
	fd = bpf_map__fd(e->skel->maps.stats);
	for (uint32_t i = 0; i < e->st.n && i < ENFORCE_MAX_SERVICES; i++) {
		struct enforce_service *s = &e->st.svc[i];
		struct enforce_stats v, zero = {0};
		struct enforce_counts c = {0};

		if (!s->enforces || bpf_map_lookup_elem(fd, &i, &v) < 0)
			continue;
		bpf_map_update_elem(fd, &i, &zero, BPF_ANY);
		c.matched = v.matched;
		c.set[0] = v.keepalive_set;
		c.set[1] = v.user_timeout_set;
		c.chosen[0] = v.keepalive_chosen;
		c.chosen[1] = v.user_timeout_chosen;
		c.reverted[0] = v.keepalive_reverted;
		c.reverted[1] = v.user_timeout_reverted;
		c.errors[0] = v.keepalive_errors;
		c.errors[1] = v.user_timeout_errors;
		s->last = c;
		counts_add(&s->total, &c);
	}
	e->st.last_pass_seconds = e->slowest;
	e->slowest = 0;
}

void enforce_free(struct enforce *e)
{
	if (!e)
		return;
	bpf_link__destroy(e->link);
	enforce_bpf__destroy(e->skel);
	services_free(e->st.svc, e->st.n);
	free(e);
}

#else /* !HALFOPEN_HAVE_BPF */

struct enforce {
	struct enforce_state st;
};

int enforce_open(struct enforce **out, char *why, size_t why_len)
{
	(void)out;
	snprintf(why, why_len,
		 "this halfopen_exporter was built without BPF support (meson -Dbpf=enabled, "
		 "needs clang, bpftool and libbpf-dev)");
	return -EOPNOTSUPP;
}

int enforce_configure(struct enforce *e, const struct config *cfg, bool dry_run)
{
	return e ? state_configure(&e->st, cfg, dry_run) : 0;
}

int enforce_pass(struct enforce *e)
{
	(void)e;
	return -EOPNOTSUPP;
}

void enforce_pass_failed(struct enforce *e)
{
	(void)e;
}

void enforce_end_collection(struct enforce *e)
{
	(void)e;
}

void enforce_free(struct enforce *e)
{
	if (!e)
		return;
	services_free(e->st.svc, e->st.n);
	free(e);
}

#endif

size_t enforce_service_count(const struct enforce *e)
{
	return e ? e->st.n : 0;
}

bool enforce_service_get(const struct enforce *e, size_t i, struct enforce_service_info *out)
{
	const struct enforce_service *s;

	if (!e || i >= e->st.n || !e->st.svc[i].enforces)
		return false;
	s = &e->st.svc[i];
	out->name = s->name;
	out->direction = s->direction;
	out->keepalive = s->keepalive;
	out->user_timeout = s->user_timeout;
	out->last = &s->last;
	out->total = &s->total;
	return true;
}

void enforce_pass_stats_get(const struct enforce *e, struct enforce_pass_stats *out)
{
	out->dry_run = e->st.dry_run;
	out->passes = e->st.passes;
	out->pass_errors = e->st.pass_errors;
	out->last_pass_seconds = e->st.last_pass_seconds;
}
