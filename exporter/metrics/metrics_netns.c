/* The halfopen_netns_* families (metrics_netns.h). */
#include "metrics_netns.h"

#include "collectors/netns.h"
#include "common/metric_writer.h"

int metrics_netns_render(void *ctx, struct metric_writer *w)
{
	const struct netns_registry *r = ctx;
	struct netns_refresh_stats t;
	static const char *const reasons[] = {
	    "denied", "open_failed", "cap", "foreign_userns", "deferred", "cgroups_cut",
	};
	uint32_t counts[sizeof(reasons) / sizeof(reasons[0])];

	if (!r || netns_registry_count(r) == 0)
		return 0;
	netns_registry_totals(r, &t);
	counts[0] = t.denied;
	counts[1] = t.open_failed;
	counts[2] = t.cap_dropped;
	counts[3] = t.foreign_skipped;
	counts[4] = t.deferred;
	counts[5] = t.cgroups_dropped;
	metric_single_u64(w, "halfopen_netns_namespaces", METRIC_GAUGE,
			  "Network namespaces whose sockets are counted (the exporter's own "
			  "included).",
			  (uint64_t)netns_registry_count(r));
	metric_family(w, "halfopen_netns_skipped_total", METRIC_COUNTER,
		      "Namespaces (cgroups for cgroups_cut) found by discovery and not counted, "
		      "summed over refreshes, by reason: denied (no CAP_SYS_PTRACE), open_failed "
		      "(not entered), cap (over the namespace cap), foreign_userns (owned by "
		      "another user namespace), deferred (left for the next refresh: time "
		      "budget), cgroups_cut (pod cgroups over the walk's bounds).");
	for (unsigned i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		metric_sample(w, "halfopen_netns_skipped_total");
		metric_label(w, "reason", reasons[i]);
		metric_value_u64(w, counts[i]);
	}
	return metric_writer_error(w);
}
