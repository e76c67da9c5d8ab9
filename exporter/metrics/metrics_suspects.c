#include "metrics_suspects.h"

#include <stddef.h>
#include <stdio.h>

#include "collectors/suspects.h"
#include "common/metric_writer.h"

/* name{tcp_service="...",direction="..." then the caller's extra labels. */
static void series_sample(struct metric_writer *w, const char *name,
			  const struct suspect_series_info *se)
{
	metric_sample(w, name);
	metric_label(w, "tcp_service", se->service);
	metric_label(w, "direction", direction_name(se->direction));
}

/* offset: of a uint64_t[SUSPECT_NCOND] in struct suspect_counters. */
static void render_per_condition(const struct suspects *t, struct metric_writer *w,
				 const char *name, const char *help, size_t offset)
{
	struct suspect_series_info se;
	const uint64_t *v;

	metric_family(w, name, METRIC_COUNTER, help);
	for (size_t i = 0; i < suspects_series_count(t); i++) {
		suspects_series_get(t, i, &se);
		v = (const uint64_t *)((const char *)se.counters + offset);
		for (int c = 0; c < SUSPECT_NCOND; c++) {
			series_sample(w, name, &se);
			metric_label(w, "condition",
				     suspect_condition_name((enum suspect_condition)c));
			metric_value_u64(w, v[c]);
		}
	}
}

static void render_histogram(const struct suspects *t, struct metric_writer *w)
{
	struct suspect_series_info se;

	metric_family(
	    w, "halfopen_suspect_duration_seconds", METRIC_HISTOGRAM,
	    "How long sockets stayed suspect before they closed or recovered, from the "
	    "first collection that saw them suspect to the first that did not (collection "
	    "interval resolution).");
	for (size_t i = 0; i < suspects_series_count(t); i++) {
		const struct suspect_counters *c;
		uint64_t cum = 0;
		char le[16];

		suspects_series_get(t, i, &se);
		c = se.counters;
		for (size_t b = 0; b < SUSPECT_DURATION_BUCKETS; b++) {
			cum += c->buckets[b];
			snprintf(le, sizeof(le), "%u", suspect_duration_buckets_s[b]);
			series_sample(w, "halfopen_suspect_duration_seconds_bucket", &se);
			metric_label(w, "le", le);
			metric_value_u64(w, cum);
		}
		series_sample(w, "halfopen_suspect_duration_seconds_bucket", &se);
		metric_label(w, "le", "+Inf");
		metric_value_u64(w, c->duration_count);
		series_sample(w, "halfopen_suspect_duration_seconds_sum", &se);
		metric_value_double(w, (double)c->duration_sum_ms / 1000.0);
		series_sample(w, "halfopen_suspect_duration_seconds_count", &se);
		metric_value_u64(w, c->duration_count);
	}
}

/* offset: of a uint64_t in struct suspect_counters. Only the series that
 * opted in; no family at all before one did. */
static void render_remediation(const struct suspects *t, struct metric_writer *w, const char *name,
			       const char *help, size_t offset)
{
	struct suspect_series_info se;
	bool any = false;

	for (size_t i = 0; i < suspects_series_count(t) && !any; i++) {
		suspects_series_get(t, i, &se);
		any = se.opted_in;
	}
	if (!any)
		return;
	metric_family(w, name, METRIC_COUNTER, help);
	for (size_t i = 0; i < suspects_series_count(t); i++) {
		suspects_series_get(t, i, &se);
		if (!se.opted_in)
			continue;
		series_sample(w, name, &se);
		metric_value_u64(w, *(const uint64_t *)((const char *)se.counters + offset));
	}
}

int metrics_suspects_render(void *ctx, struct metric_writer *w)
{
	const struct suspects *t = ctx;

	if (suspects_series_count(t)) {
		render_per_condition(
		    t, w, "halfopen_suspect_transitions_total",
		    "Sockets newly seen in a suspect condition (a socket entering several counts "
		    "once under each).",
		    offsetof(struct suspect_counters, transitions));
		render_per_condition(t, w, "halfopen_suspect_closed_total",
				     "Suspect sockets that disappeared (reset by keepalive or "
				     "retries running out, aborted, or closed by the application), "
				     "under each condition they had.",
				     offsetof(struct suspect_counters, closed));
		render_per_condition(t, w, "halfopen_suspect_recovered_total",
				     "Suspect conditions that cleared while the socket lived on.",
				     offsetof(struct suspect_counters, recovered));
		render_histogram(t, w);
		render_remediation(
		    t, w, "halfopen_destroyed_sockets_total",
		    "Sockets destroyed with SOCK_DESTROY by remediation (destroy_after).",
		    offsetof(struct suspect_counters, destroyed));
		render_remediation(t, w, "halfopen_destroy_dry_run_total",
				   "Sockets remediation would have destroyed, in dry-run mode.",
				   offsetof(struct suspect_counters, dry_run));
		render_remediation(t, w, "halfopen_destroy_errors_total",
				   "SOCK_DESTROY attempts that failed (e.g. no CAP_NET_ADMIN).",
				   offsetof(struct suspect_counters, destroy_errors));
	}
	metric_single_u64(w, "halfopen_suspects_tracked", METRIC_GAUGE,
			  "Suspect sockets tracked across collections now.", suspects_count(t));
	metric_single_u64(w, "halfopen_suspects_tracked_max", METRIC_GAUGE,
			  "The tracker's hard cap on suspect sockets.", suspects_max(t));
	metric_single_u64(w, "halfopen_suspects_dropped_total", METRIC_COUNTER,
			  "Suspect socket observations not tracked: the tracker was at its cap (or "
			  "out of memory); one per socket and collection.",
			  suspects_dropped_total(t));
	metric_single_u64(w, "halfopen_suspects_memory_bytes", METRIC_GAUGE,
			  "Memory the suspect tracker holds.", suspects_memory_bytes(t));
	return metric_writer_error(w);
}
