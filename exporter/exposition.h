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
/* Both into out: the collection's families (res may be NULL before the
 * first good collection: they are then omitted), then self metrics.
 * 0 or -ENOMEM. */
int exposition_render(const struct collection_result *res, const struct exporter_stats *st,
		      struct buf *out);

#endif
