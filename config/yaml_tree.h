/* yaml_tree: the shared layer of the config parsers (config.c and its
 * service files, web_config.c and its parts) over libyaml's document API:
 * yaml_tree.c loads a document and places errors, yaml_schema.c reads the
 * value kinds the schemas are made of. Every function that fails
 * fills the context's config_error once, with place and reason, and
 * returns a negative errno (-EINVAL for bad input, -ENOMEM). */
#ifndef HALFOPEN_YAML_TREE_H
#define HALFOPEN_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config/config.h"

struct buf;

/* Bytes of user text quoted in a message: enough to recognise it, short
 * enough that the message still fits struct config_error. */
#define YTREE_SHOW_MAX	40
#define YTREE_SHOW_SIZE (YTREE_SHOW_MAX * 4 + 4)
#define YTREE_PATH_LEN	sizeof(((struct config_error *)0)->key)

/* libyaml 0.2.5 is superlinear in flow nesting and anchor count; the
 * pre-pass (ytree_check_stream) enforces these so hostile input stays
 * cheap. */
struct ylimits {
	unsigned depth, anchors, aliases;
};

struct ytree {
	const char *name; /* file name in errors */
	const char *what; /* "configuration", "web config": in messages */
	const unsigned char *data;
	size_t len;
	yaml_document_t *doc;
	struct config_error *err;
	struct ylimits max;
	const char *dir; /* web config: the folder relative paths are in */
};

/* Reads the value n at path into out; a yfield's reader. */
typedef int (*yread_fn)(struct ytree *c, yaml_node_t *n, const char *path, void *out);

/* One expected key of a mapping, filled by ytree_mapping(). A table is
 * declared as {{"key", reader, &destination}, {"other"}}: keys without a
 * reader are left for the caller to read from value. */
struct yfield {
	const char *key;
	yread_fn read;
	void *out;
	yaml_node_t *key_node;
	yaml_node_t *value;	   /* NULL when absent */
	char path[YTREE_PATH_LEN]; /* "parent.key" when present */
};

#define YTREE_N(table) (sizeof(table) / sizeof((table)[0]))

/* One item of a list into its zeroed slot item, its path "parent[i]". */
typedef int (*yitem_fn)(struct ytree *c, yaml_node_t *n, const char *path, void *item, void *ctx);
/* One pair of a free-form mapping into its zeroed slot item, its path
 * "parent.key". */
typedef int (*ypair_fn)(struct ytree *c, yaml_node_t *k, const char *key, yaml_node_t *v,
			const char *path, void *item, void *ctx);

/* One list, or free-form mapping, of the schema: its words, limits and
 * the reader of one item. */
struct ylist {
	bool pairs;	   /* a mapping of the user's keys (users, headers), not a list */
	const char *want;  /* lists: "expected <want>, got ..." */
	const char *empty; /* the error for no items; NULL: none is fine */
	const char *noun;  /* "<n> <noun>; at most <max>", "more than <max> <noun>" */
	const char *hint;  /* lists: after "at most <max>"; NULL: none */
	size_t max;
	size_t size; /* of one parsed item */
	yitem_fn item;
	ypair_fn pair;
	const char *key_want; /* pairs: "expected <key_want>" for a key */
};

/* One kind of document for ytree_parse(): its name in messages, the
 * limits its input is held to, and what it builds: a new object named
 * after the source, its destructor, and the reader of the root node (NULL
 * for an empty stream) into it. */
struct ydoc {
	const char *what;	 /* "configuration", "web config" */
	const char *file_kind;	 /* "larger than 1 MiB; is it a <file_kind> file?" */
	const char *open_prefix; /* before why a file cannot be read */
	size_t max_bytes;
	struct ylimits max;
	void *(*create)(const char *source);
	void (*destroy)(void *obj);
	int (*root)(struct ytree *c, yaml_node_t *root, void *obj);
};

/* One document of kind d from data into *out (a pointer to the object's
 * pointer): err cleared (a scratch one when NULL), arguments and the
 * limits checked, the stream loaded, the object built, the document freed.
 * Relative file names in it resolve against dir. *out untouched on
 * error. */
