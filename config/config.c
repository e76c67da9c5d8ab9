/* config: the exporter's configuration, loaded, defaulted and freed: the
 * top level and its defaults block. The services list is services.c's. */
#include "config/config.h"
#include "config/config_parse.h"

#include "common/buf.h"
#include "common/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A config is a few kilobytes; the cap keeps a wrong path (a log file, a
 * device) from being slurped whole, and bounds libyaml's work. */
#define CONFIG_MAX_BYTES (1u << 20)

#define MAX_LISTENING 1024

/* libyaml 0.2.5 spends time proportional to the flow nesting depth on every
 * token and compares every new anchor with all earlier ones, so a hostile
 * megabyte of "[[[[" or "&a1 &a2 ..." takes minutes. The schema nests four
 * levels deep and needs a handful of anchors; these limits are checked on
 * an event pass before the document is built. */
#define MAX_DEPTH   32
#define MAX_ANCHORS 256
#define MAX_ALIASES 4096

/* defaults.unmatched: ignore (false) or count (true) into *count. */
static int parse_unmatched(struct ytree *c, yaml_node_t *n, const char *path, void *count)
{
	static const char *const names[] = {"ignore", "count"};
	static const struct ychoice choice = {"ignore or count", names, 2, "ignore or count"};
	size_t i;
	int rc = ytree_choice(c, n, path, &choice, &i);

	if (!rc)
		*(bool *)count = i == 1;
	return rc;
}

/* path_idle_timeout: a duration, or the word conntrack (each namespace's
 * nf_conntrack_tcp_timeout_established, read by the collector). */
int config_parse_path_idle(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	int rc;

	rc = ytree_text(c, n, path, "a duration such as 350s, or conntrack", &s, shown);
	if (rc)
		return rc;
	if (strcmp(s, "conntrack") == 0) {
		*(uint32_t *)out = PATH_IDLE_CONNTRACK;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9')
		return ytree_fail(c, n, path,
				  "\"%s\" is neither a duration (350s, 4m, 20m) nor conntrack "
				  "(the namespace's nf_conntrack_tcp_timeout_established)",
				  shown);
	rc = ytree_duration(c, n, path, out);
	if (rc)
		return rc;
	if (*(uint32_t *)out == PATH_IDLE_CONNTRACK)
		return ytree_fail(c, n, path, "must be less than 49d");
	return 0;
}

uint32_t path_keepalive_idle_s(uint32_t path_idle_ms)
{
	uint32_t half_s;

	if (path_idle_ms == PATH_IDLE_UNSET || path_idle_ms == PATH_IDLE_CONNTRACK)
		return 0;
	half_s = path_idle_ms / 2000u;
	if (half_s > 32767u) /* TCP_KEEPIDLE's limit */
		half_s = 32767u;
	return half_s ? half_s : 1u;
}

/* An empty "defaults:" or "services:" is what commenting out every entry
 * leaves behind; it means "none", not a type error. */
static int parse_defaults(struct ytree *c, yaml_node_t *n, const char *path, void *config)
{
	struct config *cfg = config;
	struct yfield f[] = {
	    {"stale_after", yread_duration, &cfg->stale_after_ms},
	    {"path_idle_timeout", config_parse_path_idle, &cfg->path_idle_ms},
	    {"listening_ports", yread_bool, &cfg->listening_ports},
	    {"max_listening_services", yread_bounded,
	     &(struct ybounded){&cfg->max_listening_services, 1, MAX_LISTENING}},
	    {"unmatched", parse_unmatched, &cfg->count_unmatched},
	};

	if (ytree_is_null(n))
		return 0;
	return ytree_map(c, n, path, "a mapping", f, YTREE_N(f), 0);
}

static int parse_services(struct ytree *c, yaml_node_t *n, const char *path, void *config)
{
	(void)path;
	if (ytree_is_null(n))
		return 0;
	return config_parse_services(c, n, config);
}

/* The whole document into cfg, which holds the file defaults on entry.
 * root is NULL for an empty stream. defaults is read before services
 * whatever the file order, since services inherit its stale_after and
 * path_idle_timeout. */
static int parse_root(struct ytree *c, yaml_node_t *root, void *config)
{
	struct config *cfg = config;
	struct yfield f[] = {{"defaults", parse_defaults, cfg}, {"services", parse_services, cfg}};
	int rc;

	/* No position: libyaml puts an empty document's null at its end. */
	if (!root || ytree_is_null(root))
		return ytree_fail_at(
		    c, -EINVAL, 0, 0, "",
		    "the configuration is empty and would count nothing; add services, "
		    "or set defaults.listening_ports: true or defaults.unmatched: count");
	rc =
	    ytree_map(c, root, "", "a mapping with the keys defaults and services at the top level",
		      f, YTREE_N(f), 0);
	if (rc)
		return rc;
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
static void *config_new(const char *source)
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

static void config_destroy(void *cfg)
{
	config_free(cfg);
}

static const struct ydoc config_doc = {
    .what = "configuration",
    .file_kind = "config",
    .open_prefix = "cannot open: ",
    .max_bytes = CONFIG_MAX_BYTES,
    .max = {MAX_DEPTH, MAX_ANCHORS, MAX_ALIASES},
    .create = config_new,
    .destroy = config_destroy,
    .root = parse_root,
};

int config_load_buffer(const char *name, const char *data, size_t len, struct config **out,
		       struct config_error *err)
{
	return ytree_parse(&config_doc, name, NULL, data, len, out, err);
}

int config_load_file(const char *path, struct config **out, struct config_error *err)
{
	char reason[128];

	if (path && out)
		return ytree_parse_file(&config_doc, path, out, err);
	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", path ? path : "");
		snprintf(err->msg, sizeof(err->msg), "cannot load: %s",
			 file_error(-EINVAL, reason, sizeof(reason)));
	}
	return -EINVAL;
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
