/* yaml_tree: what the config parsers share on top of libyaml's document
 * loader: placing errors (file, line, column, dotted key) in a
 * config_error, quoting user text safely, a bounded pre-pass over the event
 * stream, and the load of one document. The value kinds are in
 * yaml_schema.c. Library code: nothing prints. */
#include "config/yaml_tree.h"

#include "common/buf.h"
#include "common/file.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned ytree_line(size_t zero_based)
{
	return zero_based >= UINT_MAX - 1 ? UINT_MAX : (unsigned)zero_based + 1;
}

/* Fill c->err and return rc, so every failure is one "return fail...". */
__attribute__((format(printf, 6, 0))) static int vfail_at(struct ytree *c, int rc, unsigned line,
							  unsigned column, const char *key,
							  const char *fmt, va_list ap)
{
	struct config_error *e = c->err;

	snprintf(e->file, sizeof(e->file), "%s", c->name);
	e->line = line;
	e->column = column;
	snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return rc;
}

__attribute__((format(printf, 6, 7))) int ytree_fail_at(struct ytree *c, int rc, unsigned line,
							unsigned column, const char *key,
							const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = vfail_at(c, rc, line, column, key, fmt, ap);
	va_end(ap);
	return rc;
}

/* -EINVAL with the error placed at node n. */
__attribute__((format(printf, 4, 5))) int ytree_fail(struct ytree *c, const yaml_node_t *n,
						     const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(c, -EINVAL, ytree_line(n->start_mark.line), ytree_line(n->start_mark.column),
		      key, fmt, ap);
	va_end(ap);
	return rc;
}

int ytree_nomem(struct ytree *c)
{
	return ytree_fail_at(c, -ENOMEM, 0, 0, "", "out of memory");
}

/* User text made safe for a one-line log message: at most YTREE_SHOW_MAX input
 * bytes, quotes, backslashes and anything not printable ASCII escaped, "..."
 * when cut. Returns out. */
const char *ytree_show(char *out, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && i < YTREE_SHOW_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];
		int n;

		if (ch == '"' || ch == '\\')
			n = snprintf(out + o, size - o, "\\%c", ch);
		else if (ch >= 0x20 && ch < 0x7f)
			n = snprintf(out + o, size - o, "%c", ch);
		else
			n = snprintf(out + o, size - o, "\\x%02x", ch);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	if (i < len && o + 4 <= size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o < size ? o : size - 1] = '\0';
	return out;
}

bool ytree_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp((const char *)n->data.scalar.value, nulls[i]) == 0)
			return true;
	return false;
}

/* What n is, for "expected X, got Y" messages. */
const char *ytree_describe(const yaml_node_t *n, char *out, size_t size)
{
	char s[YTREE_SHOW_SIZE];

	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type != YAML_SCALAR_NODE)
		return "nothing";
	if (ytree_is_null(n))
		return "an empty value";
	snprintf(
	    out, size, "\"%s\"",
	    ytree_show(s, sizeof(s), (const char *)n->data.scalar.value, n->data.scalar.length));
	return out;
}

/* A path too long for struct config_error still names the place; the
 * trailing "..." says it was cut. */
void ytree_path_cut(char *out, int n)
{
	if (n < 0 || (size_t)n >= YTREE_PATH_LEN)
		memcpy(out + YTREE_PATH_LEN - 4, "...", 4);
}

void ytree_path_key(char *out, const char *parent, const char *key)
{
	ytree_path_cut(out,
		       snprintf(out, YTREE_PATH_LEN, "%s%s%s", parent, *parent ? "." : "", key));
}

void ytree_path_idx(char *out, const char *parent, size_t idx)
{
	ytree_path_cut(out, snprintf(out, YTREE_PATH_LEN, "%s[%zu]", parent, idx));
}

yaml_node_t *ytree_node(struct ytree *c, yaml_node_item_t id)
{
	return yaml_document_get_node(c->doc, id);
}

/* Whether line (0-based) of the input is indented with a tab: libyaml's
 * message for it ("found character that cannot start any token") does not
 * say so, and it is the most common YAML mistake there is. */
