/* yaml_schema: the value kinds the config schemas are made of, each read
 * from one node with its errors placed there: a scalar, a mapping of known
 * keys (unknown ones refused with a "did you mean"), a list or a free-form
 * mapping walked item by item, true/false, one word of a fixed set, a
 * number, a duration. Library code: nothing prints. */
#include "config/yaml_tree.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text of scalar n, NUL-free, not null. Anything else is a type error
 * that says what was wanted. */
int ytree_scalar(struct ytree *c, const yaml_node_t *n, const char *path, const char *want,
		 const char **out)
{
	char d[YTREE_SHOW_SIZE + 2];

	if (n->type != YAML_SCALAR_NODE || ytree_is_null(n))
		return ytree_fail(c, n, path, "expected %s, got %s", want,
				  ytree_describe(n, d, sizeof(d)));
	/* A double-quoted "\0" is legal YAML but would cut every later
	 * strcmp short. */
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return ytree_fail(c, n, path, "contains a NUL byte; expected %s", want);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/* ytree_scalar(), and the text made safe for a message into shown. */
int ytree_text(struct ytree *c, const yaml_node_t *n, const char *path, const char *want,
	       const char **out, char shown[YTREE_SHOW_SIZE])
{
	int rc = ytree_scalar(c, n, path, want, out);

	if (!rc)
		ytree_show(shown, YTREE_SHOW_SIZE, *out, n->data.scalar.length);
	return rc;
}

/* Levenshtein distance, capped: only used to suggest a key for a typo, so
 * long keys are simply "far". */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), i, j, row[33], prev, tmp;

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t sub = prev + (a[i - 1] != b[j - 1]);
			size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;

			tmp = row[j];
			row[j] = sub < best ? sub : best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The error for key k, which is none of f: what is allowed, and the
 * nearest key when it looks like a typo. */
static int unknown_key(struct ytree *c, const yaml_node_t *k, const char *path,
		       const struct yfield *f, size_t n_fields)
{
	char shown[YTREE_SHOW_SIZE], allowed[128], hint[64] = "", child[YTREE_PATH_LEN];
	const char *key = (const char *)k->data.scalar.value;
	size_t klen = k->data.scalar.length, i, off = 0, best = SIZE_MAX, best_i = 0;

	allowed[0] = '\0';
	for (i = 0; i < n_fields; i++) {
		size_t d = edit_distance(key, klen, f[i].key);
		int w =
		    snprintf(allowed + off, sizeof(allowed) - off, "%s%s", i ? ", " : "", f[i].key);

		if (w > 0 && (size_t)w < sizeof(allowed) - off)
			off += (size_t)w;
		if (d < best) {
			best = d;
			best_i = i;
		}
	}
	if (best <= 2 && best < klen)
		snprintf(hint, sizeof(hint), " (did you mean %s?)", f[best_i].key);
	ytree_show(shown, sizeof(shown), key, klen);
	ytree_path_key(child, path, shown);
	return ytree_fail(c, k, child, "unknown key \"%s\"%s; allowed: %s", shown, hint, allowed);
}

/* Sort the pairs of mapping map into f (n_fields wanted keys, value NULL
 * when absent). Unknown, duplicate and non-string keys are errors: a typo
 * must never silently drop a setting. */
int ytree_mapping(struct ytree *c, yaml_node_t *map, const char *path, struct yfield *f,
		  size_t n_fields)
{
	yaml_node_pair_t *pair;
	size_t i;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = ytree_node(c, pair->key), *v = ytree_node(c, pair->value);
		char d[YTREE_SHOW_SIZE + 2];

		if (!k || !v)
			return ytree_fail(c, map, path, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE)
			return ytree_fail(c, k, path, "keys must be strings, got %s",
					  ytree_describe(k, d, sizeof(d)));
		for (i = 0; i < n_fields; i++)
			if (k->data.scalar.length == strlen(f[i].key) &&
			    memcmp(k->data.scalar.value, f[i].key, k->data.scalar.length) == 0)
				break;
		if (i == n_fields)
			return unknown_key(c, k, path, f, n_fields);
		ytree_path_key(f[i].path, path, f[i].key);
		if (f[i].value)
			return ytree_fail(c, k, f[i].path,
					  "duplicate key \"%s\"; first given at line %u", f[i].key,
					  ytree_line(f[i].key_node->start_mark.line));
		f[i].key_node = k;
		f[i].value = v;
	}
	return 0;
}

/* Contract: n is a mapping (else "expected <want>, got ..."), its keys
 * sorted into f by ytree_mapping(), and the first n_required fields
 * present. Nothing is read yet: ytree_read() or the caller does that. */
