/* collector: one collection, streamed. Each socket goes from the receive
 * buffer to a stack sock_record, through service_match() and
 * classify_socket(), into its service's counters; nothing per socket is
 * kept, so memory does not grow with the number of sockets. */
#include "collector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/inet_diag.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/oa_index.h"
#include "sockdiag.h"
#include "sockdiag_filter.h"
#include "sock_ages.h"

/* NLM_F_DUMP_INTR restarts before a namespace is declared failed. */
#define COLLECT_MAX_ATTEMPTS 4
/* How long a port that stopped listening keeps its service (host
 * namespace). Long enough for an orphan to finish its retransmissions
 * (tcp_orphan_retries), short enough for labels not to linger. */
#define LISTEN_STICKY_S 600

struct collector {
	void *recv_buf;
	const struct config *cfg;
	struct collect_options opt;
	struct port_set listening;
	/* Host namespace: when each port was last seen listening (seconds on
	 * the monotonic clock, 0 = never), so that a server's sockets stay
	 * its service's for a while after the listener is gone: the seed's
	 * orphaned FIN-WAIT-1 socket outlives the killed server. */
	uint32_t *listen_seen;
	struct service_table *table;
	/* Since when each hanging socket has been seen hanging (by cookie);
	 * NULL when it could not be allocated (hanging ages then read 0). */
	struct sock_ages *ages;
	uint64_t now_ms;       /* monotonic, taken once per collection */
	uint32_t ns_conntrack_ms; /* this namespace's conntrack timeout; 0: unknown */
	uint32_t host_conntrack_ms; /* the host namespace's, as of this collection */
	uint16_t ephemeral_lo; /* net.ipv4.ip_local_port_range start (host) */
	/* Per namespace: the table's counts before they are merged, and
	 * where each table entry lands in the result. */
	struct service_counts *scratch;
	size_t *map;
	size_t cap_scratch;
	/* Sockets attributed one by one to a pod: counted by result entry,
	 * merged like scratch when the namespace succeeds. */
	struct service_counts *pod_scratch;
	size_t cap_pod_scratch;
	bool per_socket_pods;
	uint64_t ns_seen, ns_matched;
	uint64_t ns_enforce_fp;
	struct oa_index index; /* result entries by key */
	struct buf bytecode;
	bool filter_rejected; /* the kernel refused our bytecode once: stop sending it */
	struct port_range local[SOCKDIAG_FILTER_MAX_RANGES];
	struct port_range remote[SOCKDIAG_FILTER_MAX_RANGES];
};

int collector_new(struct collector **out)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	buf_init(&c->bytecode);
	c->recv_buf = malloc(SOCKDIAG_RECV_BUF);
	if (!c->recv_buf) {
		free(c);
		return -ENOMEM;
	}
	/* Without it hanging ages read 0: degraded, not fatal. */
	(void)sock_ages_new(&c->ages);
	*out = c;
	return 0;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	service_table_free(c->table);
	sock_ages_free(c->ages);
	buf_free(&c->bytecode);
	free(c->scratch);
	free(c->pod_scratch);
	free(c->listen_seen);
	free(c->map);
	oa_index_free(&c->index);
	free(c->recv_buf);
	free(c);
}

static uint32_t key_hash(const char *name, enum direction dir, const char *pod_ns, const char *pod)
{
	return fnv1a_u32(fnv1a_str(fnv1a_str(fnv1a_str(FNV1A_INIT, name), pod_ns), pod),
			 (uint32_t)dir);
}

static bool key_equal(const struct service_result *e, const char *name, enum direction dir,
		      const char *pod_ns, const char *pod)
{
	return e->direction == dir && strcmp(e->name, name) == 0 &&
	       strcmp(e->pod_namespace, pod_ns) == 0 && strcmp(e->pod, pod) == 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t min_nonzero_u32(uint32_t a, uint32_t b)
{
	if (!a || !b)
		return a ? a : b;
	return a < b ? a : b;
}

int conntrack_timeout_read(uint32_t *ms)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established", "re");
	unsigned long s = 0;
	int n;

	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	n = fscanf(f, "%lu", &s);
	fclose(f);
	if (n != 1 || s == 0 || s > UINT32_MAX / 1000u)
		return -EINVAL;
	*ms = (uint32_t)s * 1000u;
	return 0;
}

