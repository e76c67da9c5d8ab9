/* aggregate: per-service counts of one collection, and the collection
 * driver that fills them (dump -> classify -> count, streaming). */
#ifndef HALFOPEN_AGGREGATE_H
#define HALFOPEN_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "config/config.h"
#include "service_table.h"

struct nl_sock;

struct service_counts {
	uint64_t established;
	uint64_t stale;
	uint64_t retransmitting;
	uint64_t keepalive_probing;
	uint64_t zero_window;
	uint64_t close_wait;
	uint64_t keepalive;
	uint32_t longest_unanswered_ms;
};

struct service_result {
	char name[SERVICE_NAME_MAX + 1];
	enum direction direction;
	struct service_counts counts;
};

/* One collection's outcome: everything the exposition needs, and nothing
 * that points into the config or the table (so it can be rendered after
 * the config changed). */
struct collection_result {
	struct service_result *services;
	size_t n_services;
	size_t cap_services;
	uint64_t sockets_seen;    /* connected-state sockets in the dump */
	uint64_t sockets_matched; /* of those, claimed by a service */
	uint64_t listening_sockets;
	uint32_t auto_services_dropped; /* listening ports over max_listening_services */
	unsigned dump_retries;          /* NLM_F_DUMP_INTR restarts */
	bool kernel_filter;             /* the kernel filtered by port (inet_diag bytecode) */
};

/* Add one classified socket to counts. Pure. */
void aggregate_add(struct service_counts *counts, const struct classification *cls);

/* Prepare res for table: one zeroed entry per service (every service is
 * exposed, zeros included). Reuses res's memory. 0 or -ENOMEM. */
int collection_result_reset(struct collection_result *res, const struct service_table *t);
/* Accepts NULL. Frees the memory, not res itself. */
void collection_result_free(struct collection_result *res);

struct collector;

/* A collector owns its receive buffer and the per-collection scratch, so
 * collections allocate nothing in steady state. 0 or -ENOMEM. */
int collector_new(struct collector **out);
/* Accepts NULL. */
void collector_free(struct collector *c);
/* One collection over handle sk (the caller's namespace): LISTEN dump when
 * the config needs it, then one dump per family of the connected states,
 * classifying and counting each socket as it is parsed. Restarts up to 3
 * times on NLM_F_DUMP_INTR. 0 or -errno; on error res is unspecified and
 * the caller keeps its last good result. */
int collector_collect(struct collector *c, const struct config *cfg, struct nl_sock *sk,
		      struct collection_result *res);

#endif
