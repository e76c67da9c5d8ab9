/* yaml_tree: the shared layer of the config parsers (config.c,
 * web_config.c) over libyaml's document API. Every function that fails
 * fills the context's config_error once, with place and reason, and
 * returns a negative errno (-EINVAL for bad input, -ENOMEM). */
#ifndef HALFOPEN_YAML_TREE_H
#define HALFOPEN_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config/config.h"

/* Bytes of user text quoted in a message: enough to recognise it, short
 * enough that the message still fits struct config_error. */
#define YTREE_SHOW_MAX	40
#define YTREE_SHOW_SIZE (YTREE_SHOW_MAX * 4 + 4)
#define YTREE_PATH_LEN	sizeof(((struct config_error *)0)->key)

struct ytree {
	const char *name; /* file name in errors */
	const char *what; /* "configuration", "web config": in messages */
	const unsigned char *data;
	size_t len;
	yaml_document_t *doc;
	struct config_error *err;
	/* libyaml 0.2.5 is superlinear in flow nesting and anchor count; the
	 * pre-pass enforces these so hostile input stays cheap. */
	unsigned max_depth, max_anchors, max_aliases;
	const char *dir; /* web config: the folder relative paths are in */
};

/* One expected key of a mapping, filled by ytree_mapping(). */
struct yfield {
	const char *key;
	yaml_node_t *key_node;
	yaml_node_t *value; /* NULL when absent */
};

/* Check the stream (one document, the limits) and load it into doc. */
int ytree_load(struct ytree *c, yaml_document_t *doc);

unsigned ytree_line(size_t zero_based);
int ytree_fail_at(struct ytree *c, int rc, unsigned line, unsigned column, const char *key,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* -EINVAL placed at node n. */
int ytree_fail(struct ytree *c, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ytree_nomem(struct ytree *c);
/* User text made safe for a one-line message: quotes, backslashes and
 * non-printables escaped, cut at YTREE_SHOW_MAX bytes. */
const char *ytree_show(char *out, size_t size, const char *s, size_t len);
bool ytree_is_null(const yaml_node_t *n);
/* "a mapping", "a list", "the string \"x\"": for "expected X, got Y". */
const char *ytree_describe(const yaml_node_t *n, char *out, size_t size);
void ytree_path_cut(char *out, int n);
void ytree_path_key(char *out, const char *parent, const char *key);
void ytree_path_idx(char *out, const char *parent, size_t idx);
yaml_node_t *ytree_node(struct ytree *c, yaml_node_item_t id);
/* The scalar's text, or an error "expected <want>, got ...". */
int ytree_scalar(struct ytree *c, const yaml_node_t *n, const char *path, const char *want,
		 const char **out);
/* Fill f[].value from mapping map; unknown or duplicate keys are errors. */
int ytree_mapping(struct ytree *c, yaml_node_t *map, const char *path, struct yfield *f,
		  size_t n_fields);
/* true/false (plain, any case of the first letter); YAML 1.1 yes/no/on/off
 * are errors with a hint. */
int ytree_bool(struct ytree *c, const yaml_node_t *n, const char *path, bool *out);
int ytree_parser_fail(struct ytree *c, const yaml_parser_t *p);
int ytree_check_stream(struct ytree *c);

#endif
