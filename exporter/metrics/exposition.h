/* exposition: the metric families of one collection (per-service counts,
 * collection gauges) and of the exporter itself (self metrics), written
 * with common/metric_writer. Pure: structs in, bytes out. */
#ifndef HALFOPEN_EXPOSITION_H
#define HALFOPEN_EXPOSITION_H

#include <stdint.h>

#include "collectors/counts.h"

struct buf;

/* The exporter's own counters, kept by main and rendered with each body. */
struct exporter_stats {
	const char *version;
	const char *revision;
	uint64_t collections_total;
	uint64_t collection_errors_total;
	double last_duration_seconds;     /* last successful collection */
	double last_timestamp_seconds;    /* unix time of last successful collection */
	uint64_t last_sockets;            /* sockets seen by the last successful collection */
	double interval_seconds;          /* --collector.interval */
	uint64_t dump_retries_total;        /* NLM_F_DUMP_INTR restarts, all collections */
	uint64_t collection_overruns_total; /* collections longer than half the interval */
	int config_last_reload_successful;          /* 1 or 0 */
	double config_last_reload_success_timestamp; /* unix time */
};

struct metric_writer;

/* metric_source renderers (common/metric_writer.h). */
/* ctx: a const struct collection_result, the last good collection:
 * per-service families (every service, zeros included), then the
 * collection's own gauges. */
int exposition_render_collection(void *ctx, struct metric_writer *w);
/* ctx: a const struct exporter_stats: the self metrics and build info. */
int exposition_render_self(void *ctx, struct metric_writer *w);
/* The parts of the /metrics body. NULL parts are omitted: collection
 * before the first good one; enforce and conntrack when not in use;
 * suspects, proc_root (the process metrics), http and nsreg where a test
 * renders without them. */
struct suspects;
struct enforce;
struct http_server;
struct netns_registry;
struct conntrack;
struct exposition_body {
	const struct collection_result *collection; /* the last good one */
	const struct exporter_stats *stats;	    /* required */
	const struct suspects *suspects;
	const struct enforce *enforce;
	const char *proc_root;		    /* "/proc" */
	const struct http_server *http;	    /* the server's own counters */
	const struct netns_registry *nsreg; /* the namespace scan's totals */
	const struct conntrack *conntrack;  /* --collector.conntrack */
};

/* The whole body, as the daemon publishes it (daemon.c's publish() and
 * the tests take this one path): the collection's families, the self
 * metrics, then the suspects', enforce's, conntrack's, the process's, the
 * HTTP server's and the namespace scan's, each once, appended to out.
 * 0 or the first error, with *failed (may be NULL) naming its source. */
int exposition_render_body(const struct exposition_body *body, struct buf *out,
			   const char **failed);

#endif
