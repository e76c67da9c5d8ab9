/* web_config: the web configuration (--web.config.file) loaded and freed:
 * its top level. TLS, HTTP headers and users are web_tls.c, web_http.c and
 * web_users.c's. */
#include "config/web_config.h"
#include "config/web_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Same reasoning as config.c: libyaml is superlinear in nesting depth and
 * anchor count, and this schema is three levels deep. */
#define MAX_DEPTH   16
#define MAX_ANCHORS 64
#define MAX_ALIASES 256

static int parse_tls(struct ytree *c, yaml_node_t *n, const char *path, void *wc)
{
	(void)path;
	return ytree_is_null(n) ? 0 : web_parse_tls(c, n, wc);
}

static int parse_http(struct ytree *c, yaml_node_t *n, const char *path, void *wc)
{
	(void)path;
	return ytree_is_null(n) ? 0 : web_parse_http(c, n, wc);
}

static int parse_users(struct ytree *c, yaml_node_t *n, const char *path, void *wc)
{
	(void)path;
	return ytree_is_null(n) ? 0 : web_parse_users(c, n, wc);
}

/* The whole document into wc; root is NULL for an empty stream. The keys
 * are read users, http, tls, the table's reverse. */
static int parse_root(struct ytree *c, yaml_node_t *root, void *wc)
{
	struct yfield f[] = {
	    {"tls_server_config", parse_tls, wc},
	    {"http_server_config", parse_http, wc},
	    {"basic_auth_users", parse_users, wc},
	};
	size_t i;
	int rc;

	/* An empty file is valid, as in exporter-toolkit: plain HTTP, no
	 * authentication. */
	if (!root || ytree_is_null(root))
		return 0;
	rc = ytree_keys(c, root, "",
			"a mapping with the keys tls_server_config, http_server_config and "
			"basic_auth_users",
			f, YTREE_N(f), 0);
	for (i = YTREE_N(f); i-- > 0 && !rc;)
		rc = ytree_read(c, &f[i], 1);
	return rc;
}

static void *web_config_new(const char *source)
{
	struct web_config *wc = calloc(1, sizeof(*wc));

	if (wc && !(wc->source = strdup(source))) {
		free(wc);
		return NULL;
	}
	return wc;
}

static void web_config_destroy(void *wc)
{
	web_config_free(wc);
}

static const struct ydoc web_doc = {
    .what = "web config",
    .file_kind = "web config",
    .open_prefix = "",
    .max_bytes = WEB_MAX_BYTES,
    .max = {MAX_DEPTH, MAX_ANCHORS, MAX_ALIASES},
    .create = web_config_new,
    .destroy = web_config_destroy,
    .root = parse_root,
};

int web_config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
			   struct web_config **out, struct config_error *err)
{
	return ytree_parse(&web_doc, name, dir, data, len, out, err);
}

int web_config_load_file(const char *path, struct web_config **out, struct config_error *err)
{
	if (path && out)
		return ytree_parse_file(&web_doc, path, out, err);
	if (err)
		memset(err, 0, sizeof(*err));
	return -EINVAL;
}

void web_config_free(struct web_config *wc)
{
	size_t i;

	if (!wc)
		return;
	web_tls_free(wc->tls);
	for (i = 0; i < wc->n_users; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	for (i = 0; i < wc->n_headers; i++) {
		free(wc->headers[i].name);
		free(wc->headers[i].value);
	}
	free(wc->headers);
	free(wc->source);
	free(wc);
}