static bool leading_tab(const struct ytree *c, size_t line)
{
	size_t i = 0, seen = 0;

	while (i < c->len && seen < line)
		if (c->data[i++] == '\n')
			seen++;
	if (seen < line)
		return false;
	for (; i < c->len && (c->data[i] == ' ' || c->data[i] == '\t'); i++)
		if (c->data[i] == '\t')
			return true;
	return false;
}

/* libyaml's failure as a config_error. Reader errors (bad encoding, control
 * characters) carry a byte offset instead of a mark. */
int ytree_parser_fail(struct ytree *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	unsigned line = 1, column = 1;
	size_t i, end;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return ytree_nomem(c);
	case YAML_READER_ERROR:
		end = p->problem_offset < c->len ? p->problem_offset : c->len;
		for (i = 0; i < end; i++) {
			if (c->data[i] == '\n') {
				line += line < UINT_MAX;
				column = 1;
			} else {
				column += column < UINT_MAX;
			}
		}
		if (p->problem_value >= 0)
			return ytree_fail_at(c, -EINVAL, line, column, "",
					     "invalid input: %s (byte 0x%02x)", problem,
					     (unsigned)p->problem_value & 0xffu);
		return ytree_fail_at(c, -EINVAL, line, column, "", "invalid input: %s", problem);
	case YAML_COMPOSER_ERROR:
		/* "found duplicate anchor; first occurrence" at context_mark,
		 * "second occurrence" at problem_mark: say it in one phrase. */
		if (p->context)
			return ytree_fail_at(c, -EINVAL, ytree_line(p->problem_mark.line),
					     ytree_line(p->problem_mark.column), "",
					     "invalid YAML: %s at line %u, column %u", p->context,
					     ytree_line(p->context_mark.line),
					     ytree_line(p->context_mark.column));
		return ytree_fail_at(c, -EINVAL, ytree_line(p->problem_mark.line),
				     ytree_line(p->problem_mark.column), "", "invalid YAML: %s",
				     problem);
	default:
		if (leading_tab(c, p->problem_mark.line))
			return ytree_fail_at(
			    c, -EINVAL, ytree_line(p->problem_mark.line),
			    ytree_line(p->problem_mark.column), "",
			    "invalid YAML: tab in indentation; YAML indents with spaces "
			    "only");
		if (p->context)
			return ytree_fail_at(c, -EINVAL, ytree_line(p->problem_mark.line),
					     ytree_line(p->problem_mark.column), "",
					     "invalid YAML: %s (%s at line %u, column %u)", problem,
					     p->context, ytree_line(p->context_mark.line),
					     ytree_line(p->context_mark.column));
		return ytree_fail_at(c, -EINVAL, ytree_line(p->problem_mark.line),
				     ytree_line(p->problem_mark.column), "", "invalid YAML: %s",
				     problem);
	}
}

static int fail_mark(struct ytree *c, yaml_mark_t m, const char *msg)
{
	return ytree_fail_at(c, -EINVAL, ytree_line(m.line), ytree_line(m.column), "", "%s", msg);
}

/* One event pass over the input before the loader builds the document:
 * reports syntax errors and more than one document, and enforces
 * c->max (depth, anchors, aliases) so the loader's superlinear paths stay
 * small. Stops at the first violation, which bounds its own work too. */
int ytree_check_stream(struct ytree *c)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t depth = 0, anchors = 0, aliases = 0, docs = 0;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return ytree_nomem(c);
	yaml_parser_set_input_string(&p, c->data, c->len);
	while (!done && !rc) {
		yaml_char_t *anchor = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			rc = ytree_parser_fail(c, &p);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc =
				    ytree_fail_at(c, -EINVAL, ytree_line(ev.start_mark.line),
						  ytree_line(ev.start_mark.column), "",
						  "a second YAML document; the %s must be a single "
						  "document",
						  c->what);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor = ev.type == YAML_SEQUENCE_START_EVENT
				     ? ev.data.sequence_start.anchor
				     : ev.data.mapping_start.anchor;
			if (++depth > c->max.depth)
				rc = fail_mark(c, ev.start_mark, "nested too deeply");
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor;
			break;
		case YAML_ALIAS_EVENT:
			if (++aliases > c->max.aliases)
				rc = fail_mark(c, ev.start_mark, "too many aliases");
			break;
		default:
			break;
		}
		if (!rc && anchor && ++anchors > c->max.anchors)
			rc = fail_mark(c, ev.start_mark, "too many anchors");
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

