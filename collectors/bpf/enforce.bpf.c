// SPDX-License-Identifier: GPL-2.0
/* enforce.bpf: a TCP socket iterator that gives keepalive and a user
 * timeout to the ESTABLISHED sockets of services that ask for it
 * (docs/remediation.md). One pass per network namespace: an iterator
 * walks the namespace its fd was created in.
 *
 * The service of a socket is chosen by service_rule.h, the rule
 * userspace's collectors/service_table.c compiles too: the loader copies
 * service_table's owner tables into inbound[port] and outbound[port]
 * (the first service in file order naming the port, per direction) and
 * fills policy[index] with what to do.
 *
 * What an application already chose is read, and kept. Two programs read
 * it two ways; the loader (collectors/enforce.c) loads one, chosen by
 * --enforce.read-path and by what the kernel accepts:
 *   enforce_fields      CO-RE reads of the socket's fields (sk_flags'
 *                       SOCK_KEEPOPEN, tcp_sock's keepalive_time/_intvl/
 *                       _probes, icsk_user_timeout). Every kernel with
 *                       iter/tcp + bpf_setsockopt (>= 5.15). Tells a
 *                       value the application set from the sysctl
 *                       default (field 0).
 *   enforce_getsockopt  bpf_getsockopt(), which answers SO_KEEPALIVE and
 *                       TCP_USER_TIMEOUT from iter/tcp only since 6.1,
 *                       and cannot tell an explicit keepalive idle from
 *                       the default: SO_KEEPALIVE on is kept as it is.
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

/* What was done to each socket (ENFORCE_DONE_*), in the socket's own
 * storage rather than an LRU hash of socket cookies: freed with the
 * socket, never forgotten while it lives however many sockets there are
 * (an evicted cookie made a socket enforce had set look like its
 * application's own choice), and nothing stored for a socket nothing was
 * done to. Not faster: tests/enforce/bench.py measured the same program
 * time per socket either way (256 vs 258 ns).
 * bpf_sk_storage_get() is allowed in iter/tcp since Linux 5.11
 * (BPF_TRACE_ITER). Not a sockhash: no socket reference is held. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} done_flags SEC(".maps");

static __u32 port_owner(void *map, __u32 port)
{
	__u32 *v = bpf_map_lookup_elem(map, &port);

	return v ? *v : ENFORCE_NO_SERVICE;
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

static __always_inline int read_getsockopt(struct tcp_sock *tp, const struct enforce_policy *p,
					   struct chosen *c)
{
	int v = 0;

	if (p->keepalive) {
		if (bpf_getsockopt(tp, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)))
			return -1;
		c->keepalive_on = v;
		/* Cannot tell an explicit idle from the default: an "on"
		 * keepalive counts as the application's own. */
		c->idle = c->keepalive_on;
	}
	if (p->user_timeout_ms) {
		v = 0;
		if (bpf_getsockopt(tp, SOL_TCP, TCP_USER_TIMEOUT, &v, sizeof(v)))
			return -2;
		c->user_timeout_ms = (__u32)v;
	}
	return 0;
}

static __always_inline int set_int(struct tcp_sock *tp, int level, int opt, __u32 val)
{
	int v = (int)val;

	return bpf_setsockopt(tp, level, opt, &v, sizeof(v));
}

/* Keepalive for one socket. The application's own choice is keepalive on
 * with an idle time it set (keepalive_time != 0): kept whole. Keepalive
 * on at the sysctl's idle (PostgreSQL's backends, many clients), or off,
 * gets it, with the service's idle, interval and count where the
 * application set none: a value it set is never overwritten.
 * done: the socket's flags, updated. */
