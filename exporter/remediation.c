#include "remediation.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "collectors/netns.h"
#include "collectors/sockdestroy.h"
#include "collectors/suspects.h"
#include "common/endpoint.h"
#include "exporter/log.h"

/* remediation_ops.destroy_after_ms: the configured service's
 * destroy_after, by its id (the index in the config the collection just
 * used); auto and unmatched services (SERVICE_ID_NONE) have none. */
static uint32_t destroy_after_of(void *ctx, uint32_t service_id)
{
	const struct remediation_env *env = ctx;

	return service_id < env->cfg->n_services ? env->cfg->services[service_id].destroy_after_ms
						 : 0;
}

/* remediation_ops.destroy: SOCK_DESTROY through the handle of the
 * socket's namespace (indices are those of the collection just done),
 * and one log line either way. */
static int destroy_suspect(void *ctx, const struct suspect_info *s, bool dry_run)
{
	const struct remediation_env *env = ctx;
	const struct netns_entry *e = s->ns_index < netns_registry_count(env->nsreg)
					  ? netns_registry_get(env->nsreg, s->ns_index)
					  : NULL;
	struct sockdestroy_target t;
	char local[ENDPOINT_STRLEN], peer[ENDPOINT_STRLEN], ms[24], ns[12], pod[320];
	const char *dir = direction_name(s->direction);
	int r = 0;

	suspect_destroy_target(s, &t);
	if (!dry_run)
		r = e ? sockdestroy(e->sk, &t) : -ENOENT;
	format_endpoint(s->family, s->saddr, s->sport, local, sizeof(local));
	format_endpoint(s->family, s->daddr, s->dport, peer, sizeof(peer));
	snprintf(ms, sizeof(ms), "%" PRIu32, s->unanswered_ms);
	snprintf(ns, sizeof(ns), "%" PRIu32, s->ns_index);
	snprintf(pod, sizeof(pod), "%s%s%s", s->pod_namespace, s->pod[0] ? "/" : "", s->pod);
	if (dry_run)
		log_kv(LOG_LEVEL_INFO, "Would destroy suspect socket (dry run)", "service",
		       s->service, "direction", dir, "local", local, "peer", peer, "unanswered_ms",
		       ms, "netns", ns, "pod", pod, NULL);
	else if (r == 0)
		log_kv(LOG_LEVEL_WARN, "Destroyed suspect socket", "service", s->service,
		       "direction", dir, "local", local, "peer", peer, "unanswered_ms", ms, "netns",
		       ns, "pod", pod, NULL);
	else if (r == -ENOENT)
		log_kv(LOG_LEVEL_DEBUG, "Suspect socket already gone", "service", s->service,
		       "local", local, "peer", peer, NULL);
	else
		log_kv(LOG_LEVEL_ERROR, "Destroying suspect socket failed", "service", s->service,
		       "direction", dir, "local", local, "peer", peer, "err", strerror(-r), NULL);
	return r;
}

size_t remediation_run(struct suspects *t, const struct remediation_env *env, uint64_t now_ms,
		       bool dry_run)
{
	const struct remediation_ops ops = {destroy_after_of, destroy_suspect, (void *)env};

	return suspects_remediate(t, now_ms, dry_run, &ops);
}

/* A reload that adds destroy_after later finds CAP_NET_ADMIN dropped;
 * its attempts then fail with EPERM, logged. */
bool remediation_needs_destroy(const struct config *cfg, bool dry_run)
{
	if (dry_run)
		return false;
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].destroy_after_ms)
			return true;
	return false;
}
