/* collector: the collection driver: dump -> match -> classify -> count,
 * streaming, into the per-service counts of counts.h.
 *
 * A collection covers one or more network namespaces:
 *     collector_begin(); collector_collect_ns() per namespace;
 * and merges them by (service, direction[, pod namespace, pod]). Each
 * namespace gets its own service table (its own listening ports), and is
 * counted into scratch first, so a dump the kernel interrupts can be
 * redone without double counting. */
#ifndef HALFOPEN_COLLECTOR_H
#define HALFOPEN_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "config/config.h"
#include "counts.h"
#include "podinfo.h"
#include "service_table.h"

struct nl_sock;

/* Watchers of single sockets (the suspect tracker, remediation). Called
 * for every socket a service claims, after classification; svc is valid
 * only during the call. May run again for the same socket when a dump is
 * redone, so it must be idempotent per collection (key on rec->cookie). */
struct collect_hooks {
	void (*on_socket)(void *ctx, const struct sock_record *rec,
			  const struct classification *cls, const struct service_result *svc,
			  uint32_t ns_index);
	void *ctx;
};

#define COLLECT_DEFAULT_MAX_SERIES 4096

struct collect_options {
	bool pod_labels;
	size_t max_series; /* result entries at most; 0: COLLECT_DEFAULT_MAX_SERIES */
	const struct collect_hooks *hooks; /* may be NULL */
	/* With pod_labels, for namespaces collected without a pod of their
	 * own (the host's, shared by hostNetwork pods): the pod of a socket
	 * by its cgroup (INET_DIAG_CGROUP_ID). True and *out filled when
	 * known; the strings must stay valid for the collection. May be NULL. */
	bool (*pod_of_cgroup)(void *ctx, uint64_t cgroup_id, struct pod_ref *out);
	void *pod_ctx;
	/* For services with path_idle_timeout: conntrack (the shorter of
	 * the socket's namespace's and the host namespace's, index 0):
	 * namespace ns_index's nf_conntrack_tcp_timeout_established in ms
	 * into *ms (conntrack_timeout_read() run inside it). 0, or -errno
	 * (-ENOENT: no nf_conntrack); then only the host's value, if known,
	 * judges that namespace. -ENOTRECOVERABLE (the thread could not
	 * return home) fails the namespace and is returned. Asked once per
	 * namespace and collection, only when the config needs it. May be
	 * NULL. */
	int (*conntrack_timeout)(void *ctx, uint32_t ns_index, uint32_t *ms);
	void *conntrack_ctx;
};

/* The current network namespace's nf_conntrack_tcp_timeout_established,
 * in ms, from /proc/sys/net/netfilter (which shows the namespace of the
 * thread that opens it; with nf_conntrack loaded, every namespace has it).
 * -ENOENT without the nf_conntrack module, -EINVAL when unreadable as a
 * number. */
int conntrack_timeout_read(uint32_t *ms);

struct collector;

/* A collector owns its receive buffer and scratch, so collections
 * allocate nothing in steady state. 0 or -ENOMEM. */
int collector_new(struct collector **out);
/* Accepts NULL. */
void collector_free(struct collector *c);

/* Start a collection for cfg: res gets one zeroed entry per configured
 * service (every configured service is exposed, zeros included). cfg and
 * opt must stay valid until the collection's last collector_collect_ns().
 * 0 or -ENOMEM. */
int collector_begin(struct collector *c, const struct config *cfg,
		    const struct collect_options *opt, struct collection_result *res);
/* Collect one namespace through handle sk (created in that namespace).
 * pod: the namespace's pod, or NULL (then sockets are attributed one by
 * one through opt.pod_of_cgroup when set).
 * LISTEN dump when the config needs it, then one dump per family of the
 * connected states, with a kernel-side port filter when the config allows.
 * Redone up to 3 times on NLM_F_DUMP_INTR. On error the namespace adds
 * nothing to res (namespace_errors counts it) and -errno is returned; the
 * caller decides whether the collection failed. */
int collector_collect_ns(struct collector *c, struct nl_sock *sk, uint32_t ns_index,
			 const struct pod_ref *pod, struct collection_result *res);
/* begin + one namespace: the whole collection for a single handle. */
int collector_collect(struct collector *c, const struct config *cfg, struct nl_sock *sk,
		      struct collection_result *res);

#endif