int ytree_load(struct ytree *c, yaml_document_t *doc)
{
	yaml_parser_t parser;
	int rc;

	c->doc = doc;
	rc = ytree_check_stream(c);
	if (rc)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return ytree_nomem(c);
	yaml_parser_set_input_string(&parser, c->data, c->len);
	/* On failure the loader has already freed the partial document. */
	rc = yaml_parser_load(&parser, doc) ? 0 : ytree_parser_fail(c, &parser);
	yaml_parser_delete(&parser);
	return rc;
}

/* Contract (yaml_tree.h): the one load every document kind shares, so the
 * argument, size and stream checks and the object's life on error are
 * written once. */
int ytree_parse(const struct ydoc *d, const char *name, const char *dir, const char *data,
		size_t len, void *out, struct config_error *err)
{
	struct config_error scratch;
	struct ytree c = {
	    .name = name ? name : "<buffer>",
	    .what = d->what,
	    .data = (const unsigned char *)(data ? data : ""),
	    .len = len,
	    .err = err ? err : &scratch,
	    .max = d->max,
	    .dir = dir,
	};
	yaml_document_t doc;
	void *obj;
	int rc;

	memset(c.err, 0, sizeof(*c.err));
	if (!out || (!data && len))
		return ytree_fail_at(&c, -EINVAL, 0, 0, "", "invalid arguments");
	if (len > d->max_bytes)
		return ytree_fail_at(&c, -EINVAL, 0, 0, "", "larger than 1 MiB");
	rc = ytree_load(&c, &doc);
	if (rc)
		return rc;
	obj = d->create(c.name);
	rc = obj ? d->root(&c, yaml_document_get_root_node(&doc), obj) : ytree_nomem(&c);
	if (rc)
		d->destroy(obj);
	else /* out is the caller's struct T **. */
		memcpy(out, &obj, sizeof(obj));
	yaml_document_delete(&doc);
	return rc;
}

/* Contract: path read whole into b, at most d->max_bytes. On failure err
 * names the file and says why, "larger than 1 MiB; is it a <file_kind>
 * file?" or open_prefix and the system's reason, and the -errno is
 * returned. */
static int read_file(const struct ydoc *d, const char *path, struct buf *b,
		     struct config_error *err)
{
	char reason[128];
	int rc = file_read_capped(path, d->max_bytes, b);

	if (!rc)
		return 0;
	snprintf(err->file, sizeof(err->file), "%s", path);
	/* file_error(), not strerror(): a reload may run beside other
	 * threads. */
	if (rc == -EFBIG)
		snprintf(err->msg, sizeof(err->msg), "larger than 1 MiB; is it a %s file?",
			 d->file_kind);
	else
		snprintf(err->msg, sizeof(err->msg), "%s%s", d->open_prefix,
			 file_error(rc, reason, sizeof(reason)));
	return rc;
}

/* The folder of path, for relative names inside the file: "" for a bare
 * name, "/" for one in the root. NULL without memory. */
static char *folder_of(const char *path)
{
	char *dir = strdup(path), *slash;

	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	return dir;
}

/* Contract (yaml_tree.h): read, then ytree_parse() with the file's folder,
 * errors naming the file. */
int ytree_parse_file(const struct ydoc *d, const char *path, void *out, struct config_error *err)
{
	struct config_error scratch;
	char *dir = NULL;
	struct buf b;
	int rc;

	buf_init(&b);
	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	rc = read_file(d, path, &b, err);
	if (rc)
		goto out;
	dir = folder_of(path);
	if (!dir) {
		snprintf(err->file, sizeof(err->file), "%s", path);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = ytree_parse(d, path, dir, b.data ? b.data : "", b.len, out, err);
out:
	free(dir);
	buf_free(&b);
	return rc;
}
