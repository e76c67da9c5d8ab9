#include "metrics_conntrack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/conntrack.h"
#include "common/metric_writer.h"

/* A per-namespace family: a uint64_t of struct conntrack_ns at offset,
 * or (reason != NULL) one of its CPU stats. */
struct ns_family {
	const char *name;
	enum metric_type type;
	const char *help;
	ptrdiff_t offset;
};

#define NS_FIELD(f)    offsetof(struct conntrack_ns, f)
#define STATS_FIELD(f) (offsetof(struct conntrack_ns, stats) + offsetof(struct ct_cpu_stats, f))

static const struct ns_family ns_families[] = {
    {"halfopen_conntrack_entries", METRIC_GAUGE,
     "Entries in the namespace's conntrack table (nf_conntrack_count).", NS_FIELD(count)},
    {"halfopen_conntrack_max_entries", METRIC_GAUGE,
     "Size limit of the conntrack table (nf_conntrack_max); past it new flows evict "
     "unassured ones (early_drop) or are dropped.",
     NS_FIELD(max)},
    {"halfopen_conntrack_tcp_timeout_established_seconds", METRIC_GAUGE,
     "nf_conntrack_tcp_timeout_established of the namespace: an ESTABLISHED flow silent "
     "this long is forgotten.",
     NS_FIELD(timeout_established_s)},
    {"halfopen_conntrack_guarded_flows", METRIC_GAUGE,
     "TCP flows of the namespace's table whose loss would break the connection (NATed, or "
     "any flow under strict tracking), at the last collection.",
     NS_FIELD(guarded)},
    {"halfopen_conntrack_dumped_entries", METRIC_GAUGE,
     "Entries the last collection received from the namespace's table, after the kernel's "
     "filters (TCP; with loose tracking NATed only).",
     NS_FIELD(dumped)},
    {"halfopen_conntrack_invalid_packets_total", METRIC_COUNTER,
     "Packets conntrack found INVALID in the namespace (segments of a forgotten flow under "
     "strict tracking are; a firewall usually drops them).",
     STATS_FIELD(invalid)},
};

static const struct {
	const char *reason;
	ptrdiff_t offset;
} drops[] = {
    {"drop", STATS_FIELD(drop)},
    {"early_drop", STATS_FIELD(early_drop)},
    {"insert_failed", STATS_FIELD(insert_failed)},
};

static uint64_t field(const struct conntrack_ns *n, ptrdiff_t off)
{
	return *(const uint64_t *)((const char *)n + off);
}

/* Namespaces with a table (or whose table could not be read). */
static bool shown(const struct conntrack_ns *n)
{
	return n->tracking || n->error;
}

int metrics_conntrack_render(void *ctx, struct metric_writer *w)
{
	const struct conntrack *ct = ctx;
	struct conntrack_summary s;
	size_t i, f;

	if (!ct)
		return 0;
	for (f = 0; f < sizeof(ns_families) / sizeof(ns_families[0]); f++) {
		metric_family(w, ns_families[f].name, ns_families[f].type, ns_families[f].help);
		for (i = 0; i < conntrack_ns_count(ct); i++) {
			const struct conntrack_ns *n = conntrack_ns_get(ct, i);

			if (!n->tracking)
				continue;
			metric_sample(w, ns_families[f].name);
			metric_label(w, "netns", n->label);
			metric_value_u64(w, field(n, ns_families[f].offset));
		}
	}
	metric_family(w, "halfopen_conntrack_drops_total", METRIC_COUNTER,
		      "Packets conntrack dropped in the namespace: drop (table full, nothing "
		      "evictable), early_drop (an unassured flow evicted for a new one), "
		      "insert_failed (a new flow could not be inserted).");
	for (i = 0; i < conntrack_ns_count(ct); i++) {
		const struct conntrack_ns *n = conntrack_ns_get(ct, i);

		for (f = 0; n->tracking && f < sizeof(drops) / sizeof(drops[0]); f++) {
			metric_sample(w, "halfopen_conntrack_drops_total");
			metric_label(w, "netns", n->label);
			metric_label(w, "reason", drops[f].reason);
			metric_value_u64(w, field(n, drops[f].offset));
		}
	}
	metric_family(w, "halfopen_conntrack_tcp_strict", METRIC_GAUGE,
		      "1 when the namespace tracks TCP strictly (nf_conntrack_tcp_loose = 0): a "
		      "forgotten flow is not picked up again by its next segment.");
	for (i = 0; i < conntrack_ns_count(ct); i++) {
		const struct conntrack_ns *n = conntrack_ns_get(ct, i);

		if (!n->tracking)
			continue;
		metric_sample(w, "halfopen_conntrack_tcp_strict");
		metric_label(w, "netns", n->label);
		metric_value_u64(w, n->strict);
	}
	metric_family(
	    w, "halfopen_conntrack_kernel_filter", METRIC_GAUGE,
	    "Namespaces with loose tracking (only NATed entries matter): 1 when the kernel "
	    "filtered the last dump by status (CTA_STATUS), 0 when it refused the filter "
	    "and the exporter filtered a plain dump.");
	for (i = 0; i < conntrack_ns_count(ct); i++) {
		const struct conntrack_ns *n = conntrack_ns_get(ct, i);

		if (!n->tracking || !n->count || n->strict)
			continue;
		metric_sample(w, "halfopen_conntrack_kernel_filter");
		metric_label(w, "netns", n->label);
		metric_value_u64(w, n->filtered);
	}
	metric_family(w, "halfopen_conntrack_table_read_errors", METRIC_GAUGE,
		      "1 when the namespace's conntrack table could not be read at the last "
		      "collection (nothing is judged then).");
	for (i = 0; i < conntrack_ns_count(ct); i++) {
		const struct conntrack_ns *n = conntrack_ns_get(ct, i);

		if (!shown(n))
			continue;
		metric_sample(w, "halfopen_conntrack_table_read_errors");
		metric_label(w, "netns", n->label);
		metric_value_u64(w, n->error != 0);
	}
	conntrack_get_summary(ct, &s);
	metric_single_u64(w, "halfopen_conntrack_watched_sockets", METRIC_GAUGE,
			  "ESTABLISHED sockets whose flow was seen guarded (NATed, or under strict "
			  "tracking) and that are followed across collections, forgotten included.",
			  s.watched);
	metric_single_u64(w, "halfopen_conntrack_judged", METRIC_GAUGE,
			  "1 when the last collection read every conntrack table completely, so "
			  "forgotten flows were counted; 0 carries the last verdicts over.",
			  s.judged);
	metric_single_u64(w, "halfopen_conntrack_dropped_flows", METRIC_GAUGE,
			  "Guarded flows and sockets over the exporter's bounds at the last "
			  "collection (not kept; over the flow bound nothing is judged).",
			  s.flows_dropped + s.sockets_dropped);
	metric_single_double(w, "halfopen_conntrack_dump_duration_seconds", METRIC_GAUGE,
			     "Time the last collection spent reading the conntrack tables.",
			     s.dump_seconds);
	metric_single_u64(w, "halfopen_conntrack_memory_bytes", METRIC_GAUGE,
			  "Memory of the conntrack correlation's tables.", s.bytes);
	return 0;
}
