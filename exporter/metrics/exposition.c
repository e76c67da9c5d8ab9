#include "exposition.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/buf.h"
#include "common/metric_writer.h"
#include "exporter/metrics/metrics_enforce.h"
#include "exporter/metrics/metrics_suspects.h"
#include "exporter/metrics/process_metrics.h"
#include "exporter/metrics/metrics_netns.h"
#include "exporter/metrics/metrics_conntrack.h"
#include "exporter/http/http.h"

/* A per-service family whose value is one field of service_counts: a
 * uint64 count, or a uint32 age in ms rendered in seconds. */
struct count_family {
	const char *name;
	const char *help;
	size_t offset;
	bool age_ms;
};

/* One family per class of collectors/sock_classes.h, in its order; then
 * the ages. HELP texts are the meanings of docs/metrics.md. */
static const struct count_family count_families[] = {
#define SOCK_CLASS_X(id, field, help)                                                             \
	{"halfopen_" #field "_sockets", help, offsetof(struct service_counts, field), false},
    SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X

    {"halfopen_longest_unanswered_seconds",
     "Over the service's retransmitting and keepalive-probing sockets, the longest time since "
     "the peer last acknowledged anything, idle time before the hang included; for a socket "
     "that never received anything (SYN-SENT), since the exporter first saw it hang. 0 when "
     "there are none.",
     offsetof(struct service_counts, longest_unanswered_ms), true},
    {"halfopen_longest_hanging_seconds",
     "Over the service's retransmitting and keepalive-probing sockets, the longest time the "
     "exporter has seen one hang without a break (by socket cookie): how long a request or "
     "probe has waited, short by up to one collection interval. 0 when there are none.",
     offsetof(struct service_counts, longest_hanging_ms), true},
};

/* namespace/pod only on series that have a pod: an empty label value
 * means an absent label to Prometheus anyway, and this keeps host series
 * identical whether pod labels are on or not. */
static void service_sample(struct metric_writer *w, const char *name,
			   const struct service_result *s)
{
	metric_sample(w, name);
	metric_label(w, "tcp_service", s->name);
	metric_label(w, "direction", direction_name(s->direction));
	if (s->pod[0]) {
		metric_label(w, "namespace", s->pod_namespace);
		metric_label(w, "pod", s->pod);
	}
}

static void render_services(const struct collection_result *res, struct metric_writer *w)
{
	size_t f, i;

	/* Like client_golang: a family without samples is left out. */
	if (res->n_services == 0)
		return;
	for (f = 0; f < sizeof(count_families) / sizeof(count_families[0]); f++) {
		const struct count_family *fam = &count_families[f];

		metric_family(w, fam->name, METRIC_GAUGE, fam->help);
		for (i = 0; i < res->n_services; i++) {
			const struct service_result *s = &res->services[i];
			const char *field = (const char *)&s->counts + fam->offset;

			service_sample(w, fam->name, s);
			if (fam->age_ms) {
				uint32_t ms;

				memcpy(&ms, field, sizeof(ms));
				metric_value_double(w, (double)ms / 1000.0);
			} else {
				uint64_t v;

				memcpy(&v, field, sizeof(v));
				metric_value_u64(w, v);
			}
		}
	}
}

/* Contract: per-service families in docs/metrics.md order, one sample per
 * service in res order; then what the collection saw beyond them. */
int exposition_render_collection(void *ctx, struct metric_writer *w)
{
	const struct collection_result *res = ctx;

	render_services(res, w);
	metric_single_u64(w, "halfopen_collection_matched_sockets", METRIC_GAUGE,
			  "Sockets of the last successful collection that a service claimed.",
			  res->sockets_matched);
	metric_single_u64(w, "halfopen_collection_namespaces", METRIC_GAUGE,
			  "Network namespaces the last successful collection covered.",
			  res->namespaces);
	metric_single_u64(w, "halfopen_collection_namespace_errors", METRIC_GAUGE,
			  "Network namespaces whose dump failed in the last successful collection; "
			  "their sockets are missing from it.",
			  res->namespace_errors);
	metric_single_u64(w, "halfopen_collection_kernel_filter", METRIC_GAUGE,
			  "1 when the kernel filtered sockets by port (inet_diag bytecode) in the "
			  "last successful collection.",
			  res->kernel_filter ? 1 : 0);
	metric_single_u64(
	    w, "halfopen_auto_services_dropped", METRIC_GAUGE,
	    "Listening ports left without a listen_<port> service by max_listening_services.",
	    res->auto_services_dropped);
	metric_single_u64(w, "halfopen_series_dropped", METRIC_GAUGE,
			  "Service series over the series cap in the last successful collection; "
			  "their sockets are counted without pod labels, or not at all.",
			  res->series_dropped);
	return metric_writer_error(w);
}

/* Contract: the self metrics, always, in a fixed order. */
int exposition_render_self(void *ctx, struct metric_writer *w)
{
	const struct exporter_stats *st = ctx;

	metric_single_double(w, "halfopen_collection_duration_seconds", METRIC_GAUGE,
			     "Wall time of the last successful collection.",
			     st->last_duration_seconds);
	metric_single_double(w, "halfopen_collection_interval_seconds", METRIC_GAUGE,
			     "The configured --collector.interval.", st->interval_seconds);
	metric_single_u64(w, "halfopen_collection_sockets", METRIC_GAUGE,
			  "Sockets (connected states) seen by the last successful collection.",
			  st->last_sockets);
	metric_single_u64(w, "halfopen_collections_total", METRIC_COUNTER, "Collections attempted.",
			  st->collections_total);
	metric_single_u64(w, "halfopen_collection_errors_total", METRIC_COUNTER,
			  "Collections that failed (the last good counts stay served).",
			  st->collection_errors_total);
	metric_single_u64(
	    w, "halfopen_collection_retries_total", METRIC_COUNTER,
	    "Dumps redone because the kernel flagged them inconsistent (NLM_F_DUMP_INTR).",
	    st->dump_retries_total);
	metric_single_u64(w, "halfopen_collection_overruns_total", METRIC_COUNTER,
			  "Collections that took longer than half of --collector.interval.",
			  st->collection_overruns_total);
	metric_single_double(w, "halfopen_last_collection_timestamp_seconds", METRIC_GAUGE,
			     "Unix time of the last successful collection.",
			     st->last_timestamp_seconds);
	metric_single_u64(w, "halfopen_config_last_reload_successful", METRIC_GAUGE,
			  "1 when the last config load or reload succeeded.",
			  st->config_last_reload_successful ? 1 : 0);
	metric_single_double(w, "halfopen_config_last_reload_success_timestamp_seconds",
			     METRIC_GAUGE, "Unix time of the last successful config load.",
			     st->config_last_reload_success_timestamp);

	metric_family(w, "halfopen_build_info", METRIC_GAUGE,
		      "Always 1; labels version and revision.");
	metric_sample(w, "halfopen_build_info");
	metric_label(w, "version", st->version ? st->version : "");
	metric_label(w, "revision", st->revision ? st->revision : "");
	metric_value_u64(w, 1);
	return metric_writer_error(w);
}

int exposition_render_body(const struct exposition_body *body, struct buf *out, const char **failed)
{
	struct metric_source src[8];
	size_t n = 0;

	/* The renderers take void *ctx and only read it. */
	if (body->collection)
		src[n++] = (struct metric_source){"collection", exposition_render_collection,
						  (void *)body->collection};
	src[n++] = (struct metric_source){"exporter", exposition_render_self, (void *)body->stats};
	if (body->suspects)
		src[n++] = (struct metric_source){"suspects", metrics_suspects_render,
						  (void *)body->suspects};
	if (body->enforce)
		src[n++] = (struct metric_source){"enforce", metrics_enforce_render,
						  (void *)body->enforce};
	if (body->conntrack)
		src[n++] = (struct metric_source){"conntrack", metrics_conntrack_render,
						  (void *)body->conntrack};
	if (body->proc_root)
		src[n++] = (struct metric_source){"process", process_metrics_render,
						  (void *)body->proc_root};
	if (body->http)
		src[n++] =
		    (struct metric_source){"http", http_server_render_metrics, (void *)body->http};
	if (body->nsreg)
		src[n++] =
		    (struct metric_source){"netns", metrics_netns_render, (void *)body->nsreg};
	return metric_sources_render(src, n, out, failed);
}