/* The first port the kernel picks for outgoing connections
 * (net.ipv4.ip_local_port_range, the host's); 32768, the kernel's
 * default, when it cannot be read. */
static uint16_t ephemeral_port_start(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	unsigned lo = 0, hi = 0;
	int n;

	if (!f)
		return 32768;
	n = fscanf(f, "%u %u", &lo, &hi);
	fclose(f);
	if (n != 2 || lo == 0 || lo > 65535)
		return 32768;
	return (uint16_t)lo;
}

static size_t max_series(const struct collector *c)
{
	return c->opt.max_series ? c->opt.max_series : COLLECT_DEFAULT_MAX_SERIES;
}

/* The result entry for the key, created (zeroed) when new. -E2BIG when
 * the series cap is reached, -ENOMEM. */
static int entry_for(struct collector *c, struct collection_result *res, uint32_t id,
		     const char *name, enum direction dir, const char *pod_ns, const char *pod,
		     size_t *idx)
{
	uint32_t h = key_hash(name, dir, pod_ns, pod);
	struct service_result *e;
	size_t slot, i;

	for (i = oa_index_first(&c->index, h, &slot); i != OA_NONE;
	     i = oa_index_next(&c->index, &slot)) {
		if (key_equal(&res->services[i], name, dir, pod_ns, pod)) {
			*idx = i;
			return 0;
		}
	}
	if (res->n_services >= max_series(c))
		return -E2BIG;
	if (res->n_services == res->cap_services) {
		size_t cap = res->cap_services ? res->cap_services * 2 : 64;
		struct service_result *p = realloc(res->services, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		res->services = p;
		res->cap_services = cap;
	}
	e = &res->services[res->n_services];
	memset(e, 0, sizeof(*e));
	e->service_id = id;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->direction = dir;
	snprintf(e->pod_namespace, sizeof(e->pod_namespace), "%s", pod_ns);
	snprintf(e->pod, sizeof(e->pod), "%s", pod);
	oa_index_put(&c->index, h, res->n_services);
	*idx = res->n_services++;
	return 0;
}

int collector_begin(struct collector *c, const struct config *cfg,
		    const struct collect_options *opt, struct collection_result *res)
{
	static const struct collect_options defaults;
	int r;

	c->cfg = cfg;
	c->opt = opt ? *opt : defaults;
	c->now_ms = mono_ms();
	c->ephemeral_lo = ephemeral_port_start();
	if (c->ages)
		sock_ages_next(c->ages);
	/* Sized for the series cap: never grows during the collection. */
	r = oa_index_reset(&c->index, max_series(c));
	if (r < 0)
		return r;

	res->n_services = 0;
	res->pod_labels = c->opt.pod_labels;
	res->sockets_seen = res->sockets_matched = res->listening_sockets = 0;
	res->auto_services_dropped = 0;
	res->series_dropped = 0;
	res->dump_retries = 0;
	res->namespaces = res->namespace_errors = 0;
	res->kernel_filter = false;
	res->enforce_fingerprint = 0;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct service_config *sc = &cfg->services[i];
		size_t idx;

		r = entry_for(c, res, (uint32_t)i, sc->name, sc->direction, "", "", &idx);
		if (r < 0)
			return r == -E2BIG ? -ENOMEM : r;
	}
	return 0;
}

struct count_ctx {
	struct collector *c;
	struct collection_result *res;
	uint32_t ns_index;
};

static int on_listening(const struct sock_record *rec, void *ctx)
{
	struct collector *c = ctx;

	port_set_add(&c->listening, rec->sport);
	return 0;
}

