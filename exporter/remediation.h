/* remediation: the exporter's side of destroy_after. The suspect tracker
 * decides which sockets are due (collectors/suspects_remediation.c); this
 * answers its questions from the config in force and destroys through
 * the handle of each socket's namespace, logging one line per socket. */
#ifndef HALFOPEN_REMEDIATION_H
#define HALFOPEN_REMEDIATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct netns_registry;
struct suspects;

/* What a pass needs: the config and the namespaces of the collection just
 * done (service ids and namespace indices refer to them). */
struct remediation_env {
	const struct config *cfg;
	struct netns_registry *nsreg;
};

/* The remediation pass after a collection: suspects_remediate() with
 * destroy_after looked up by service id in env->cfg and SOCK_DESTROY
 * (or, dry run, only the log line). Returns the sockets acted on. */
size_t remediation_run(struct suspects *t, const struct remediation_env *env, uint64_t now_ms,
		       bool dry_run);
/* Whether cfg has a service that opted into remediation and it is not a
 * dry run: only then is CAP_NET_ADMIN kept. */
bool remediation_needs_destroy(const struct config *cfg, bool dry_run);

#endif
