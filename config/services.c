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

	rc = ytree_text(c, n, path, "a service name", &s, shown);
	if (rc)
		return rc;
	len = n->data.scalar.length;
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

/* inbound or outbound into the enum direction at out. */
static int parse_direction(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	/* Indexed by enum direction. */
	static const char *const names[] = {"inbound", "outbound"};
	static const struct ychoice choice = {
	    "inbound or outbound", names, 2,
	    "inbound (match the local port) or outbound (match the remote port)"};
	size_t i;
	int rc = ytree_choice(c, n, path, &choice, &i);

	if (!rc)
		*(enum direction *)out = (enum direction)i;
	return rc;
}

/* Contract: services[idx] into cfg->services[idx], its keys read in table
 * order: enforce checks cidrs and reads path_idle_timeout. It inherits
 * cfg->stale_after_ms and cfg->path_idle_ms. */
static int parse_service(struct ytree *c, yaml_node_t *n, const char *path, void *service,
			 void *config)
{
	struct config *cfg = config;
	struct service_config *svc = service;
	struct name_slot name = {cfg, (size_t)(svc - cfg->services)};
	struct yfield f[] = {
	    {"name", parse_name, &name},
	    {"direction", parse_direction, &svc->direction},
	    {"ports", service_parse_ports, svc},
	    {"cidrs", service_parse_cidrs, svc},
	    {"stale_after", yread_duration, &svc->stale_after_ms},
	    {"destroy_after", yread_duration, &svc->destroy_after_ms},
	    {"path_idle_timeout", config_parse_path_idle, &svc->path_idle_ms},
	    {"enforce", service_parse_enforce, svc},
	};

	svc->stale_after_ms = cfg->stale_after_ms;
	svc->path_idle_ms = cfg->path_idle_ms;
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
	    .item = parse_service,
	};

	return ytree_list(c, n, "services", &services, &cfg->services, &cfg->n_services, cfg);
}

const char *direction_name(enum direction d)
{
	return d == DIRECTION_OUTBOUND ? "outbound" : "inbound";
}
