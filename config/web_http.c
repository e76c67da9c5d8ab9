/* web_http: http_server_config, the response headers a user may set (the
 * exporter-toolkit's list and values) and the http2 switch. */
#include "config/web_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The headers exporter-toolkit lets a user set, with the values it
 * restricts; NULL: any value. */
static const struct {
	const char *name;
	const char *const values[3];
} allowed_headers[] = {
    {"Strict-Transport-Security", {NULL}},
    {"X-Content-Type-Options", {"nosniff", NULL}},
    {"X-Frame-Options", {"deny", "sameorigin", NULL}},
    {"X-XSS-Protection", {NULL}},
    {"Content-Security-Policy", {NULL}},
};

/* Contract: one header "name: value" into its slot header, by
 * canonical name; only the toolkit's headers and values are accepted. */
static int parse_header(struct ytree *c, yaml_node_t *k, const char *name, yaml_node_t *v,
			const char *path, void *header, void *ctx)
{
	struct web_config *wc = ctx;
	struct web_header *h = header;
	size_t i = (size_t)(h - wc->headers);
	char shown[YTREE_SHOW_SIZE];
	const char *value;
	size_t idx = SIZE_MAX, j;
	int rc;

	for (j = 0; j < YTREE_N(allowed_headers); j++)
		if (strcasecmp(name, allowed_headers[j].name) == 0)
			idx = j;
	if (idx == SIZE_MAX)
		return ytree_fail(c, k, path,
				  "header \"%s\" cannot be configured; allowed: "
				  "Strict-Transport-Security, X-Content-Type-Options, "
				  "X-Frame-Options, X-XSS-Protection, Content-Security-Policy",
				  ytree_show(shown, sizeof(shown), name, k->data.scalar.length));
	for (j = 0; j < i; j++)
		if (strcmp(wc->headers[j].name, allowed_headers[idx].name) == 0)
			return ytree_fail(c, k, path, "duplicate header");
	rc = ytree_scalar(c, v, path, "a header value", &value);
	if (rc)
		return rc;
	/* A CR or LF would let the config inject headers or split the
	 * response. */
	for (j = 0; value[j]; j++)
		if ((unsigned char)value[j] < 0x20 && value[j] != '\t')
			return ytree_fail(c, v, path, "control character in the value");
	if (allowed_headers[idx].values[0]) {
		bool ok = false;

		for (j = 0; allowed_headers[idx].values[j]; j++)
			if (strcasecmp(value, allowed_headers[idx].values[j]) == 0)
				ok = true;
		if (!ok)
			return ytree_fail(
			    c, v, path, "invalid value \"%s\" for %s",
			    ytree_show(shown, sizeof(shown), value, v->data.scalar.length),
			    allowed_headers[idx].name);
	}
	h->name = strdup(allowed_headers[idx].name);
	h->value = strdup(value);
	if (!h->name || !h->value)
		return ytree_nomem(c);
	return 0;
}

/* http_server_config.headers into wc->headers; empty means none. */
static int parse_headers(struct ytree *c, yaml_node_t *n, const char *path, void *config)
{
	static const struct ylist headers = {
	    .pairs = true,
	    .noun = "headers",
	    .max = WEB_CONFIG_MAX_HEADERS,
	    .size = sizeof(struct web_header),
	    .pair = parse_header,
	    .key_want = "a header name",
	};
	struct web_config *wc = config;

	if (ytree_is_null(n))
		return 0;
	return ytree_list(c, n, path, &headers, &wc->headers, &wc->n_headers, wc);
}

int web_parse_http(struct ytree *c, yaml_node_t *n, struct web_config *wc)
{
	bool http2;
	/* http2 is accepted so shared files load; this server speaks
	 * HTTP/1.1 only, which every scraper does too. */
	struct yfield f[] = {{"headers", parse_headers, wc}, {"http2", yread_bool, &http2}};

	return ytree_map(c, n, "http_server_config", "a mapping", f, YTREE_N(f), 0);
}