/* The result entry of a socket of a hostNetwork pod, by its cgroup;
 * false when the socket is not a known pod's or the series cap is hit. */
static bool socket_pod_entry(struct collector *c, struct collection_result *res,
			     const struct sock_record *rec, const struct service_entry *e,
			     size_t *idx)
{
	struct pod_ref pod = {0};

	if (!rec->cgroup_id || !c->opt.pod_of_cgroup(c->opt.pod_ctx, rec->cgroup_id, &pod) ||
	    !pod.pod || !pod.pod[0])
		return false;
	switch (entry_for(c, res, e->id, e->name, e->direction,
			  pod.pod_namespace ? pod.pod_namespace : "", pod.pod, idx)) {
	case 0:
		break;
	case -E2BIG:
		res->series_dropped++;
		return false;
	default:
		return false;
	}
	if (*idx >= c->cap_pod_scratch) {
		size_t cap = res->cap_services;
		struct service_counts *p = realloc(c->pod_scratch, cap * sizeof(*p));

		if (!p)
			return false;
		memset(p + c->cap_pod_scratch, 0, (cap - c->cap_pod_scratch) * sizeof(*p));
		c->pod_scratch = p;
		c->cap_pod_scratch = cap;
	}
	return true;
}

static int on_connected(const struct sock_record *rec, void *ctx)
{
	struct count_ctx *cc = ctx;
	struct collector *c = cc->c;
	struct classification cls;
	const struct service_entry *e;
	size_t target;
	int idx;

	c->ns_seen++;
	idx = service_match(c->table, rec);
	if (idx < 0)
		return 0;
	e = service_table_entry(c->table, (size_t)idx);
	if (rec->state == TCPS_ESTABLISHED && e->cfg && service_enforces(e->cfg))
		c->ns_enforce_fp += hash_mix64(rec->cookie); /* a set's sum: see counts.h */
	classify_socket(rec, e->stale_after_ms, &cls);
	classify_set_path(&cls, e->path_idle_ms == PATH_IDLE_CONNTRACK ? c->ns_conntrack_ms
								       : e->path_idle_ms);
	if (c->opt.extra_classes)
		cls.flags |= c->opt.extra_classes(c->opt.extra_ctx, rec);
	if ((cls.flags & SC_HANGING) && c->ages) {
		uint64_t since = sock_ages_since(c->ages, rec->cookie, c->now_ms);
		uint64_t seen = c->now_ms - since;

		classify_set_hanging(&cls, seen > UINT32_MAX ? UINT32_MAX : (uint32_t)seen);
	}
	target = c->map[idx];
	if (c->per_socket_pods && socket_pod_entry(c, cc->res, rec, e, &target))
		service_counts_add(&c->pod_scratch[target], &cls);
	else
		service_counts_add(&c->scratch[idx], &cls);
	c->ns_matched++;
	if (c->opt.hooks && c->opt.hooks->on_socket && target != SIZE_MAX)
		c->opt.hooks->on_socket(c->opt.hooks->ctx, rec, &cls, &cc->res->services[target],
					cc->ns_index);
	return 0;
}

static const uint8_t families[] = {AF_INET, AF_INET6};

static int dump_listeners(struct collector *c, struct nl_sock *sk, uint64_t *count)
{
	struct sockdiag_stats st = {0};

	memset(&c->listening, 0, sizeof(c->listening));
	for (size_t i = 0; i < sizeof(families); i++) {
		struct sockdiag_request req = {
		    .family = families[i],
		    .states = SOCKDIAG_STATE(TCPS_LISTEN),
		};
		int r =
		    sockdiag_dump(sk, &req, c->recv_buf, SOCKDIAG_RECV_BUF, on_listening, c, &st);
		if (r < 0)
			return r;
	}
	*count = st.sockets;
	return 0;
}

static uint32_t mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec + 1; /* never 0: 0 means "never seen" */
}