int ytree_parse(const struct ydoc *d, const char *name, const char *dir, const char *data,
		size_t len, void *out, struct config_error *err);
/* Read path (at most d->max_bytes) and ytree_parse() it with dir = its
 * folder; a file that cannot be read is an error naming it. path and out
 * must not be NULL. */
int ytree_parse_file(const struct ydoc *d, const char *path, void *out, struct config_error *err);

/* ---- yaml_tree.c: loading, placing errors, quoting ---- */

/* Check the stream (one document, the limits) and load it into doc. */
int ytree_load(struct ytree *c, yaml_document_t *doc);
int ytree_parser_fail(struct ytree *c, const yaml_parser_t *p);
int ytree_check_stream(struct ytree *c);

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

/* ---- yaml_schema.c: the value kinds ---- */

/* The scalar's text, or an error "expected <want>, got ...". */
int ytree_scalar(struct ytree *c, const yaml_node_t *n, const char *path, const char *want,
		 const char **out);
/* ytree_scalar(), and the text quoted for messages into shown. */
int ytree_text(struct ytree *c, const yaml_node_t *n, const char *path, const char *want,
	       const char **out, char shown[YTREE_SHOW_SIZE]);

/* Fill f[].value from mapping map; unknown or duplicate keys are errors. */
int ytree_mapping(struct ytree *c, yaml_node_t *map, const char *path, struct yfield *f,
		  size_t n_fields);
/* ytree_mapping() on n, which must be a mapping ("expected <want>"), and
 * the first n_required fields present. */
int ytree_keys(struct ytree *c, yaml_node_t *n, const char *path, const char *want,
	       struct yfield *f, size_t n_fields, size_t n_required);
/* Each present field that has a reader read, in table order. */
int ytree_read(struct ytree *c, const struct yfield *f, size_t n_fields);
/* ytree_keys(), then ytree_read() on all fields. */
int ytree_map(struct ytree *c, yaml_node_t *n, const char *path, const char *want, struct yfield *f,
	      size_t n_fields, size_t n_required);

/* List (or l->pairs: mapping) n into a new array at *array (the caller's
 * struct T **) of *count items, each read by l->item (l->pair) with ctx.
 * *array and *count are set before the first item is read. */
int ytree_list(struct ytree *c, const yaml_node_t *n, const char *path, const struct ylist *l,
	       void *array, size_t *count, void *ctx);

/* true/false (plain, any case of the first letter); YAML 1.1 yes/no/on/off
 * are errors with a hint. */
int ytree_bool(struct ytree *c, const yaml_node_t *n, const char *path, bool *out);
/* A duration ("30s", "1h30m") greater than 0, in ms. */
int ytree_duration(struct ytree *c, const yaml_node_t *n, const char *path, uint32_t *out);
/* Decimal digits at *p, advanced past them (saturating); false if none. */
bool ytree_scan_number(const char **p, uint32_t *out);

/* A word of a fixed set; see ytree_choice(). */
struct ychoice {
	const char *want; /* "expected <want>, got ..." when no word */
	const char *const *names;
	size_t n_names;
	const char *expect;  /* another word: "expected <expect>, got \"x\"", */
	const char *allowed; /* or when set: "\"x\" is not <want>; allowed: <allowed>" */
};
/* Which of ch->names scalar n is, into *idx. */
int ytree_choice(struct ytree *c, const yaml_node_t *n, const char *path, const struct ychoice *ch,
		 size_t *idx);

/* Readers for yfield tables: a bool, a duration in ms (uint32_t). */
int yread_bool(struct ytree *c, yaml_node_t *n, const char *path, void *out);
int yread_duration(struct ytree *c, yaml_node_t *n, const char *path, void *out);
/* yread_bounded's out: an unquoted whole number, or with seconds a
 * duration of whole seconds, in lo..hi into *dst. */
struct ybounded {
	uint32_t *dst;
	uint32_t lo, hi;
	bool seconds;
};
int yread_bounded(struct ytree *c, yaml_node_t *n, const char *path, void *spec);

#endif
