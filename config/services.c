/* services: the configuration's services list, one entry at a time: its
 * name, direction and the optional settings it overrides or adds. */
#include "config/config_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == ':' || ch == '-';
}

/* Where a service's name goes, and the services before it. */
struct name_slot {
	const struct config *cfg;
	size_t idx;
};

/* A service name: a Prometheus label value that cannot collide with the
 * names the exporter makes up itself, nor with an earlier service. */
static int parse_name(struct ytree *c, yaml_node_t *n, const char *path, void *slot)
{
	const struct config *cfg = ((struct name_slot *)slot)->cfg;
	size_t idx = ((struct name_slot *)slot)->idx;
	char shown[YTREE_SHOW_SIZE], bad[YTREE_SHOW_SIZE];
	const char *s = NULL;
	size_t len, i;
	int rc;

	rc = ytree_scalar(c, n, path, "a service name", &s);
	if (rc)
		return rc;
	len = n->data.scalar.length;
	ytree_show(shown, sizeof(shown), s, len);
	if (len == 0)
		return ytree_fail(c, n, path, "name must not be empty");
	if (len > NAME_MAX_LEN)
		return ytree_fail(c, n, path, "name \"%s\" is %zu characters long; at most %d",
				  shown, len, NAME_MAX_LEN);
	for (i = 0; i < len; i++)
		if (!name_char_ok(s[i]))
			return ytree_fail(
			    c, n, path,
			    "name \"%s\" contains \"%s\"; allowed: letters, digits, _ . : -", shown,
			    ytree_show(bad, sizeof(bad), s + i, 1));
	if (strcmp(s, "unmatched") == 0)
		return ytree_fail(c, n, path,
				  "name \"unmatched\" is reserved for sockets no service claims; "
				  "pick another");
	if (strncmp(s, "listen_", 7) == 0)
		return ytree_fail(
		    c, n, path,
		    "name \"%s\": names starting with \"listen_\" are reserved for the "
		    "automatic listening-port services; pick another",
		    shown);
	for (i = 0; i < idx; i++)
		if (cfg->services[i].name && strcmp(cfg->services[i].name, s) == 0)
			return ytree_fail(
			    c, n, path,
			    "duplicate service name \"%s\"; services[%zu] already uses it", shown,
			    i);
	cfg->services[idx].name = strndup(s, len);
	if (!cfg->services[idx].name)
		return ytree_nomem(c);
	return 0;
}

static int parse_direction(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	/* Indexed by enum direction. */
	static const char *const names[] = {"inbound", "outbound"};
	char shown[YTREE_SHOW_SIZE];
	size_t i;
	int rc;

	rc = ytree_choice(c, n, path, "inbound or outbound", names, YTREE_N(names), &i, shown);
	if (rc == -ENOENT)
		return ytree_fail(c, n, path,
				  "expected inbound (match the local port) or outbound (match "
				  "the remote port), got \"%s\"",
				  shown);
	if (rc)
		return rc;
	*(enum direction *)out = (enum direction)i;
	return 0;
}

/* Contract: services[idx] into cfg->services[idx], its keys read in table
 * order: enforce checks cidrs. It inherits cfg->stale_after_ms. */
static int parse_service(struct ytree *c, yaml_node_t *n, const char *path, size_t idx,
			 void *config)
{
	struct config *cfg = config;
	struct service_config *svc = &cfg->services[idx];
	struct name_slot name = {cfg, idx};
	struct yfield f[] = {
	    {"name", parse_name, &name},
	    {"direction", parse_direction, &svc->direction},
	    {"ports", service_parse_ports, svc},
	    {"cidrs", service_parse_cidrs, svc},
	    {"stale_after", yread_duration, &svc->stale_after_ms},
	    {"destroy_after", yread_duration, &svc->destroy_after_ms},
	    {"enforce", service_parse_enforce, svc},
	};

	svc->stale_after_ms = cfg->stale_after_ms;
	return ytree_map(c, n, path, "a service (a mapping with name, direction and ports)", f,
			 YTREE_N(f), 3);
}

int config_parse_services(struct ytree *c, yaml_node_t *n, struct config *cfg)
{
	static const struct ylist services = {
	    .want = "a list of services",
	    .noun = "services",
	    .max = CONFIG_MAX_SERVICES,
	    .size = sizeof(struct service_config),
	};
	int rc;

	/* The count is set before any entry is parsed, so config_free() sees
	 * every partly filled one. */
	cfg->services = ytree_items(c, n, "services", &services, &cfg->n_services, &rc);
	if (!cfg->services)
		return rc;
	return ytree_each(c, n, "services", parse_service, cfg);
}
