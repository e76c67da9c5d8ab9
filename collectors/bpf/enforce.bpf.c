// SPDX-License-Identifier: GPL-2.0
/* enforce.bpf: gives keepalive and a user timeout to the ESTABLISHED
 * sockets of services that ask for it (docs/remediation.md), at two
 * moments:
 *   enforce_*		a TCP socket iterator: a pass over the sockets of
 *			one network namespace (its fd's), for the sockets
 *			that existed before, or that the other moment
 *			missed; and to see what applications did since.
 *   enforce_connect_*	a cgroup sock_ops program: each connection of the
 *			cgroup's processes as it becomes ESTABLISHED, so
 *			a new connection needs no pass.
 *
 * The service of a socket is chosen by service_rule.h, the rule
 * userspace's collectors/service_table.c compiles too: the loader copies
 * service_table's owner tables into inbound[port] and outbound[port]
 * (the first service in file order naming the port, per direction) and
 * fills policy[index] with what to do.
 *
 * What an application already chose is read, and kept. Each moment reads
 * it two ways; the loader (collectors/enforce.c) loads one of each,
 * chosen by --enforce.read-path and by what the kernel accepts:
 *   *_fields      CO-RE reads of the socket's fields (sk_flags'
 *                 SOCK_KEEPOPEN, tcp_sock's keepalive_time/_intvl/
 *                 _probes, icsk_user_timeout). Every kernel with
 *                 iter/tcp + bpf_setsockopt (>= 5.15). Tells a value the
 *                 application set from the sysctl default (field 0).
 *   *_getsockopt  bpf_getsockopt(), which answers SO_KEEPALIVE and
 *                 TCP_USER_TIMEOUT only since 6.1, and cannot tell an
 *                 explicit keepalive idle from the default: SO_KEEPALIVE
 *                 on is kept as it is.
 * Both write with bpf_setsockopt(). No sockhash anywhere: iter/tcp with a
 * sockhash stalls RCU before 6.4. */
#include "enforce_core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "enforce_abi.h"
#include "service_rule.h"

/* From the UAPI headers, which do not mix with the kernel's types. */
#define SOL_SOCKET	      1
#define SO_KEEPALIVE	      9
#define SOL_TCP		      6
#define TCP_KEEPIDLE	      4
#define TCP_KEEPINTVL	      5
#define TCP_KEEPCNT	      6
#define TCP_USER_TIMEOUT      18
#define TCP_ESTABLISHED_STATE 1

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} inbound SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} outbound SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ENFORCE_SLOTS);
	__type(key, __u32);
	__type(value, struct enforce_policy);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ENFORCE_SLOTS);
	__type(key, __u32);
	__type(value, struct enforce_stats);
} stats SEC(".maps");

/* The connection-time program's counters: per CPU (it runs on every
 * CPU at once), never zeroed; the loader folds their growth. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENFORCE_SLOTS);
	__type(key, __u32);
	__type(value, struct enforce_stats);
} connect_stats SEC(".maps");

/* connect_scope[0]: the inode of the one network namespace the
 * connection-time program acts in (the exporter's own, when it covers
 * only that one); 0: every namespace. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} connect_scope SEC(".maps");

/* What was done to each socket (ENFORCE_DONE_*), in the socket's own
 * storage rather than an LRU hash of socket cookies: freed with the
 * socket, never forgotten while it lives however many sockets there are
 * (an evicted cookie made a socket enforce had set look like its
 * application's own choice), and nothing stored for a socket nothing was
 * done to. Not faster: tests/enforce/bench.py measured the same program
 * time per socket either way (256 vs 258 ns).
 * bpf_sk_storage_get() is allowed in iter/tcp since Linux 5.11
 * (BPF_TRACE_ITER). Not a sockhash: no socket reference is held. */
struct done {
	__u32 flags; /* ENFORCE_DONE_*, ENFORCE_REVERTED_* */
	/* The keepalive_time (jiffies) our keepalive left (fields path): a
	 * different one later is an idle the application set after ours. */
	__u32 idle;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct done);
} done_flags SEC(".maps");

static __u32 port_owner(void *map, __u32 port)
{
	__u32 *v = bpf_map_lookup_elem(map, &port);

	return v ? *v : ENFORCE_NO_SERVICE;
}

/* Counters: the iterator's are its pass's alone; the connection-time
 * program's per-CPU slot may be entered again by a softirq on the same
 * CPU, so it adds atomically. */
static __always_inline void bump(__u64 *c, const bool atomic)
{
	if (atomic)
		__sync_fetch_and_add(c, 1);
	else
		(*c)++;
}

/* What the socket's application chose, as far as the read path can
 * tell. A zero field is "never set": the sysctl default applies. */
struct chosen {
	int keepalive_on;
	__u32 idle, interval, count; /* fields path only; the getsockopt path: 0 */
	__u32 user_timeout_ms;
};

