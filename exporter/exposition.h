/* exposition: the Prometheus text format (0.0.4) for one collection.
 * Pure: structs in, bytes out into a growable buffer. */
#ifndef HALFOPEN_EXPOSITION_H
#define HALFOPEN_EXPOSITION_H

#include <stdint.h>

#include "collectors/aggregate.h"

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

/* Append v as the text format wants: the shortest decimal that parses back
 * to the same double, "+Inf", "-Inf" or "NaN"; never locale-dependent.
 * Shared with process_metrics.c. 0 or -ENOMEM. */
int exposition_append_double(struct buf *out, double v);
/* Append a label value escaped per the text format (\\, \", \n). */
int exposition_escape_label(struct buf *out, const char *value);
/* Append the whole body: per-service families (every service, zeros
 * included), then self metrics. res may be NULL before the first good
 * collection (per-service families are then omitted). 0 or -ENOMEM. */
int exposition_render(const struct collection_result *res, const struct exporter_stats *st,
		      struct buf *out);

#endif
