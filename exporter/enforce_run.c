#include "enforce_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "collectors/enforce.h"
#include "collectors/netns.h"
#include "exporter/log.h"

static int pass_fn(void *arg)
{
	return enforce_pass(arg);
}

/* What the passes of one collection did, in the log: dry-run findings
 * and what was set at INFO, reverts (once per socket by construction) at
 * WARN, socket errors once per process (the metric keeps counting). */
static void log_passes(const struct enforce *e, bool dry_run, bool *errors_logged)
{
	static const char *const opt[2] = {"keepalive", "user_timeout"};
	struct enforce_service_info si;

	for (size_t i = 0; i < enforce_service_count(e); i++) {
		if (!enforce_service_get(e, i, &si))
			continue;
		for (int o = 0; o < 2; o++) {
			const struct {
				uint64_t n;
				enum log_level level;
				const char *msg;
			} ev[] = {
			    {si.last->set[o], LOG_LEVEL_INFO,
			     dry_run ? "Would enforce on sockets without it (dry run)"
				     : "Enforced on sockets without it"},
			    {si.last->reverted[o], LOG_LEVEL_WARN,
			     "An application turned off what enforce had set; left as it wants, "
			     "not "
			     "set again"},
			    {*errors_logged ? 0 : si.last->errors[o], LOG_LEVEL_WARN,
			     "Enforce failed on some sockets (counted in "
			     "halfopen_enforce_errors_total; logged once)"},
			};

			for (size_t k = 0; k < sizeof(ev) / sizeof(ev[0]); k++) {
				char n[24];

				if (!ev[k].n)
					continue;
				snprintf(n, sizeof(n), "%" PRIu64, ev[k].n);
				log_kv(ev[k].level, ev[k].msg, "service", si.name, "direction",
				       direction_name(si.direction), "option", opt[o], "sockets", n,
				       NULL);
				*errors_logged |= k == 2;
			}
		}
	}
}

int enforce_run_passes(struct enforce *e, const struct config *cfg, struct netns_registry *nsreg,
		       bool dry_run, bool *errors_logged)
{
	if (!e || !config_wants_enforce(cfg))
		return 0;
	for (size_t i = 0; i < netns_registry_count(nsreg); i++) {
		int r = netns_registry_run_in(nsreg, i, pass_fn, e);

		if (r == -ENOTRECOVERABLE)
			return r; /* nothing more may run on this thread */
		if (r < 0 && r != -ENOENT)
			enforce_pass_failed(e);
	}
	enforce_end_collection(e);
	log_passes(e, dry_run, errors_logged);
	return 0;
}
