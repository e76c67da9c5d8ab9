/* aggregate: per-service counts of one collection, and the collection
 * driver that fills them (dump -> match -> classify -> count, streaming).
 *
 * A collection covers one or more network namespaces:
 *     collector_begin(); collector_collect_ns() per namespace;
 * and merges them by (service, direction[, pod namespace, pod]). Each
 * namespace gets its own service table (its own listening ports), and is
 * counted into scratch first, so a dump the kernel interrupts can be
 * redone without double counting. */
#ifndef HALFOPEN_AGGREGATE_H
#define HALFOPEN_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "config/config.h"
#include "service_table.h"

struct nl_sock;

/* One count per class of sock_classes.h, then the longest ages. */
struct service_counts {
#define SOCK_CLASS_X(id, field, help) uint64_t field;
	SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X
	uint32_t longest_unanswered_ms; /* max classification.unanswered_ms */
	uint32_t longest_hanging_ms;    /* max classification.hanging_ms */
};

#define POD_NAMESPACE_MAX 63 /* Kubernetes: DNS label */
#define POD_NAME_MAX 253     /* Kubernetes: DNS subdomain */

struct service_result {
	uint32_t service_id; /* service_entry.id: SERVICE_ID_NONE for auto, unmatched */
	char name[SERVICE_NAME_MAX + 1];
	enum direction direction;
	/* Both "" unless pod labels are on and the sockets are a pod's. */
	char pod_namespace[POD_NAMESPACE_MAX + 1];
	char pod[POD_NAME_MAX + 1];
	struct service_counts counts;
};

/* One collection's outcome: everything the exposition needs, and nothing
 * that points into the config or a table (so it can be rendered after the
 * config changed). */
struct collection_result {
	struct service_result *services;
	size_t n_services;
	size_t cap_services;
	bool pod_labels;          /* render namespace/pod labels */
	uint64_t sockets_seen;    /* connected-state sockets the dumps returned */
	uint64_t sockets_matched; /* of those, claimed by a service */
	uint64_t listening_sockets;
	uint32_t auto_services_dropped; /* listening ports over max_listening_services */
	uint64_t series_dropped;        /* service/pod series over the cap: counted without pod */
	unsigned dump_retries;          /* NLM_F_DUMP_INTR restarts */
	uint32_t namespaces;            /* namespaces collected */
	uint32_t namespace_errors;      /* namespaces whose dump failed: their sockets are missing */
	bool kernel_filter;             /* the kernel filtered by port (inet_diag bytecode) */
};

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

/* Pod attribution of a namespace or socket; NULL or empty strings: none. */
struct pod_ref {
	const char *pod_namespace;
	const char *pod;
};

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
};

/* Add one classified socket to counts. Pure. */
void aggregate_add(struct service_counts *counts, const struct classification *cls);
/* Add b into a (sums; longest is the max). Pure. */
void aggregate_merge(struct service_counts *a, const struct service_counts *b);

/* Accepts NULL. Frees the memory, not res itself. */
void collection_result_free(struct collection_result *res);

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