static __always_inline int read_fields(struct tcp_sock *tp, struct chosen *c)
{
	unsigned long flags = tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags;

	c->keepalive_on = (flags >> bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)) & 1;
	c->idle = tp->keepalive_time;
	c->interval = tp->keepalive_intvl;
	c->count = tp->keepalive_probes;
	c->user_timeout_ms = tp->inet_conn.icsk_user_timeout;
	return 0;
}

/* ctx: what bpf_{get,set}sockopt() take in the program type: the socket
 * in iter/tcp, the context in sock_ops. */
static __always_inline int read_getsockopt(void *ctx, const struct enforce_policy *p,
					   struct chosen *c)
{
	int v = 0;

	if (p->keepalive) {
		if (bpf_getsockopt(ctx, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)))
			return -1;
		c->keepalive_on = v;
		/* Cannot tell an explicit idle from the default: an "on"
		 * keepalive counts as the application's own. */
		c->idle = c->keepalive_on;
	}
	if (p->user_timeout_ms) {
		v = 0;
		if (bpf_getsockopt(ctx, SOL_TCP, TCP_USER_TIMEOUT, &v, sizeof(v)))
			return -2;
		c->user_timeout_ms = (__u32)v;
	}
	return 0;
}

static __always_inline int set_int(void *ctx, int level, int opt, __u32 val)
{
	int v = (int)val;

	return bpf_setsockopt(ctx, level, opt, &v, sizeof(v));
}

/* Keepalive for one socket. The application's own choice is keepalive on
 * with an idle time it set (keepalive_time != 0): kept whole. Keepalive
 * on at the sysctl's idle (PostgreSQL's backends, many clients), or off,
 * gets it, with the service's idle, interval and count where the
 * application set none: a value it set is never overwritten.
 * done: the socket's flags, updated. */
static __always_inline void do_keepalive(void *ctx, struct tcp_sock *tp,
					 const struct enforce_policy *p, const struct chosen *c,
					 struct enforce_stats *st, struct done *d,
					 const bool fields, const bool atomic)
{
	__u32 *done = &d->flags;

	if (*done & ENFORCE_DONE_KEEPALIVE) {
		if (!c->keepalive_on && !(*done & ENFORCE_REVERTED_KEEPALIVE)) {
			bump(&st->keepalive_reverted, atomic);
			*done |= ENFORCE_REVERTED_KEEPALIVE;
		} else if (fields && c->keepalive_on && c->idle != d->idle) {
			/* Set at connect, then the application set its own
			 * idle (many do right after connect() or accept()). */
			bump(&st->keepalive_chosen, atomic);
		}
		return;
	}
	if (c->keepalive_on && c->idle) {
		bump(&st->keepalive_chosen, atomic);
		return;
	}
	if (*done & ENFORCE_DONE_DRY)
		return;
	if (p->dry_run) {
		bump(&st->keepalive_set, atomic);
		return;
	}
	/* Timers first: SO_KEEPALIVE arms the timer with the idle time in
	 * force at that moment (and TCP_KEEPIDLE re-arms an armed one). */
	if (!c->idle && set_int(ctx, SOL_TCP, TCP_KEEPIDLE, p->idle_s))
		goto fail;
	if (!c->interval && set_int(ctx, SOL_TCP, TCP_KEEPINTVL, p->interval_s))
		goto fail;
	if (!c->count && set_int(ctx, SOL_TCP, TCP_KEEPCNT, p->count))
		goto fail;
	if (!c->keepalive_on && set_int(ctx, SOL_SOCKET, SO_KEEPALIVE, 1))
		goto fail;
	bump(&st->keepalive_set, atomic);
	*done |= ENFORCE_DONE_KEEPALIVE;
	if (fields)
		d->idle = tp->keepalive_time;
	return;
fail:
	bump(&st->keepalive_errors, atomic);
}

static __always_inline void do_user_timeout(void *ctx, const struct enforce_policy *p,
					    const struct chosen *c, struct enforce_stats *st,
					    __u32 *done, const bool atomic)
{
	if (*done & ENFORCE_DONE_USER_TIMEOUT) {
		if (!c->user_timeout_ms && !(*done & ENFORCE_REVERTED_USER_TIMEOUT)) {
			bump(&st->user_timeout_reverted, atomic);
			*done |= ENFORCE_REVERTED_USER_TIMEOUT;
		}
		return;
	}
	if (c->user_timeout_ms) {
		bump(&st->user_timeout_chosen, atomic);
		return;
	}
	if (*done & ENFORCE_DONE_DRY)
		return;
	if (p->dry_run) {
		bump(&st->user_timeout_set, atomic);
		return;
	}
	if (set_int(ctx, SOL_TCP, TCP_USER_TIMEOUT, p->user_timeout_ms)) {
		bump(&st->user_timeout_errors, atomic);
		return;
	}
	bump(&st->user_timeout_set, atomic);
	*done |= ENFORCE_DONE_USER_TIMEOUT;
}

