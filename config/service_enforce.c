/* service_enforce: services[].enforce, the keepalive and TCP_USER_TIMEOUT
 * settings the BPF retrofit (collectors/enforce.h) gives a service's
 * sockets, read from the configuration. */
#include "config/config_parse.h"

/* enforce.keepalive: {idle, interval, count}. idle may be left out when
 * the service has a path_idle_timeout in seconds: it is then half of it
 * (path_keepalive_idle_s), and interval must leave a lost first probe
 * room for one retry before the path forgets the flow. */
static int parse_keepalive(struct ytree *c, yaml_node_t *n, const char *path, void *service)
{
	struct service_config *svc = service;
	struct enforce_config *e = &svc->enforce;
	/* The kernel's units and ranges: TCP_KEEPIDLE, TCP_KEEPINTVL and
	 * TCP_KEEPCNT. interval and count are required (first). */
	struct yfield f[] = {
	    {"interval", yread_bounded, &(struct ybounded){&e->interval_s, 1, 32767, true}},
	    {"count", yread_bounded, &(struct ybounded){&e->count, 1, 127}},
	    {"idle", yread_bounded, &(struct ybounded){&e->idle_s, 1, 32767, true}},
	};
	uint32_t path_s = svc->path_idle_ms / 1000u;
	int rc;

	rc = ytree_map(c, n, path, "a mapping {idle: 60s, interval: 10s, count: 6}", f, YTREE_N(f),
		       2);
	if (rc)
		return rc;
	if (!f[2].value) {
		e->idle_s = path_keepalive_idle_s(svc->path_idle_ms);
		if (!e->idle_s)
			return ytree_fail(c, n, path,
					  "needs idle, or a path_idle_timeout given as a duration "
					  "(on the service or in defaults) to derive it from");
		if (path_s <= e->idle_s + 1)
			return ytree_fail(c, n, path,
					  "a path_idle_timeout of %ums leaves no room for a probe "
					  "and a retry in whole seconds; give idle",
					  svc->path_idle_ms);
		if (e->idle_s + e->interval_s >= path_s)
			return ytree_fail(
			    c, f[0].value, f[0].path,
			    "idle defaults to %us (half the path_idle_timeout of %us); with an "
			    "interval of %us a lost first probe is retried after the path "
			    "forgets the flow: use an interval below %us or give idle",
			    e->idle_s, path_s, e->interval_s, path_s - e->idle_s);
	}
	e->keepalive = true;
	return 0;
}

/* TCP_USER_TIMEOUT takes an int of milliseconds. */
static int parse_user_timeout(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	int rc = ytree_duration(c, n, path, out);

	if (rc)
		return rc;
	if (*(uint32_t *)out > 0x7fffffffu)
		return ytree_fail(c, n, path, "must be at most 24d (2^31-1 ms)");
	return 0;
}

/* Contract: keepalive and/or user_timeout into svc->enforce. The BPF side
 * matches ports only, so a service with cidrs cannot enforce
 * (docs/remediation.md). */
int service_parse_enforce(struct ytree *c, yaml_node_t *n, const char *path, void *service)
{
	struct service_config *svc = service;
	struct yfield f[] = {
	    {"keepalive", parse_keepalive, svc},
	    {"user_timeout", parse_user_timeout, &svc->enforce.user_timeout_ms},
	};
	int rc;

	rc = ytree_keys(c, n, path, "a mapping with keepalive and/or user_timeout", f, YTREE_N(f),
			0);
	if (rc)
		return rc;
	if (!f[0].value && !f[1].value)
		return ytree_fail(c, n, path, "needs keepalive, user_timeout or both");
	if (svc->n_cidrs)
		return ytree_fail(c, n, path,
				  "cannot be combined with cidrs: the kernel side matches ports "
				  "only; split the service or drop its cidrs");
	return ytree_read(c, f, YTREE_N(f));
}
