#include "config/config.h"
#include "config/yaml_tree.h"

#include "common/buf.h"
#include "common/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml.h>

/* A config is a few kilobytes; the cap keeps a wrong path (a log file, a
 * device) from being slurped whole, and bounds libyaml's work. */
#define CONFIG_MAX_BYTES (1u << 20)

#define MAX_PORTS     1024
#define MAX_CIDRS     256
#define MAX_LISTENING 1024
#define NAME_MAX_LEN  64

/* libyaml 0.2.5 spends time proportional to the flow nesting depth on every
 * token and compares every new anchor with all earlier ones, so a hostile
 * megabyte of "[[[[" or "&a1 &a2 ..." takes minutes. The schema nests four
 * levels deep and needs a handful of anchors; these limits are checked on
 * an event pass before the document is built. */
#define MAX_DEPTH   32
#define MAX_ANCHORS 256
#define MAX_ALIASES 4096

/* Decimal digits at *p, advanced past them. Values above 99999999 saturate:
 * every caller's limit is far below, and the range error quotes the text.
 * false when *p is no digit. */
static bool scan_number(const char **p, uint32_t *out)
{
	uint32_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
		if (v < 100000000u)
			v = v * 10 + (uint32_t)(*s - '0');
	*p = s;
	*out = v;
	return true;
}

/* An unquoted whole number in lo..hi. */
static int parse_uint(struct ytree *c, const yaml_node_t *n, const char *path, uint32_t lo,
		      uint32_t hi, uint32_t *out)
{
	char want[64], shown[YTREE_SHOW_SIZE];
	const char *s, *p;
	uint32_t v;
	int rc;

	snprintf(want, sizeof(want), "a whole number %u..%u", lo, hi);
	rc = ytree_scalar(c, n, path, want, &s);
	if (rc)
		return rc;
	ytree_show(shown, sizeof(shown), s, n->data.scalar.length);
	p = s;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !scan_number(&p, &v) || *p)
		return ytree_fail(c, n, path, "expected %s, got \"%s\"", want, shown);
	if (v < lo || v > hi)
		return ytree_fail(c, n, path, "%s is out of range; allowed: %u..%u", shown, lo, hi);
	*out = v;
	return 0;
}

static int parse_duration_field(struct ytree *c, const yaml_node_t *n, const char *path,
				uint32_t *out)
{
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	uint32_t ms;
	int rc;

	rc = ytree_scalar(c, n, path, "a duration such as 30s, 5m or 1h30m", &s);
	if (rc)
		return rc;
	ytree_show(shown, sizeof(shown), s, n->data.scalar.length);
	rc = parse_duration_ms(s, &ms);
	if (rc == -ERANGE)
		return ytree_fail(c, n, path, "duration %s is too long; at most 49d (2^32-1 ms)",
				  shown);
	if (rc)
		return ytree_fail(
		    c, n, path,
		    "\"%s\" is not a duration; write a number with a unit ms, s, m, h "
		    "or d, largest first, e.g. 500ms, 30s, 5m, 1h30m",
		    shown);
	if (ms == 0)
		return ytree_fail(c, n, path, "must be greater than 0");
	*out = ms;
	return 0;
}

static int parse_defaults(struct ytree *c, yaml_node_t *n, struct config *cfg)
{
	struct yfield f[] = {
	    {"stale_after", NULL, NULL},
	    {"listening_ports", NULL, NULL},
	    {"max_listening_services", NULL, NULL},
	    {"unmatched", NULL, NULL},
	};
	char d[YTREE_SHOW_SIZE + 2], path[YTREE_PATH_LEN], shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return ytree_fail(c, n, "defaults", "expected a mapping, got %s",
				  ytree_describe(n, d, sizeof(d)));
	rc = ytree_mapping(c, n, "defaults", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (f[0].value) {
		rc = parse_duration_field(c, f[0].value, "defaults.stale_after",
					  &cfg->stale_after_ms);
		if (rc)
			return rc;
	}
	if (f[1].value) {
		rc = ytree_bool(c, f[1].value, "defaults.listening_ports", &cfg->listening_ports);
		if (rc)
			return rc;
	}
	if (f[2].value) {
		rc = parse_uint(c, f[2].value, "defaults.max_listening_services", 1, MAX_LISTENING,
				&cfg->max_listening_services);
		if (rc)
			return rc;
	}
	if (f[3].value) {
		ytree_path_key(path, "defaults", "unmatched");
		rc = ytree_scalar(c, f[3].value, path, "ignore or count", &s);
		if (rc)
			return rc;
		if (strcmp(s, "ignore") == 0)
			cfg->count_unmatched = false;
		else if (strcmp(s, "count") == 0)
			cfg->count_unmatched = true;
		else
			return ytree_fail(
			    c, f[3].value, path, "expected ignore or count, got \"%s\"",
			    ytree_show(shown, sizeof(shown), s, f[3].value->data.scalar.length));
	}
	return 0;
}

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == ':' || ch == '-';
}

