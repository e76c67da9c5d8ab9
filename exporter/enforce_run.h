/* enforce_run: the exporter's side of enforce after each collection: one
 * BPF pass in every namespace the collector covers, then the outcome in
 * the log. */
#ifndef HALFOPEN_ENFORCE_RUN_H
#define HALFOPEN_ENFORCE_RUN_H

#include <stdbool.h>

#include "config/config.h"

struct enforce;
struct netns_registry;

/* Nothing when e is NULL or cfg asks for no enforce. An iterator walks
 * only the namespace it is created in, so each namespace of nsreg is
 * entered in turn. Logs what was set (dry_run: what would be) at INFO,
 * reverts at WARN, socket errors once per process (*errors_logged).
 * 0, or -ENOTRECOVERABLE when returning from a namespace failed: the
 * calling thread is then in an unknown namespace (collectors/netns.h),
 * the passes stop there and the caller must stop collecting with it. */
int enforce_run_passes(struct enforce *e, const struct config *cfg,
			struct netns_registry *nsreg, bool dry_run, bool *errors_logged);

#endif
