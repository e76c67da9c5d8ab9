/* web_config: the web configuration (--web.config.file) loaded and freed:
 * its top level. TLS, HTTP headers and users are web_tls.c, web_http.c and
 * web_users.c's. */
#include "config/web_config.h"
#include "config/web_parse.h"

#include "common/buf.h"

#include <errno.h>
#include <stdio.h>
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

int web_config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
			   struct web_config **out, struct config_error *err)
{
	struct ytree c = {
	    .what = "web config",
	    .max_depth = MAX_DEPTH,
	    .max_anchors = MAX_ANCHORS,
	    .max_aliases = MAX_ALIASES,
	    .dir = dir,
	};

	static const struct ydoc doc = {web_config_new, web_config_destroy, parse_root};

	return ytree_parse(&c, &doc, name, data, len, WEB_MAX_BYTES, out, err);
}

int web_config_load_file(const char *path, struct web_config **out, struct config_error *err)
{
	struct config_error scratch;
	char *dir = NULL, *slash;
	struct buf b;
	int rc;

	buf_init(&b);
	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	if (!path || !out)
		return -EINVAL;
	rc = ytree_read_file(path, WEB_MAX_BYTES, "web config", "", &b, err);
	if (rc)
		goto out;
	dir = strdup(path);
	if (!dir) {
		snprintf(err->file, sizeof(err->file), "%s", path);
		rc = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	rc = web_config_load_buffer(path, dir, b.data ? b.data : "", b.len, out, err);
out:
	free(dir);
	buf_free(&b);
	return rc;
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