/* A service name: a Prometheus label value that cannot collide with the
 * names the exporter makes up itself, nor with an earlier service. */
static int parse_name(struct ytree *c, const yaml_node_t *n, const char *path,
		      const struct config *cfg, size_t idx, char **out)
{
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
	*out = strndup(s, len);
	if (!*out)
		return ytree_nomem(c);
	return 0;
}

/* One ports entry: N or "LO-HI", quoted or not. */
static int parse_port(struct ytree *c, const yaml_node_t *n, const char *path,
		      struct port_range *out)
{
	char shown[YTREE_SHOW_SIZE];
	const char *s, *p;
	uint32_t lo, hi;
	int rc;

	rc = ytree_scalar(c, n, path, "a port 1..65535 or a range \"LO-HI\"", &s);
	if (rc)
		return rc;
	ytree_show(shown, sizeof(shown), s, n->data.scalar.length);
	p = s;
	if (!scan_number(&p, &lo))
		goto syntax;
	hi = lo;
	if (*p == '-') {
		p++;
		if (!scan_number(&p, &hi))
			goto syntax;
	}
	if (*p)
		goto syntax;
	if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
		return ytree_fail(c, n, path, "port \"%s\" is out of range; ports are 1..65535",
				  shown);
	if (lo > hi)
		return ytree_fail(c, n, path, "port range %u-%u is reversed; write \"%u-%u\"", lo,
				  hi, hi, lo);
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
syntax:
	return ytree_fail(c, n, path,
			  "\"%s\" is not a port; write a number 1..65535 or a quoted range such as "
			  "\"6000-6010\"",
			  shown);
}

static int parse_ports(struct ytree *c, const yaml_node_t *n, const char *path,
		       struct service_config *svc)
{
	char d[YTREE_SHOW_SIZE + 2], child[YTREE_PATH_LEN];
	size_t count, i;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return ytree_fail(c, n, path,
				  "expected a list of ports such as [5432, \"6000-6010\"], got %s",
				  ytree_describe(n, d, sizeof(d)));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count == 0)
		return ytree_fail(c, n, path, "must list at least one port");
	if (count > MAX_PORTS)
		return ytree_fail(c, n, path, "%zu entries; at most %d, use \"LO-HI\" ranges",
				  count, MAX_PORTS);
	svc->ports = calloc(count, sizeof(*svc->ports));
	if (!svc->ports)
		return ytree_nomem(c);
	for (i = 0; i < count; i++) {
		yaml_node_t *item = ytree_node(c, n->data.sequence.items.start[i]);

		ytree_path_idx(child, path, i);
		if (!item)
			return ytree_fail(c, n, child, "malformed list");
		rc = parse_port(c, item, child, &svc->ports[i]);
		if (rc)
			return rc;
		svc->n_ports = i + 1;
	}
	return 0;
}