/* Remember the listeners just dumped, and add back those seen within
 * LISTEN_STICKY_S. Without it an auto service vanishes with its listener,
 * and with it the series that would show its orphaned sockets. */
static int sticky_listeners(struct collector *c)
{
	uint32_t now = mono_seconds();

	if (!c->listen_seen) {
		c->listen_seen = calloc(65536, sizeof(*c->listen_seen));
		if (!c->listen_seen)
			return -ENOMEM;
	}
	for (uint32_t port = 1; port <= 65535; port++) {
		if (port_set_has(&c->listening, (uint16_t)port))
			c->listen_seen[port] = now;
		else if (c->listen_seen[port] && now - c->listen_seen[port] <= LISTEN_STICKY_S)
			port_set_add(&c->listening, (uint16_t)port);
	}
	return 0;
}

/* Compile the ports the table can claim into c->bytecode. False when
 * every socket may match (unmatched is counted), when there are too many
 * ranges to be worth it, or when the kernel refused a filter before. */
static bool build_filter(struct collector *c)
{
	size_t nl = 0, nr = 0;

	buf_reset(&c->bytecode);
	if (c->filter_rejected)
		return false;
	if (service_table_port_ranges(c->table, c->local, &nl, c->remote, &nr,
				      SOCKDIAG_FILTER_MAX_RANGES) < 0)
		return false;
	if (nl + nr == 0)
		return false;
	return sockdiag_filter_build(c->local, nl, c->remote, nr, &c->bytecode) == 0;
}

/* Map every table entry to its result entry (creating the zeroed ones);
 * over the series cap a pod's series folds into the pod-less one. */