int ytree_keys(struct ytree *c, yaml_node_t *n, const char *path, const char *want,
	       struct yfield *f, size_t n_fields, size_t n_required)
{
	char d[YTREE_SHOW_SIZE + 2];
	size_t i;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return ytree_fail(c, n, path, "expected %s, got %s", want,
				  ytree_describe(n, d, sizeof(d)));
	rc = ytree_mapping(c, n, path, f, n_fields);
	if (rc)
		return rc;
	for (i = 0; i < n_required; i++)
		if (!f[i].value)
			return ytree_fail(c, n, path, "missing required key \"%s\"", f[i].key);
	return 0;
}

/* ytree_keys(), then every field with a reader read in table order. */
int ytree_map(struct ytree *c, yaml_node_t *n, const char *path, const char *want, struct yfield *f,
	      size_t n_fields, size_t n_required)
{
	int rc = ytree_keys(c, n, path, want, f, n_fields, n_required);

	return rc ? rc : ytree_read(c, f, n_fields);
}

int ytree_read(struct ytree *c, const struct yfield *f, size_t n_fields)
{
	size_t i;
	int rc;

	for (i = 0; i < n_fields; i++)
		if (f[i].value && f[i].read) {
			rc = f[i].read(c, f[i].value, f[i].path, f[i].out);
			if (rc)
				return rc;
		}
	return 0;
}

/* true/false in the YAML 1.2 spellings, unquoted. YAML 1.1's yes/no/on/off
 * are rejected with a hint rather than guessed at. */
int ytree_bool(struct ytree *c, const yaml_node_t *n, const char *path, bool *out)
{
	static const char *const names[] = {"false", "False", "FALSE", "true", "True", "TRUE"};
	static const char *const old[] = {"yes", "Yes", "YES", "no",  "No", "NO", "on", "On",
					  "ON",	 "off", "Off", "OFF", "y",  "Y",  "n",	"N"};
	static const struct ychoice spellings = {"true or false", names, YTREE_N(names),
						 "true or false"};
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc = ytree_text(c, n, path, spellings.want, &s, shown);

	if (rc)
		return rc;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return ytree_fail(c, n, path,
				  "expected true or false, got the quoted string \"%s\"", shown);
	for (i = 0; i < YTREE_N(old); i++)
		if (strcmp(s, old[i]) == 0)
			return ytree_fail(
			    c, n, path,
			    "\"%s\" is not a boolean here (YAML 1.1 spelling); write true "
			    "or false",
			    shown);
	rc = ytree_choice(c, n, path, &spellings, &i);
	if (!rc)
		*out = i >= 3; /* names: the false spellings, then the true ones */
	return rc;
}

/* Contract: the index in ch->names of scalar n's exact text into *idx;
 * another word is an error that says what is allowed. */
int ytree_choice(struct ytree *c, const yaml_node_t *n, const char *path, const struct ychoice *ch,
		 size_t *idx)
{
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	rc = ytree_text(c, n, path, ch->want, &s, shown);
	if (rc)
		return rc;
	for (i = 0; i < ch->n_names; i++)
		if (strcmp(s, ch->names[i]) == 0) {
			*idx = i;
			return 0;
		}
	if (ch->allowed)
		return ytree_fail(c, n, path, "\"%s\" is not %s; allowed: %s", shown, ch->want,
				  ch->allowed);
	return ytree_fail(c, n, path, "expected %s, got \"%s\"", ch->expect, shown);
}

/* Decimal digits at *p, advanced past them. Values above 99999999 saturate:
 * every caller's limit is far below, and the range error quotes the text.
 * false when *p is no digit. */
bool ytree_scan_number(const char **p, uint32_t *out)
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
static int ytree_uint(struct ytree *c, const yaml_node_t *n, const char *path, uint32_t lo,
		      uint32_t hi, uint32_t *out)
{
	char want[64], shown[YTREE_SHOW_SIZE];
	const char *s, *p;
	uint32_t v;
	int rc;

	snprintf(want, sizeof(want), "a whole number %u..%u", lo, hi);
	rc = ytree_text(c, n, path, want, &s, shown);
	if (rc)
		return rc;
	p = s;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !ytree_scan_number(&p, &v) || *p)
		return ytree_fail(c, n, path, "expected %s, got \"%s\"", want, shown);
	if (v < lo || v > hi)
		return ytree_fail(c, n, path, "%s is out of range; allowed: %u..%u", shown, lo, hi);
	*out = v;
	return 0;
}