/* "addr/prefix" for either family, host bits clear. */
static int parse_cidr(struct ytree *c, const yaml_node_t *n, const char *path, struct cidr *out)
{
	char shown[YTREE_SHOW_SIZE], addr[INET6_ADDRSTRLEN + 1], net[INET6_ADDRSTRLEN];
	const char *s, *slash, *p;
	uint8_t masked[16];
	size_t alen, i;
	uint32_t prefix, max;
	int rc;

	rc = ytree_scalar(c, n, path, "a network such as 10.0.0.0/8 or fd00::/8", &s);
	if (rc)
		return rc;
	ytree_show(shown, sizeof(shown), s, n->data.scalar.length);
	memset(out, 0, sizeof(*out));
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		goto syntax;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	out->family = memchr(addr, ':', alen) ? AF_INET6 : AF_INET;
	max = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, addr, out->addr) != 1)
		goto syntax;
	if (!slash)
		return ytree_fail(c, n, path,
				  "\"%s\" has no prefix length; write %s/%u for this one address",
				  shown, addr, max);
	p = slash + 1;
	if (!scan_number(&p, &prefix) || *p || p - slash > 4)
		goto syntax;
	if (prefix > max)
		return ytree_fail(c, n, path, "prefix /%u is out of range for %s (0..%u)", prefix,
				  out->family == AF_INET ? "IPv4" : "IPv6", max);
	out->prefix = (uint8_t)prefix;
	memcpy(masked, out->addr, sizeof(masked));
	for (i = 0; i < max / 8; i++) {
		if (prefix <= i * 8)
			masked[i] = 0;
		else if (prefix < i * 8 + 8)
			masked[i] &= (uint8_t)(0xff << (8 - (prefix - i * 8)));
	}
	if (memcmp(masked, out->addr, sizeof(masked)) != 0) {
		if (!inet_ntop(out->family, masked, net, sizeof(net)))
			net[0] = '\0';
		return ytree_fail(c, n, path, "%s has host bits set; did you mean %s/%u?", shown,
				  net, prefix);
	}
	return 0;
syntax:
	return ytree_fail(c, n, path,
			  "\"%s\" is not a network; write address/prefix such as 10.0.0.0/8 or "
			  "fd00::/8",
			  shown);
}

static int parse_cidrs(struct ytree *c, const yaml_node_t *n, const char *path,
		       struct service_config *svc)
{
	char d[YTREE_SHOW_SIZE + 2], child[YTREE_PATH_LEN];
	size_t count, i;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return ytree_fail(c, n, path,
				  "expected a list of networks such as [\"10.0.0.0/8\"], got %s",
				  ytree_describe(n, d, sizeof(d)));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	/* An empty list could mean "no peer" or "any peer"; neither guess is
	 * safe, so make the author say which. */
	if (count == 0)
		return ytree_fail(
		    c, n, path,
		    "is empty; list at least one network, or remove cidrs to match any "
		    "peer");
	if (count > MAX_CIDRS)
		return ytree_fail(c, n, path, "%zu entries; at most %d", count, MAX_CIDRS);
	svc->cidrs = calloc(count, sizeof(*svc->cidrs));
	if (!svc->cidrs)
		return ytree_nomem(c);
	for (i = 0; i < count; i++) {
		yaml_node_t *item = ytree_node(c, n->data.sequence.items.start[i]);

		ytree_path_idx(child, path, i);
		if (!item)
			return ytree_fail(c, n, child, "malformed list");
		rc = parse_cidr(c, item, child, &svc->cidrs[i]);
		if (rc)
			return rc;
		svc->n_cidrs = i + 1;
	}
	return 0;
}

/* A duration in whole seconds lo..hi, for the kernel's keepalive knobs. */
static int parse_seconds_field(struct ytree *c, const yaml_node_t *n, const char *path, uint32_t lo,
			       uint32_t hi, uint32_t *out)
{
	uint32_t ms;
	int rc = parse_duration_field(c, n, path, &ms);

	if (rc)
		return rc;
	if (ms % 1000 || ms / 1000 < lo || ms / 1000 > hi)
		return ytree_fail(c, n, path,
				  "must be whole seconds from %us to %us (the kernel's unit "
				  "and range)",
				  lo, hi);
	*out = ms / 1000;
	return 0;
}