static int map_table(struct collector *c, const struct pod_ref *pod, struct collection_result *res)
{
	size_t n = service_table_size(c->table);
	const char *pod_ns = "", *pod_name = "";

	if (c->opt.pod_labels && pod && pod->pod && pod->pod[0]) {
		pod_ns = pod->pod_namespace ? pod->pod_namespace : "";
		pod_name = pod->pod;
	}
	if (n > c->cap_scratch) {
		struct service_counts *s = realloc(c->scratch, n * sizeof(*s));
		size_t *m;

		if (!s)
			return -ENOMEM;
		c->scratch = s;
		m = realloc(c->map, n * sizeof(*m));
		if (!m)
			return -ENOMEM;
		c->map = m;
		c->cap_scratch = n;
	}
	for (size_t i = 0; i < n; i++) {
		const struct service_entry *e = service_table_entry(c->table, i);
		int r =
		    entry_for(c, res, e->id, e->name, e->direction, pod_ns, pod_name, &c->map[i]);

		if (r == -E2BIG && pod_name[0]) {
			res->series_dropped++;
			r = entry_for(c, res, e->id, e->name, e->direction, "", "", &c->map[i]);
		}
		if (r == -E2BIG) {
			/* Even the pod-less series is over the cap: the sockets
			 * of this entry are dropped (and said so). */
			res->series_dropped++;
			c->map[i] = SIZE_MAX;
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int collect_ns_once(struct collector *c, struct nl_sock *sk, uint32_t ns_index,
			   const struct pod_ref *pod, struct collection_result *res,
			   uint64_t *n_listening, uint32_t *dropped)
{
	bool listeners = service_table_needs_listeners(c->cfg);
	struct count_ctx cc = {.c = c, .res = res, .ns_index = ns_index};
	bool use_filter;
	int r;

	*n_listening = 0;
	if (listeners) {
		r = dump_listeners(c, sk, n_listening);
		if (r < 0)
			return r;
		if (ns_index == 0) {
			r = sticky_listeners(c);
			if (r < 0)
				return r;
		}
	}
	service_table_free(c->table);
	c->table = NULL;
	r = service_table_build(c->cfg, listeners ? &c->listening : NULL, &c->table, dropped);
	if (r < 0)
		return r;
	service_table_set_ephemeral_start(c->table, c->ephemeral_lo);
	r = map_table(c, pod, res);
	if (r < 0)
		return r;
	memset(c->scratch, 0, service_table_size(c->table) * sizeof(*c->scratch));
	if (c->pod_scratch)
		memset(c->pod_scratch, 0, c->cap_pod_scratch * sizeof(*c->pod_scratch));
	c->per_socket_pods = c->opt.pod_labels && c->opt.pod_of_cgroup && !pod;
	c->ns_seen = c->ns_matched = 0;
	c->ns_enforce_fp = 0;

	use_filter = build_filter(c);
	for (size_t i = 0; i < sizeof(families); i++) {
		struct sockdiag_request req = {
		    .family = families[i],
		    .states = SOCKDIAG_STATES_CONNECTED,
		    .ext = 1u << (INET_DIAG_INFO - 1),
		    .bytecode = use_filter ? c->bytecode.data : NULL,
		    .bytecode_len = use_filter ? c->bytecode.len : 0,
		};
		r = sockdiag_dump(sk, &req, c->recv_buf, SOCKDIAG_RECV_BUF, on_connected, &cc,
				  NULL);
		if (r == -EINVAL && use_filter) {
			/* A kernel that refuses the bytecode: from now on dump
			 * everything and let service_match drop the rest. */
			c->filter_rejected = true;
			return -EAGAIN;
		}
		if (r < 0)
			return r;
	}
	if (use_filter)
		res->kernel_filter = true;
	return 0;
}

int collector_collect_ns(struct collector *c, struct nl_sock *sk, uint32_t ns_index,
			 const struct pod_ref *pod, struct collection_result *res)
{
	uint64_t n_listening = 0;
	uint32_t dropped = 0;
	int r = -EAGAIN;

	c->ns_conntrack_ms = 0;
	if (c->opt.conntrack_timeout && service_table_needs_conntrack_timeout(c->cfg)) {
		uint32_t ms = 0;

		r = c->opt.conntrack_timeout(c->opt.conntrack_ctx, ns_index, &ms);
		if (r == -ENOTRECOVERABLE) { /* stuck in another namespace */
			res->namespace_errors++;
			return r;
		}
		if (r < 0)
			ms = 0;
		/* A pod's packets cross its own table (when loaded) and the
		 * host's, where its SNAT lives: the shorter one forgets first.
		 * The host (index 0) is collected first. */
		if (ns_index == 0)
			c->host_conntrack_ms = ms;
		c->ns_conntrack_ms = min_nonzero_u32(ms, c->host_conntrack_ms);
		r = -EAGAIN;
	}

	for (int attempt = 0; attempt < COLLECT_MAX_ATTEMPTS; attempt++) {
		r = collect_ns_once(c, sk, ns_index, pod, res, &n_listening, &dropped);
		if (r != -EAGAIN)
			break;
		res->dump_retries++;
	}
	if (r < 0) {
		res->namespace_errors++;
		return r;
	}
	for (size_t i = 0; i < service_table_size(c->table); i++)
		if (c->map[i] != SIZE_MAX)
			service_counts_merge(&res->services[c->map[i]].counts, &c->scratch[i]);
	if (c->per_socket_pods)
		for (size_t i = 0; i < c->cap_pod_scratch && i < res->n_services; i++)
			service_counts_merge(&res->services[i].counts, &c->pod_scratch[i]);
	res->namespaces++;
	res->sockets_seen += c->ns_seen;
	res->sockets_matched += c->ns_matched;
	res->enforce_fingerprint += c->ns_enforce_fp;
	res->listening_sockets += n_listening;
	res->auto_services_dropped += dropped;
	return 0;
}

int collector_collect(struct collector *c, const struct config *cfg, struct nl_sock *sk,
		      struct collection_result *res)
{
	int r = collector_begin(c, cfg, NULL, res);

	if (r < 0)
		return r;
	return collector_collect_ns(c, sk, 0, NULL, res);
}
