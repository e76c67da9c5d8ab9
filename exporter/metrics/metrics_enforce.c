#include "metrics_enforce.h"

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include "collectors/enforce.h"
#include "common/metric_writer.h"

static const char *const option_names[2] = {"keepalive", "user_timeout"};

/* A family's value: one of struct enforce_counts' per-option arrays, or
 * (offset < 0) the per-service matched count. */
struct enforce_family {
	const char *name;
	enum metric_type type;
	const char *help;
	bool totals; /* enforce_counts of the totals, else of the last collection */
	ptrdiff_t offset;
};

static const struct enforce_family families[] = {
    {"halfopen_enforced_sockets_total", METRIC_COUNTER,
     "Sockets given the option by enforce (in a dry run: that would have been given it). Each "
     "socket is counted once.",
     true, offsetof(struct enforce_counts, set)},
    {"halfopen_enforced_at_connect_sockets_total", METRIC_COUNTER,
     "Of halfopen_enforced_sockets_total, the sockets given the option as their connection was "
     "established (the connection-time program, --enforce.cgroup), not by a pass.",
     true, offsetof(struct enforce_counts, at_connect)},
    {"halfopen_enforce_reverted_total", METRIC_COUNTER,
     "Sockets whose application cleared the option enforce had set. They are left as the "
     "application wants; counted once per socket.",
     true, offsetof(struct enforce_counts, reverted)},
    {"halfopen_enforce_errors_total", METRIC_COUNTER,
     "Failed bpf_getsockopt/bpf_setsockopt calls of enforce.", true,
     offsetof(struct enforce_counts, errors)},
    {"halfopen_enforce_own_choice_sockets", METRIC_GAUGE,
     "ESTABLISHED sockets of the service, at the last pass, whose application had already chosen "
     "the option, so enforce keeps it: keepalive on with an idle time the application set "
     "(keepalive at the sysctl's idle is no choice; on --enforce.read-path=getsockopt any "
     "keepalive on counts), or a user timeout.",
     false, offsetof(struct enforce_counts, chosen)},
    {"halfopen_enforce_matched_sockets", METRIC_GAUGE,
     "ESTABLISHED sockets of the service the last enforce pass visited.", false, -1},
};

/* One family over the services that enforce anything; per option the
 * service enforces, unless it is the matched count. */
static void render_family(const struct enforce *e, struct metric_writer *w,
			  const struct enforce_family *f)
{
	struct enforce_service_info si;

	metric_family(w, f->name, f->type, f->help);
	for (size_t i = 0; i < enforce_service_count(e); i++) {
		const struct enforce_counts *c;

		if (!enforce_service_get(e, i, &si))
			continue;
		c = f->totals ? si.total : si.last;
		for (int o = 0; o < 2; o++) {
			if (f->offset >= 0 && !(o == 0 ? si.keepalive : si.user_timeout))
				continue;
			metric_sample(w, f->name);
			metric_label(w, "tcp_service", si.name);
			metric_label(w, "direction", direction_name(si.direction));
			if (f->offset < 0) {
				metric_value_u64(w, c->matched);
				break;
			}
			metric_label(w, "option", option_names[o]);
			metric_value_u64(w, ((const uint64_t *)((const char *)c + f->offset))[o]);
		}
	}
}

int metrics_enforce_render(void *ctx, struct metric_writer *w)
{
	const struct enforce *e = ctx;
	struct enforce_pass_stats st;

	if (!e)
		return 0;
	enforce_pass_stats_get(e, &st);
	metric_single_u64(w, "halfopen_enforce_dry_run", METRIC_GAUGE,
			  "1 when --remediation.dry-run: enforce counts what it would set and sets "
			  "nothing.",
			  st.dry_run ? 1 : 0);
	metric_family(w, "halfopen_enforce_info", METRIC_GAUGE,
		      "Always 1. read_path: how enforce reads what an application chose, fields "
		      "(CO-RE field reads) or getsockopt (bpf_getsockopt); --enforce.read-path.");
	metric_sample(w, "halfopen_enforce_info");
	metric_label(w, "read_path", enforce_read_path_name(st.read_path));
	metric_value_u64(w, 1);
	metric_single_u64(w, "halfopen_enforce_on_connect", METRIC_GAUGE,
			  "1 when new connections get enforce as they are established "
			  "(--enforce.cgroup); 0: at the next pass.",
			  st.on_connect ? 1 : 0);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		render_family(e, w, &families[i]);
	metric_single_u64(w, "halfopen_enforce_passes_total", METRIC_COUNTER,
			  "Enforce passes (one per network namespace and collection).", st.passes);
	metric_single_u64(w, "halfopen_enforce_pass_errors_total", METRIC_COUNTER,
			  "Enforce passes that failed (iterator not created or not read, namespace "
			  "not entered).",
			  st.pass_errors);
	/* Microsecond resolution (a duration: never negative). */
	metric_single_double(w, "halfopen_enforce_last_pass_seconds", METRIC_GAUGE,
			     "Duration of the slowest enforce pass of the last collection.",
			     (double)(uint64_t)(st.last_pass_seconds * 1e6 + 0.5) / 1e6);
	metric_single_u64(w, "halfopen_enforce_passes_skipped_total", METRIC_COUNTER,
			  "Collections after which no enforce pass ran: no new socket of an "
			  "enforcing service (or new ones had it at connect), and the last pass "
			  "within --enforce.pass-max-gap.",
			  st.skipped);
	metric_single_double(w, "halfopen_enforce_pass_cpu_seconds_total", METRIC_COUNTER,
			     "CPU time (user and system) the enforce passes cost the threads that "
			     "ran them: the kernel's socket walk and the BPF program.",
			     (double)st.pass_cpu_ns / 1e9);
	return metric_writer_error(w);
}
