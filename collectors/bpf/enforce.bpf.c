// SPDX-License-Identifier: GPL-2.0
/* enforce.bpf: a TCP socket iterator that gives keepalive and a user
 * timeout to the ESTABLISHED sockets of services that ask for it
 * (docs/remediation.md). One pass per network namespace: an iterator
 * walks the namespace its fd was created in.
 *
 * The service of a socket is the first configured one (file order) whose
 * port matches: local port for inbound services, remote port for
 * outbound, as collectors/service_table.c decides it. The loader fills
 * inbound[port] and outbound[port] with the index of that first claimant
 * and policy[index] with what to do. What an application already chose
 * is read with bpf_getsockopt and kept. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "enforce_abi.h"

/* From the UAPI headers, which do not mix with vmlinux.h. */
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ENFORCE_MAX_COOKIES);
	__type(key, __u64);
	__type(value, __u32);
} cookies SEC(".maps");

static __u32 port_owner(void *map, __u32 port)
{
	__u32 *v = bpf_map_lookup_elem(map, &port);

	return v ? *v : ENFORCE_NO_SERVICE;
}

/* Keepalive for one socket. done: its cookie's flags, updated. */
static void do_keepalive(struct tcp_sock *tp, const struct enforce_policy *p,
			 struct enforce_stats *st, __u32 *done)
{
	int on = 0, v;

	if (bpf_getsockopt(tp, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on))) {
		st->keepalive_errors++;
		return;
	}
	if (*done & ENFORCE_DONE_KEEPALIVE) {
		if (!on && !(*done & ENFORCE_REVERTED_KEEPALIVE)) {
			st->keepalive_reverted++;
			*done |= ENFORCE_REVERTED_KEEPALIVE;
		}
		return;
	}
	if (on) {
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
	 * force at that moment. */
	v = (int)p->idle_s;
	if (bpf_setsockopt(tp, SOL_TCP, TCP_KEEPIDLE, &v, sizeof(v)))
		goto fail;
	v = (int)p->interval_s;
	if (bpf_setsockopt(tp, SOL_TCP, TCP_KEEPINTVL, &v, sizeof(v)))
		goto fail;
	v = (int)p->count;
	if (bpf_setsockopt(tp, SOL_TCP, TCP_KEEPCNT, &v, sizeof(v)))
		goto fail;
	v = 1;
	if (bpf_setsockopt(tp, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)))
		goto fail;
	st->keepalive_set++;
	*done |= ENFORCE_DONE_KEEPALIVE;
	return;
fail:
	st->keepalive_errors++;
}

static void do_user_timeout(struct tcp_sock *tp, const struct enforce_policy *p,
			    struct enforce_stats *st, __u32 *done)
{
	int ut = 0;

	if (bpf_getsockopt(tp, SOL_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut))) {
		st->user_timeout_errors++;
		return;
	}
	if (*done & ENFORCE_DONE_USER_TIMEOUT) {
		if (!ut && !(*done & ENFORCE_REVERTED_USER_TIMEOUT)) {
			st->user_timeout_reverted++;
			*done |= ENFORCE_REVERTED_USER_TIMEOUT;
		}
		return;
	}
	if (ut) {
		st->user_timeout_chosen++;
		return;
	}
	if (*done & ENFORCE_DONE_DRY)
		return;
	if (p->dry_run) {
		st->user_timeout_set++;
		return;
	}
	ut = (int)p->user_timeout_ms;
	if (bpf_setsockopt(tp, SOL_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut))) {
		st->user_timeout_errors++;
		return;
	}
	st->user_timeout_set++;
	*done |= ENFORCE_DONE_USER_TIMEOUT;
}

SEC("iter/tcp")
int enforce(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct enforce_policy *p;
	struct enforce_stats *st;
	struct tcp_sock *tp;
	__u32 a, b, idx, done = 0, *old;
	__u64 cookie;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp || skc->skc_state != TCP_ESTABLISHED_STATE)
		return 0;
	a = port_owner(&inbound, skc->skc_num);
	b = port_owner(&outbound, bpf_ntohs(skc->skc_dport));
	idx = a < b ? a : b;
	if (idx >= ENFORCE_SLOTS)
		return 0;
	p = bpf_map_lookup_elem(&policy, &idx);
	st = bpf_map_lookup_elem(&stats, &idx);
	if (!p || !st || p->kind != ENFORCE_KIND_ENFORCE)
		return 0;
	st->matched++;
	cookie = bpf_get_socket_cookie(tp);
	old = bpf_map_lookup_elem(&cookies, &cookie);
	if (old)
		done = *old;
	if (p->keepalive)
		do_keepalive(tp, p, st, &done);
	if (p->user_timeout_ms)
		do_user_timeout(tp, p, st, &done);
	if (p->dry_run)
		done |= ENFORCE_DONE_DRY;
	if (!old || *old != done)
		bpf_map_update_elem(&cookies, &cookie, &done, BPF_ANY);
	return 0;
}