/* A duration greater than 0 as parse_duration_ms() reads it, in ms. */
int ytree_duration(struct ytree *c, const yaml_node_t *n, const char *path, uint32_t *out)
{
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	uint32_t ms;
	int rc;

	rc = ytree_text(c, n, path, "a duration such as 30s, 5m or 1h30m", &s, shown);
	if (rc)
		return rc;
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

/* A duration in whole seconds lo..hi, for the kernel's keepalive knobs. */
static int ytree_seconds(struct ytree *c, const yaml_node_t *n, const char *path, uint32_t lo,
			 uint32_t hi, uint32_t *out)
{
	uint32_t ms;
	int rc = ytree_duration(c, n, path, &ms);

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

/* Contract: for list n (l->pairs: mapping; else "expected <l->want>" or
 * "expected a mapping"), the zeroed array its items will be parsed into,
 * *count set to their number; NULL when there are none (*rc 0 unless
 * l->empty says otherwise) or on error (*rc set). */
static void *alloc_items(struct ytree *c, const yaml_node_t *n, const char *path,
			 const struct ylist *l, size_t *count, int *rc)
{
	yaml_node_type_t type = l->pairs ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE;
	char d[YTREE_SHOW_SIZE + 2];
	void *items = NULL;
	size_t len;

	*count = 0;
	*rc = 0;
	if (n->type != type) {
		*rc = ytree_fail(c, n, path, "expected %s, got %s",
				 l->pairs ? "a mapping" : l->want, ytree_describe(n, d, sizeof(d)));
		return NULL;
	}
	len = l->pairs ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
		       : (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len == 0) {
		if (l->empty)
			*rc = ytree_fail(c, n, path, "%s", l->empty);
	} else if (len > l->max && l->pairs) {
		*rc = ytree_fail(c, n, path, "more than %zu %s", l->max, l->noun);
	} else if (len > l->max) {
		*rc = ytree_fail(c, n, path, "%zu %s; at most %zu%s", len, l->noun, l->max,
				 l->hint ? l->hint : "");
	} else if (!(items = calloc(len, l->size))) {
		*rc = ytree_nomem(c);
	} else {
		*count = len;
	}
	return items;
}

/* Contract: l->item on each item of sequence n with its path "path[i]"
 * and its slot in items, stopping at the first error. */
static int each_item(struct ytree *c, const yaml_node_t *n, const char *path, const struct ylist *l,
		     char *items, void *ctx)
{
	char child[YTREE_PATH_LEN];
	size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start), i;
	int rc;

	for (i = 0; i < count; i++) {
		yaml_node_t *item = ytree_node(c, n->data.sequence.items.start[i]);

		ytree_path_idx(child, path, i);
		if (!item)
			return ytree_fail(c, n, child, "malformed list");
		rc = l->item(c, item, child, items + i * l->size, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* Contract: l->pair on each pair of mapping n with its slot in items, the
 * key's text (a scalar, else "expected <l->key_want>") passed as key and
 * its quoted form as the last part of the pair's path; stops at the first
 * error. */
static int each_pair(struct ytree *c, const yaml_node_t *n, const char *path, const struct ylist *l,
		     char *items, void *ctx)
{
	yaml_node_pair_t *pair;
	size_t i = 0;
	int rc;

	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++, i++) {
		yaml_node_t *k = ytree_node(c, pair->key), *v = ytree_node(c, pair->value);
		char shown[YTREE_SHOW_SIZE], child[YTREE_PATH_LEN];
		const char *key;

		if (!k || !v)
			return ytree_fail(c, n, path, "malformed mapping");
		rc = ytree_text(c, k, path, l->key_want, &key, shown);
		if (rc)
			return rc;
		ytree_path_key(child, path, shown);
		rc = l->pair(c, k, key, v, child, items + i * l->size, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* Contract: list (or mapping) n into a zeroed array of l->size items,
 * stored with its count at *array and *count before the first item is
 * read, so the caller's destructor sees partly read ones; then l->item (or
 * l->pair) on each item in order, with ctx. */
int ytree_list(struct ytree *c, const yaml_node_t *n, const char *path, const struct ylist *l,
	       void *array, size_t *count, void *ctx)
{
	void *items;
	int rc;

	items = alloc_items(c, n, path, l, count, &rc);
	if (!items)
		return rc;
	/* array is the caller's struct T **. */
	memcpy(array, &items, sizeof(items));
	if (l->pairs)
		return each_pair(c, n, path, l, items, ctx);
	return each_item(c, n, path, l, items, ctx);
}

int yread_bool(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	return ytree_bool(c, n, path, out);
}

int yread_duration(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	return ytree_duration(c, n, path, out);
}

int yread_bounded(struct ytree *c, yaml_node_t *n, const char *path, void *spec)
{
	const struct ybounded *b = spec;

	if (b->seconds)
		return ytree_seconds(c, n, path, b->lo, b->hi, b->dst);
	return ytree_uint(c, n, path, b->lo, b->hi, b->dst);
}