static __always_inline void do_keepalive(struct tcp_sock *tp, const struct enforce_policy *p,
					 const struct chosen *c, struct enforce_stats *st,
					 __u32 *done)
{
	if (*done & ENFORCE_DONE_KEEPALIVE) {
		if (!c->keepalive_on && !(*done & ENFORCE_REVERTED_KEEPALIVE)) {
			st->keepalive_reverted++;
			*done |= ENFORCE_REVERTED_KEEPALIVE;
		}
		return;
	}
	if (c->keepalive_on && c->idle) {
		st->keepalive_chosen++;
		return;
	}
	if (*done & ENFORCE_DONE_DRY)
		return;
	if (p->dry_run) {
		st->keepalive_set++;
		return;
	}
	/* Timers first: SO_KEEPALIVE arms the timer with the idle time in
	 * force at that moment (and TCP_KEEPIDLE re-arms an armed one). */
	if (!c->idle && set_int(tp, SOL_TCP, TCP_KEEPIDLE, p->idle_s))
		goto fail;
	if (!c->interval && set_int(tp, SOL_TCP, TCP_KEEPINTVL, p->interval_s))
		goto fail;
	if (!c->count && set_int(tp, SOL_TCP, TCP_KEEPCNT, p->count))
		goto fail;
	if (!c->keepalive_on && set_int(tp, SOL_SOCKET, SO_KEEPALIVE, 1))
		goto fail;
	st->keepalive_set++;
	*done |= ENFORCE_DONE_KEEPALIVE;
	return;
fail:
	st->keepalive_errors++;
}

static __always_inline void do_user_timeout(struct tcp_sock *tp, const struct enforce_policy *p,
					    const struct chosen *c, struct enforce_stats *st,
					    __u32 *done)
{
	if (*done & ENFORCE_DONE_USER_TIMEOUT) {
		if (!c->user_timeout_ms && !(*done & ENFORCE_REVERTED_USER_TIMEOUT)) {
			st->user_timeout_reverted++;
			*done |= ENFORCE_REVERTED_USER_TIMEOUT;
		}
		return;
	}
	if (c->user_timeout_ms) {
		st->user_timeout_chosen++;
		return;
	}
	if (*done & ENFORCE_DONE_DRY)
		return;
	if (p->dry_run) {
		st->user_timeout_set++;
		return;
	}
	if (set_int(tp, SOL_TCP, TCP_USER_TIMEOUT, p->user_timeout_ms)) {
		st->user_timeout_errors++;
		return;
	}
	st->user_timeout_set++;
	*done |= ENFORCE_DONE_USER_TIMEOUT;
}

/* One socket; fields: which read path (a constant in each program). */
static __always_inline int visit(struct bpf_iter__tcp *ctx, const bool fields)
{
	struct sock_common *skc = ctx->sk_common;
	struct chosen c = {0};
	struct enforce_policy *p;
	struct enforce_stats *st;
	struct tcp_sock *tp;
	__u32 a, b, idx, done = 0, *old;
	int r;

	/* The cheap tests first: most sockets of a busy host are no enforcing
	 * service's. */
	if (!skc || skc->skc_state != TCP_ESTABLISHED_STATE)
		return 0;
	a = port_owner(&inbound, skc->skc_num);		      /* the local port */
	b = port_owner(&outbound, bpf_ntohs(skc->skc_dport)); /* the remote port */
	idx = service_rule_pick(a, b);
	if (idx >= ENFORCE_SLOTS)
		return 0;
	p = bpf_map_lookup_elem(&policy, &idx);
	st = bpf_map_lookup_elem(&stats, &idx);
	if (!p || !st || p->kind != ENFORCE_KIND_ENFORCE)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	st->matched++;
	r = fields ? read_fields(tp, &c) : read_getsockopt(tp, p, &c);
	if (r) {
		if (r == -1)
			st->keepalive_errors++;
		else
			st->user_timeout_errors++;
		return 0;
	}
	old = bpf_sk_storage_get(&done_flags, tp, 0, 0);
	if (old)
		done = *old;
	if (p->keepalive)
		do_keepalive(tp, p, &c, st, &done);
	if (p->user_timeout_ms)
		do_user_timeout(tp, p, &c, st, &done);
	if (p->dry_run)
		done |= ENFORCE_DONE_DRY;
	/* The socket's own storage has no other writer in a pass; a socket
	 * nothing was done to (its own choice kept) gets none. */
	if (old)
		*old = done;
	else if (done)
		bpf_sk_storage_get(&done_flags, tp, &done, BPF_SK_STORAGE_GET_F_CREATE);
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