/* enforce.keepalive: {idle, interval, count}, all required. */
static int parse_enforce_keepalive(struct ytree *c, yaml_node_t *n, const char *path,
				   struct enforce_config *e)
{
	struct yfield f[] = {{"idle", NULL, NULL}, {"interval", NULL, NULL}, {"count", NULL, NULL}};
	char d[YTREE_SHOW_SIZE + 2], child[YTREE_PATH_LEN];
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return ytree_fail(c, n, path,
				  "expected a mapping {idle: 60s, interval: 10s, count: 6}, got %s",
				  ytree_describe(n, d, sizeof(d)));
	rc = ytree_mapping(c, n, path, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	for (size_t i = 0; i < 3; i++)
		if (!f[i].value)
			return ytree_fail(c, n, path, "missing required key \"%s\"", f[i].key);
	ytree_path_key(child, path, "idle");
	rc = parse_seconds_field(c, f[0].value, child, 1, 32767, &e->idle_s);
	if (rc)
		return rc;
	ytree_path_key(child, path, "interval");
	rc = parse_seconds_field(c, f[1].value, child, 1, 32767, &e->interval_s);
	if (rc)
		return rc;
	ytree_path_key(child, path, "count");
	rc = parse_uint(c, f[2].value, child, 1, 127, &e->count);
	if (rc)
		return rc;
	e->keepalive = true;
	return 0;
}

/* services[].enforce: keepalive and/or user_timeout. The BPF side matches
 * ports only, so a service with cidrs cannot enforce (docs/remediation.md). */
static int parse_enforce(struct ytree *c, yaml_node_t *n, const char *path,
			 struct service_config *svc)
{
	struct yfield f[] = {{"keepalive", NULL, NULL}, {"user_timeout", NULL, NULL}};
	char d[YTREE_SHOW_SIZE + 2], child[YTREE_PATH_LEN];
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return ytree_fail(c, n, path,
				  "expected a mapping with keepalive and/or user_timeout, got %s",
				  ytree_describe(n, d, sizeof(d)));
	rc = ytree_mapping(c, n, path, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (!f[0].value && !f[1].value)
		return ytree_fail(c, n, path, "needs keepalive, user_timeout or both");
	if (svc->n_cidrs)
		return ytree_fail(c, n, path,
				  "cannot be combined with cidrs: the kernel side matches ports "
				  "only; split the service or drop its cidrs");
	if (f[0].value) {
		ytree_path_key(child, path, "keepalive");
		rc = parse_enforce_keepalive(c, f[0].value, child, &svc->enforce);
		if (rc)
			return rc;
	}
	if (f[1].value) {
		ytree_path_key(child, path, "user_timeout");
		rc = parse_duration_field(c, f[1].value, child, &svc->enforce.user_timeout_ms);
		if (rc)
			return rc;
		if (svc->enforce.user_timeout_ms > 0x7fffffffu)
			return ytree_fail(c, f[1].value, child, "must be at most 24d (2^31-1 ms)");
	}
	return 0;
}

/* services[idx] into cfg->services[idx]; cfg->stale_after_ms must already
 * hold the default it inherits. */
static int parse_service(struct ytree *c, yaml_node_t *n, const char *path, struct config *cfg,
			 size_t idx)
{
	struct yfield f[] = {
	    {"name", NULL, NULL},  {"direction", NULL, NULL},	{"ports", NULL, NULL},
	    {"cidrs", NULL, NULL}, {"stale_after", NULL, NULL}, {"destroy_after", NULL, NULL},
	    {"enforce", NULL, NULL},
	};
	struct service_config *svc = &cfg->services[idx];
	char d[YTREE_SHOW_SIZE + 2], child[YTREE_PATH_LEN], shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return ytree_fail(c, n, path,
				  "expected a service (a mapping with name, direction and "
				  "ports), got %s",
				  ytree_describe(n, d, sizeof(d)));
	rc = ytree_mapping(c, n, path, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	for (i = 0; i < 3; i++)
		if (!f[i].value)
			return ytree_fail(c, n, path, "missing required key \"%s\"", f[i].key);

	ytree_path_key(child, path, "name");
	rc = parse_name(c, f[0].value, child, cfg, idx, &svc->name);
	if (rc)
		return rc;

	ytree_path_key(child, path, "direction");
	rc = ytree_scalar(c, f[1].value, child, "inbound or outbound", &s);
	if (rc)
		return rc;
	if (strcmp(s, direction_name(DIRECTION_INBOUND)) == 0)
		svc->direction = DIRECTION_INBOUND;
	else if (strcmp(s, direction_name(DIRECTION_OUTBOUND)) == 0)
		svc->direction = DIRECTION_OUTBOUND;
	else
		return ytree_fail(
		    c, f[1].value, child,
		    "expected inbound (match the local port) or outbound (match the "
		    "remote port), got \"%s\"",
		    ytree_show(shown, sizeof(shown), s, f[1].value->data.scalar.length));

	ytree_path_key(child, path, "ports");
	rc = parse_ports(c, f[2].value, child, svc);
	if (rc)
		return rc;

	if (f[3].value) {
		ytree_path_key(child, path, "cidrs");
		rc = parse_cidrs(c, f[3].value, child, svc);
		if (rc)
			return rc;
	}

	svc->stale_after_ms = cfg->stale_after_ms;
	if (f[4].value) {
		ytree_path_key(child, path, "stale_after");
		rc = parse_duration_field(c, f[4].value, child, &svc->stale_after_ms);
		if (rc)
			return rc;
	}
	if (f[5].value) {
		ytree_path_key(child, path, "destroy_after");
		rc = parse_duration_field(c, f[5].value, child, &svc->destroy_after_ms);
		if (rc)
			return rc;
	}
	if (f[6].value) {
		ytree_path_key(child, path, "enforce");
		rc = parse_enforce(c, f[6].value, child, svc);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_services(struct ytree *c, yaml_node_t *n, struct config *cfg)
{
	char d[YTREE_SHOW_SIZE + 2], path[YTREE_PATH_LEN];
	size_t count, i;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return ytree_fail(c, n, "services", "expected a list of services, got %s",
				  ytree_describe(n, d, sizeof(d)));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > CONFIG_MAX_SERVICES)
		return ytree_fail(c, n, "services", "%zu services; at most %d", count,
				  CONFIG_MAX_SERVICES);
	if (count == 0)
		return 0;
	cfg->services = calloc(count, sizeof(*cfg->services));
	if (!cfg->services)
		return ytree_nomem(c);
	/* Counted up front so config_free() sees every partly filled entry. */
	cfg->n_services = count;
	for (i = 0; i < count; i++) {
		yaml_node_t *item = ytree_node(c, n->data.sequence.items.start[i]);

		ytree_path_idx(path, "services", i);
		if (!item)
			return ytree_fail(c, n, path, "malformed list");
		rc = parse_service(c, item, path, cfg, i);
		if (rc)
			return rc;
	}
	return 0;
}

/* The whole document into cfg, which holds the file defaults on entry.
 * root is NULL for an empty stream. defaults is read before services
 * whatever the file order, since services inherit its stale_after. */
static int parse_root(struct ytree *c, yaml_node_t *root, struct config *cfg)
{
	struct yfield f[] = {{"defaults", NULL, NULL}, {"services", NULL, NULL}};
	char d[YTREE_SHOW_SIZE + 2];
	int rc;

	/* No position: libyaml puts an empty document's null at its end. */
	if (!root || ytree_is_null(root))
		return ytree_fail_at(
		    c, -EINVAL, 0, 0, "",
		    "the configuration is empty and would count nothing; add services, "
		    "or set defaults.listening_ports: true or defaults.unmatched: count");
	if (root->type != YAML_MAPPING_NODE)
		return ytree_fail(
		    c, root, "",
		    "expected a mapping with the keys defaults and services at the top "
		    "level, got %s",
		    ytree_describe(root, d, sizeof(d)));
	rc = ytree_mapping(c, root, "", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	/* An empty "defaults:" or "services:" is what commenting out every
	 * entry leaves behind; it means "none", not a type error. */
	if (f[0].value && !ytree_is_null(f[0].value)) {
		rc = parse_defaults(c, f[0].value, cfg);
		if (rc)
			return rc;
	}
	if (f[1].value && !ytree_is_null(f[1].value)) {
		rc = parse_services(c, f[1].value, cfg);
		if (rc)
			return rc;
	}
	if (cfg->n_services == 0 && !cfg->listening_ports && !cfg->count_unmatched)
		return ytree_fail(
		    c, root, "",
		    "this configuration counts nothing: no services, "
		    "defaults.listening_ports is false and defaults.unmatched is ignore; "
		    "add a service or enable one of them");
	return 0;
}

/* An empty config carrying the defaults a file starts from. These differ
 * from config_default(): a file says what to count, so nothing is counted
 * unless it asks. */
static struct config *config_new(const char *source)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->source = strdup(source);
	if (!cfg->source) {
		free(cfg);
		return NULL;
	}
	cfg->stale_after_ms = CONFIG_DEFAULT_STALE_AFTER_MS;
	cfg->max_listening_services = 64;
	return cfg;
}

int config_load_buffer(const char *name, const char *data, size_t len, struct config **out,
		       struct config_error *err)
{
	struct config_error scratch;
	struct config *cfg = NULL;
	yaml_document_t doc;
	bool have_doc = false;
	struct ytree c = {
	    .what = "configuration",
	    .max_depth = MAX_DEPTH,
	    .max_anchors = MAX_ANCHORS,
	    .max_aliases = MAX_ALIASES,
	};
	int rc;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	c.name = name ? name : "<buffer>";
	c.data = (const unsigned char *)(data ? data : "");
	c.len = len;
	c.err = err;
	if (!out || (!data && len)) {
		rc = ytree_fail_at(&c, -EINVAL, 0, 0, "", "invalid arguments");
		goto out;
	}
	if (len > CONFIG_MAX_BYTES) {
		rc = ytree_fail_at(&c, -EINVAL, 0, 0, "", "larger than 1 MiB");
		goto out;
	}
	rc = ytree_load(&c, &doc);
	if (rc)
		goto out;
	have_doc = true;
	cfg = config_new(c.name);
	if (!cfg) {
		rc = ytree_nomem(&c);
		goto out;
	}
	rc = parse_root(&c, yaml_document_get_root_node(&doc), cfg);
	if (rc)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	if (have_doc)
		yaml_document_delete(&doc);
	return rc;
}

static int io_fail(struct config_error *err, const char *path, int rc, const char *what)
{
	char tmp[128];

	snprintf(err->file, sizeof(err->file), "%s", path);
	err->line = 0;
	err->column = 0;
	err->key[0] = '\0';
	/* Thread-safe: a reload may run beside other threads. */
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, file_error(rc, tmp, sizeof(tmp)));
	return rc;
}

int config_load_file(const char *path, struct config **out, struct config_error *err)
{
	struct config_error scratch;
	struct buf b;
	int rc;

	buf_init(&b);
	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	if (!path || !out) {
		rc = io_fail(err, path ? path : "", -EINVAL, "cannot load");
		goto out;
	}
	rc = file_read_capped(path, CONFIG_MAX_BYTES, &b);
	if (rc == -EFBIG) {
		snprintf(err->file, sizeof(err->file), "%s", path);
		snprintf(err->msg, sizeof(err->msg), "larger than 1 MiB; is it a config file?");
		goto out;
	}
	if (rc) {
		io_fail(err, path, rc, "cannot open");
		goto out;
	}
	rc = config_load_buffer(path, b.data, b.len, out, err);
out:
	buf_free(&b);
	return rc;
}

int config_default(struct config **out)
{
	struct config *cfg;

	if (!out)
		return -EINVAL;
	cfg = config_new("<built-in>");
	if (!cfg)
		return -ENOMEM;
	/* Useful on a host nobody described: what listens is a service,
	 * everything else is still seen as "unmatched". */
	cfg->listening_ports = true;
	cfg->count_unmatched = true;
	*out = cfg;
	return 0;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_services; i++) {
		free(cfg->services[i].name);
		free(cfg->services[i].ports);
		free(cfg->services[i].cidrs);
	}
	free(cfg->services);
	free(cfg->source);
	free(cfg);
}

int config_error_format(const struct config_error *err, struct buf *out)
{
	if (!err || !out)
		return -EINVAL;
	buf_puts(out, err->file);
	if (err->line) {
		buf_printf(out, ":%u", err->line);
		if (err->column)
			buf_printf(out, ":%u", err->column);
	}
	buf_puts(out, ": ");
	if (err->key[0])
		buf_printf(out, "%s: ", err->key);
	buf_puts(out, err->msg);
	return buf_error(out);
}

const char *direction_name(enum direction d)
{
	return d == DIRECTION_OUTBOUND ? "outbound" : "inbound";
}