/* The policy of the socket's service when that service enforces (its
 * slot in *idx), else NULL. */
static __always_inline struct enforce_policy *socket_policy(const struct sock_common *skc,
							    __u32 *idx)
{
	struct enforce_policy *p;
	__u32 a, b;

	a = port_owner(&inbound, skc->skc_num);		      /* the local port */
	b = port_owner(&outbound, bpf_ntohs(skc->skc_dport)); /* the remote port */
	*idx = service_rule_pick(a, b);
	if (*idx >= ENFORCE_SLOTS)
		return NULL;
	p = bpf_map_lookup_elem(&policy, idx);
	return p && p->kind == ENFORCE_KIND_ENFORCE ? p : NULL;
}

/* One ESTABLISHED socket of a service with policy p. ctx:
 * bpf_{get,set}sockopt()'s (see read_getsockopt); fields: which read
 * path; st: the counters (atomic: bumped by several CPUs at once).
 * Constants in each program. */
static __always_inline void enforce_socket(void *ctx, struct tcp_sock *tp,
					   const struct enforce_policy *p, struct enforce_stats *st,
					   const bool fields, const bool atomic)
{
	struct chosen c = {0};
	struct done d = {0}, *old;
	int r;

	bump(&st->matched, atomic);
	r = fields ? read_fields(tp, &c) : read_getsockopt(ctx, p, &c);
	if (r) {
		if (r == -1)
			bump(&st->keepalive_errors, atomic);
		else
			bump(&st->user_timeout_errors, atomic);
		return;
	}
	old = bpf_sk_storage_get(&done_flags, tp, 0, 0);
	if (old)
		d = *old;
	if (p->keepalive)
		do_keepalive(ctx, tp, p, &c, st, &d, fields, atomic);
	if (p->user_timeout_ms)
		do_user_timeout(ctx, p, &c, st, &d.flags, atomic);
	if (p->dry_run)
		d.flags |= ENFORCE_DONE_DRY;
	/* A socket's storage has one writer at a time: the iterator and the
	 * connection-time program both hold the socket's lock. A socket
	 * nothing was done to (its own choice kept) gets none. */
	if (old)
		*old = d;
	else if (d.flags)
		bpf_sk_storage_get(&done_flags, tp, &d, BPF_SK_STORAGE_GET_F_CREATE);
}

/* One socket of an iterator's pass; fields: which read path. */
static __always_inline int visit(struct bpf_iter__tcp *ctx, const bool fields)
{
	struct sock_common *skc = ctx->sk_common;
	struct enforce_policy *p;
	struct enforce_stats *st;
	struct tcp_sock *tp;
	__u32 idx;

	/* The cheap tests first: most sockets of a busy host are no enforcing
	 * service's. */
	if (!skc || skc->skc_state != TCP_ESTABLISHED_STATE)
		return 0;
	p = socket_policy(skc, &idx);
	if (!p)
		return 0;
	st = bpf_map_lookup_elem(&stats, &idx);
	tp = bpf_skc_to_tcp_sock(skc);
	if (st && tp)
		enforce_socket(tp, tp, p, st, fields, false);
	return 0;
}

SEC("iter/tcp")
int enforce_fields(struct bpf_iter__tcp *ctx)
{
	return visit(ctx, true);
}

SEC("iter/tcp")
int enforce_getsockopt(struct bpf_iter__tcp *ctx)
{
	return visit(ctx, false);
}

/* A connection of the cgroup becoming ESTABLISHED (connect() done, or
 * the handshake of one to accept() done), under its socket's lock, before
 * its application can use it: the options an application set before
 * (a client's, or the listener's its accepted sockets inherit) are read
 * and kept as a pass would; what it sets after overrides ours, as any
 * choice of its own does. Returns 1: sock_ops' "carry on". */
static __always_inline int on_established(struct bpf_sock_ops *skops, const bool fields)
{
	struct enforce_policy *p;
	struct enforce_stats *st;
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	__u32 zero = 0, *scope, idx;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 1;
	scope = bpf_map_lookup_elem(&connect_scope, &zero);
	if (!scope ||
	    (*scope && tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->ns.inum != *scope))
		return 1;
	p = socket_policy(&tp->inet_conn.icsk_inet.sk.__sk_common, &idx);
	if (!p)
		return 1;
	st = bpf_map_lookup_elem(&connect_stats, &idx);
	if (st)
		enforce_socket(skops, tp, p, st, fields, true);
	return 1;
}

SEC("sockops")
int enforce_connect_fields(struct bpf_sock_ops *skops)
{
	return on_established(skops, true);
}

SEC("sockops")
int enforce_connect_getsockopt(struct bpf_sock_ops *skops)
{
	return on_established(skops, false);
}
