/* counts: what one collection counted, per service (and pod), and the
 * pure functions that count. Filled by the collector (collector.h),
 * rendered by the exporter (exporter/metrics/exposition.c). */
#ifndef HALFOPEN_COUNTS_H
#define HALFOPEN_COUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "classify.h"
#include "config/config.h"
#include "podinfo.h"
#include "service_table.h"

/* One count per class of sock_classes.h, then the longest ages. */
struct service_counts {
#define SOCK_CLASS_X(id, field, help) uint64_t field;
	SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X
	uint32_t longest_unanswered_ms; /* max classification.unanswered_ms */
	uint32_t longest_hanging_ms;    /* max classification.hanging_ms */
};

struct service_result {
	uint32_t service_id; /* service_entry.id: SERVICE_ID_NONE for auto, unmatched */
	char name[SERVICE_NAME_MAX + 1];
	enum direction direction;
	/* Both "" unless pod labels are on and the sockets are a pod's; as
	 * long as podinfo.h lets a pod's names be. */
	char pod_namespace[PODINFO_NAMESPACE_MAX + 1];
	char pod[PODINFO_NAME_MAX + 1];
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
	/* A sum of the mixed cookies of the ESTABLISHED sockets of services
	 * that enforce: it changes when one of them is new (cookies are never
	 * reused), so an enforce pass can be skipped while it stays. */
	uint64_t enforce_fingerprint;
};

/* Add one classified socket to counts. Pure. */
void service_counts_add(struct service_counts *counts, const struct classification *cls);
/* Add b into a (sums; longest is the max). Pure. */
void service_counts_merge(struct service_counts *a, const struct service_counts *b);

/* Accepts NULL. Frees the memory, not res itself. */
void collection_result_free(struct collection_result *res);

#endif
