/* config_parse: the parts of the configuration parser (config.c) that live
 * in their own files, one concern each. Internal to config/; every function
 * follows yaml_tree.h's contract: 0, or a negative errno with the error
 * placed in c->err. */
#ifndef HALFOPEN_CONFIG_PARSE_H
#define HALFOPEN_CONFIG_PARSE_H

#include "config/config.h"
#include "config/yaml_tree.h"

/* config.c: path_idle_timeout (a duration or "conntrack") into the
 * uint32_t at out (a yfield reader). */
int config_parse_path_idle(struct ytree *c, yaml_node_t *n, const char *path, void *out);

/* services.c: the services list into cfg->services; cfg->stale_after_ms
 * must already hold the default each service inherits. */
int config_parse_services(struct ytree *c, yaml_node_t *n, struct config *cfg);

/* service_match.c: what a service matches, ports and peer networks, into
 * the struct service_config at svc (yfield readers). */
int service_parse_ports(struct ytree *c, yaml_node_t *n, const char *path, void *svc);
int service_parse_cidrs(struct ytree *c, yaml_node_t *n, const char *path, void *svc);

/* service_enforce.c: services[].enforce into svc->enforce; svc->cidrs and
 * svc->path_idle_ms must be parsed already. */
int service_parse_enforce(struct ytree *c, yaml_node_t *n, const char *path, void *svc);

#endif
