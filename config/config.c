#include "config/config.h"

#include "common/buf.h"

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

/* Bytes of user text quoted in a message: enough to recognise it, short
 * enough that the message still fits struct config_error. */
#define SHOW_MAX 40

#define PATH_LEN sizeof(((struct config_error *)0)->key)

struct ctx {
	const char *name;
	const unsigned char *data;
	size_t len;
	yaml_document_t *doc;
	struct config_error *err;
};

struct field {
	const char *key;
	yaml_node_t *key_node;
	yaml_node_t *value;
};

static unsigned to_line(size_t zero_based)
{
	return zero_based >= UINT_MAX - 1 ? UINT_MAX : (unsigned)zero_based + 1;
}

/* Fill c->err and return rc, so every failure is one "return fail...". */
__attribute__((format(printf, 6, 0))) static int vfail_at(struct ctx *c, int rc, unsigned line,
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

__attribute__((format(printf, 6, 7))) static int fail_at(struct ctx *c, int rc, unsigned line,
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
__attribute__((format(printf, 4, 5))) static int fail(struct ctx *c, const yaml_node_t *n,
						      const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_at(c, -EINVAL, to_line(n->start_mark.line), to_line(n->start_mark.column), key,
		      fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(struct ctx *c)
{
	return fail_at(c, -ENOMEM, 0, 0, "", "out of memory");
}

/* User text made safe for a one-line log message: at most SHOW_MAX input
 * bytes, quotes, backslashes and anything not printable ASCII escaped, "..."
 * when cut. Returns out. */
static const char *show(char *out, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && i < SHOW_MAX; i++) {
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

#define SHOW_SIZE (SHOW_MAX * 4 + 4)

static bool is_null(const yaml_node_t *n)
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
static const char *describe(const yaml_node_t *n, char *out, size_t size)
{
	char s[SHOW_SIZE];

	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type != YAML_SCALAR_NODE)
		return "nothing";
	if (is_null(n))
		return "an empty value";
	snprintf(out, size, "\"%s\"",
		 show(s, sizeof(s), (const char *)n->data.scalar.value, n->data.scalar.length));
	return out;
}

/* A path too long for struct config_error still names the place; the
 * trailing "..." says it was cut. */
static void path_cut(char *out, int n)
{
	if (n < 0 || (size_t)n >= PATH_LEN)
		memcpy(out + PATH_LEN - 4, "...", 4);
}

static void path_key(char *out, const char *parent, const char *key)
{
	path_cut(out, snprintf(out, PATH_LEN, "%s%s%s", parent, *parent ? "." : "", key));
}

static void path_idx(char *out, const char *parent, size_t idx)
{
	path_cut(out, snprintf(out, PATH_LEN, "%s[%zu]", parent, idx));
}

static yaml_node_t *node_at(struct ctx *c, yaml_node_item_t id)
{
	return yaml_document_get_node(c->doc, id);
}

/* The text of scalar n, NUL-free, not null. Anything else is a type error
 * that says what was wanted. */
static int get_scalar(struct ctx *c, const yaml_node_t *n, const char *path, const char *want,
		      const char **out)
{
	char d[SHOW_SIZE + 2];

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(c, n, path, "expected %s, got %s", want, describe(n, d, sizeof(d)));
	/* A double-quoted "\0" is legal YAML but would cut every later
	 * strcmp short. */
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return fail(c, n, path, "contains a NUL byte; expected %s", want);
	*out = (const char *)n->data.scalar.value;
	return 0;
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

static int unknown_key(struct ctx *c, const yaml_node_t *k, const char *path, const struct field *f,
		       size_t n_fields)
{
	char shown[SHOW_SIZE], allowed[128], hint[64] = "", child[PATH_LEN];
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
	show(shown, sizeof(shown), key, klen);
	path_key(child, path, shown);
	return fail(c, k, child, "unknown key \"%s\"%s; allowed: %s", shown, hint, allowed);
}

/* Sort the pairs of mapping map into f (n_fields wanted keys, value NULL
 * when absent). Unknown, duplicate and non-string keys are errors: a typo
 * must never silently drop a setting. */
static int read_mapping(struct ctx *c, yaml_node_t *map, const char *path, struct field *f,
			size_t n_fields)
{
	yaml_node_pair_t *pair;
	size_t i;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(c, pair->key), *v = node_at(c, pair->value);
		char d[SHOW_SIZE + 2], child[PATH_LEN];

		if (!k || !v)
			return fail(c, map, path, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, path, "keys must be strings, got %s",
				    describe(k, d, sizeof(d)));
		for (i = 0; i < n_fields; i++)
			if (k->data.scalar.length == strlen(f[i].key) &&
			    memcmp(k->data.scalar.value, f[i].key, k->data.scalar.length) == 0)
				break;
		if (i == n_fields)
			return unknown_key(c, k, path, f, n_fields);
		path_key(child, path, f[i].key);
		if (f[i].value)
			return fail(c, k, child, "duplicate key \"%s\"; first given at line %u",
				    f[i].key, to_line(f[i].key_node->start_mark.line));
		f[i].key_node = k;
		f[i].value = v;
	}
	return 0;
}

/* true/false in the YAML 1.2 spellings, unquoted. YAML 1.1's yes/no/on/off
 * are rejected with a hint rather than guessed at. */
static int parse_bool(struct ctx *c, const yaml_node_t *n, const char *path, bool *out)
{
	static const char *const t[] = {"true", "True", "TRUE"};
	static const char *const f[] = {"false", "False", "FALSE"};
	static const char *const old[] = {"yes", "Yes", "YES", "no",  "No", "NO", "on", "On",
					  "ON",	 "off", "Off", "OFF", "y",  "Y",  "n",	"N"};
	char shown[SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	rc = get_scalar(c, n, path, "true or false", &s);
	if (rc)
		return rc;
	show(shown, sizeof(shown), s, n->data.scalar.length);
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail(c, n, path, "expected true or false, got the quoted string \"%s\"",
			    shown);
	for (i = 0; i < 3; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		if (strcmp(s, old[i]) == 0)
			return fail(c, n, path,
				    "\"%s\" is not a boolean here (YAML 1.1 spelling); write true "
				    "or false",
				    shown);
	return fail(c, n, path, "expected true or false, got \"%s\"", shown);
}

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
static int parse_uint(struct ctx *c, const yaml_node_t *n, const char *path, uint32_t lo,
		      uint32_t hi, uint32_t *out)
{
	char want[64], shown[SHOW_SIZE];
	const char *s, *p;
	uint32_t v;
	int rc;

	snprintf(want, sizeof(want), "a whole number %u..%u", lo, hi);
	rc = get_scalar(c, n, path, want, &s);
	if (rc)
		return rc;
	show(shown, sizeof(shown), s, n->data.scalar.length);
	p = s;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !scan_number(&p, &v) || *p)
		return fail(c, n, path, "expected %s, got \"%s\"", want, shown);
	if (v < lo || v > hi)
		return fail(c, n, path, "%s is out of range; allowed: %u..%u", shown, lo, hi);
	*out = v;
	return 0;
}

static int parse_duration_field(struct ctx *c, const yaml_node_t *n, const char *path,
				uint32_t *out)
{
	char shown[SHOW_SIZE];
	const char *s = NULL;
	uint32_t ms;
	int rc;

	rc = get_scalar(c, n, path, "a duration such as 30s, 5m or 1h30m", &s);
	if (rc)
		return rc;
	show(shown, sizeof(shown), s, n->data.scalar.length);
	rc = parse_duration_ms(s, &ms);
	if (rc == -ERANGE)
		return fail(c, n, path, "duration %s is too long; at most 49d (2^32-1 ms)", shown);
	if (rc)
		return fail(c, n, path,
			    "\"%s\" is not a duration; write a number with a unit ms, s, m, h "
			    "or d, largest first, e.g. 500ms, 30s, 5m, 1h30m",
			    shown);
	if (ms == 0)
		return fail(c, n, path, "must be greater than 0");
	*out = ms;
	return 0;
}

static int parse_defaults(struct ctx *c, yaml_node_t *n, struct config *cfg)
{
	struct field f[] = {
	    {"stale_after", NULL, NULL},
	    {"listening_ports", NULL, NULL},
	    {"max_listening_services", NULL, NULL},
	    {"unmatched", NULL, NULL},
	};
	char d[SHOW_SIZE + 2], path[PATH_LEN], shown[SHOW_SIZE];
	const char *s = NULL;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, "defaults", "expected a mapping, got %s",
			    describe(n, d, sizeof(d)));
	rc = read_mapping(c, n, "defaults", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (f[0].value) {
		rc = parse_duration_field(c, f[0].value, "defaults.stale_after",
					  &cfg->stale_after_ms);
		if (rc)
			return rc;
	}
	if (f[1].value) {
		rc = parse_bool(c, f[1].value, "defaults.listening_ports", &cfg->listening_ports);
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
		path_key(path, "defaults", "unmatched");
		rc = get_scalar(c, f[3].value, path, "ignore or count", &s);
		if (rc)
			return rc;
		if (strcmp(s, "ignore") == 0)
			cfg->count_unmatched = false;
		else if (strcmp(s, "count") == 0)
			cfg->count_unmatched = true;
		else
			return fail(c, f[3].value, path, "expected ignore or count, got \"%s\"",
				    show(shown, sizeof(shown), s, f[3].value->data.scalar.length));
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
static int parse_name(struct ctx *c, const yaml_node_t *n, const char *path,
		      const struct config *cfg, size_t idx, char **out)
{
	char shown[SHOW_SIZE], bad[SHOW_SIZE];
	const char *s = NULL;
	size_t len, i;
	int rc;

	rc = get_scalar(c, n, path, "a service name", &s);
	if (rc)
		return rc;
	len = n->data.scalar.length;
	show(shown, sizeof(shown), s, len);
	if (len == 0)
		return fail(c, n, path, "name must not be empty");
	if (len > NAME_MAX_LEN)
		return fail(c, n, path, "name \"%s\" is %zu characters long; at most %d", shown,
			    len, NAME_MAX_LEN);
	for (i = 0; i < len; i++)
		if (!name_char_ok(s[i]))
			return fail(
			    c, n, path,
			    "name \"%s\" contains \"%s\"; allowed: letters, digits, _ . : -", shown,
			    show(bad, sizeof(bad), s + i, 1));
	if (strcmp(s, "unmatched") == 0)
		return fail(c, n, path,
			    "name \"unmatched\" is reserved for sockets no service claims; "
			    "pick another");
	if (strncmp(s, "listen_", 7) == 0)
		return fail(c, n, path,
			    "name \"%s\": names starting with \"listen_\" are reserved for the "
			    "automatic listening-port services; pick another",
			    shown);
	for (i = 0; i < idx; i++)
		if (cfg->services[i].name && strcmp(cfg->services[i].name, s) == 0)
			return fail(c, n, path,
				    "duplicate service name \"%s\"; services[%zu] already uses it",
				    shown, i);
	*out = strndup(s, len);
	if (!*out)
		return nomem(c);
	return 0;
}

/* One ports entry: N or "LO-HI", quoted or not. */
static int parse_port(struct ctx *c, const yaml_node_t *n, const char *path, struct port_range *out)
{
	char shown[SHOW_SIZE];
	const char *s, *p;
	uint32_t lo, hi;
	int rc;

	rc = get_scalar(c, n, path, "a port 1..65535 or a range \"LO-HI\"", &s);
	if (rc)
		return rc;
	show(shown, sizeof(shown), s, n->data.scalar.length);
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
		return fail(c, n, path, "port \"%s\" is out of range; ports are 1..65535", shown);
	if (lo > hi)
		return fail(c, n, path, "port range %u-%u is reversed; write \"%u-%u\"", lo, hi, hi,
			    lo);
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
syntax:
	return fail(c, n, path,
		    "\"%s\" is not a port; write a number 1..65535 or a quoted range such as "
		    "\"6000-6010\"",
		    shown);
}

static int parse_ports(struct ctx *c, const yaml_node_t *n, const char *path,
		       struct service_config *svc)
{
	char d[SHOW_SIZE + 2], child[PATH_LEN];
	size_t count, i;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, path,
			    "expected a list of ports such as [5432, \"6000-6010\"], got %s",
			    describe(n, d, sizeof(d)));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count == 0)
		return fail(c, n, path, "must list at least one port");
	if (count > MAX_PORTS)
		return fail(c, n, path, "%zu entries; at most %d, use \"LO-HI\" ranges", count,
			    MAX_PORTS);
	svc->ports = calloc(count, sizeof(*svc->ports));
	if (!svc->ports)
		return nomem(c);
	for (i = 0; i < count; i++) {
		yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);

		path_idx(child, path, i);
		if (!item)
			return fail(c, n, child, "malformed list");
		rc = parse_port(c, item, child, &svc->ports[i]);
		if (rc)
			return rc;
		svc->n_ports = i + 1;
	}
	return 0;
}

/* "addr/prefix" for either family, host bits clear. */
static int parse_cidr(struct ctx *c, const yaml_node_t *n, const char *path, struct cidr *out)
{
	char shown[SHOW_SIZE], addr[INET6_ADDRSTRLEN + 1], net[INET6_ADDRSTRLEN];
	const char *s, *slash, *p;
	uint8_t masked[16];
	size_t alen, i;
	uint32_t prefix, max;
	int rc;

	rc = get_scalar(c, n, path, "a network such as 10.0.0.0/8 or fd00::/8", &s);
	if (rc)
		return rc;
	show(shown, sizeof(shown), s, n->data.scalar.length);
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
		return fail(c, n, path,
			    "\"%s\" has no prefix length; write %s/%u for this one address", shown,
			    addr, max);
	p = slash + 1;
	if (!scan_number(&p, &prefix) || *p || p - slash > 4)
		goto syntax;
	if (prefix > max)
		return fail(c, n, path, "prefix /%u is out of range for %s (0..%u)", prefix,
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
		return fail(c, n, path, "%s has host bits set; did you mean %s/%u?", shown, net,
			    prefix);
	}
	return 0;
syntax:
	return fail(c, n, path,
		    "\"%s\" is not a network; write address/prefix such as 10.0.0.0/8 or "
		    "fd00::/8",
		    shown);
}

static int parse_cidrs(struct ctx *c, const yaml_node_t *n, const char *path,
		       struct service_config *svc)
{
	char d[SHOW_SIZE + 2], child[PATH_LEN];
	size_t count, i;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, path,
			    "expected a list of networks such as [\"10.0.0.0/8\"], got %s",
			    describe(n, d, sizeof(d)));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	/* An empty list could mean "no peer" or "any peer"; neither guess is
	 * safe, so make the author say which. */
	if (count == 0)
		return fail(c, n, path,
			    "is empty; list at least one network, or remove cidrs to match any "
			    "peer");
	if (count > MAX_CIDRS)
		return fail(c, n, path, "%zu entries; at most %d", count, MAX_CIDRS);
	svc->cidrs = calloc(count, sizeof(*svc->cidrs));
	if (!svc->cidrs)
		return nomem(c);
	for (i = 0; i < count; i++) {
		yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);

		path_idx(child, path, i);
		if (!item)
			return fail(c, n, child, "malformed list");
		rc = parse_cidr(c, item, child, &svc->cidrs[i]);
		if (rc)
			return rc;
		svc->n_cidrs = i + 1;
	}
	return 0;
}

/* services[idx] into cfg->services[idx]; cfg->stale_after_ms must already
 * hold the default it inherits. */
static int parse_service(struct ctx *c, yaml_node_t *n, const char *path, struct config *cfg,
			 size_t idx)
{
	struct field f[] = {
	    {"name", NULL, NULL},  {"direction", NULL, NULL},	{"ports", NULL, NULL},
	    {"cidrs", NULL, NULL}, {"stale_after", NULL, NULL}, {"destroy_after", NULL, NULL},
	};
	struct service_config *svc = &cfg->services[idx];
	char d[SHOW_SIZE + 2], child[PATH_LEN], shown[SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, path,
			    "expected a service (a mapping with name, direction and "
			    "ports), got %s",
			    describe(n, d, sizeof(d)));
	rc = read_mapping(c, n, path, f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	for (i = 0; i < 3; i++)
		if (!f[i].value)
			return fail(c, n, path, "missing required key \"%s\"", f[i].key);

	path_key(child, path, "name");
	rc = parse_name(c, f[0].value, child, cfg, idx, &svc->name);
	if (rc)
		return rc;

	path_key(child, path, "direction");
	rc = get_scalar(c, f[1].value, child, "inbound or outbound", &s);
	if (rc)
		return rc;
	if (strcmp(s, "inbound") == 0)
		svc->direction = DIRECTION_INBOUND;
	else if (strcmp(s, "outbound") == 0)
		svc->direction = DIRECTION_OUTBOUND;
	else
		return fail(c, f[1].value, child,
			    "expected inbound (match the local port) or outbound (match the "
			    "remote port), got \"%s\"",
			    show(shown, sizeof(shown), s, f[1].value->data.scalar.length));

	path_key(child, path, "ports");
	rc = parse_ports(c, f[2].value, child, svc);
	if (rc)
		return rc;

	if (f[3].value) {
		path_key(child, path, "cidrs");
		rc = parse_cidrs(c, f[3].value, child, svc);
		if (rc)
			return rc;
	}

	svc->stale_after_ms = cfg->stale_after_ms;
	if (f[4].value) {
		path_key(child, path, "stale_after");
		rc = parse_duration_field(c, f[4].value, child, &svc->stale_after_ms);
		if (rc)
			return rc;
	}
	if (f[5].value) {
		path_key(child, path, "destroy_after");
		rc = parse_duration_field(c, f[5].value, child, &svc->destroy_after_ms);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_services(struct ctx *c, yaml_node_t *n, struct config *cfg)
{
	char d[SHOW_SIZE + 2], path[PATH_LEN];
	size_t count, i;
	int rc;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "services", "expected a list of services, got %s",
			    describe(n, d, sizeof(d)));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count > CONFIG_MAX_SERVICES)
		return fail(c, n, "services", "%zu services; at most %d", count,
			    CONFIG_MAX_SERVICES);
	if (count == 0)
		return 0;
	cfg->services = calloc(count, sizeof(*cfg->services));
	if (!cfg->services)
		return nomem(c);
	/* Counted up front so config_free() sees every partly filled entry. */
	cfg->n_services = count;
	for (i = 0; i < count; i++) {
		yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);

		path_idx(path, "services", i);
		if (!item)
			return fail(c, n, path, "malformed list");
		rc = parse_service(c, item, path, cfg, i);
		if (rc)
			return rc;
	}
	return 0;
}

/* The whole document into cfg, which holds the file defaults on entry.
 * root is NULL for an empty stream. defaults is read before services
 * whatever the file order, since services inherit its stale_after. */
static int parse_root(struct ctx *c, yaml_node_t *root, struct config *cfg)
{
	struct field f[] = {{"defaults", NULL, NULL}, {"services", NULL, NULL}};
	char d[SHOW_SIZE + 2];
	int rc;

	/* No position: libyaml puts an empty document's null at its end. */
	if (!root || is_null(root))
		return fail_at(
		    c, -EINVAL, 0, 0, "",
		    "the configuration is empty and would count nothing; add services, "
		    "or set defaults.listening_ports: true or defaults.unmatched: count");
	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, "",
			    "expected a mapping with the keys defaults and services at the top "
			    "level, got %s",
			    describe(root, d, sizeof(d)));
	rc = read_mapping(c, root, "", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	/* An empty "defaults:" or "services:" is what commenting out every
	 * entry leaves behind; it means "none", not a type error. */
	if (f[0].value && !is_null(f[0].value)) {
		rc = parse_defaults(c, f[0].value, cfg);
		if (rc)
			return rc;
	}
	if (f[1].value && !is_null(f[1].value)) {
		rc = parse_services(c, f[1].value, cfg);
		if (rc)
			return rc;
	}
	if (cfg->n_services == 0 && !cfg->listening_ports && !cfg->count_unmatched)
		return fail(c, root, "",
			    "this configuration counts nothing: no services, "
			    "defaults.listening_ports is false and defaults.unmatched is ignore; "
			    "add a service or enable one of them");
	return 0;
}

/* Whether line (0-based) of the input is indented with a tab: libyaml's
 * message for it ("found character that cannot start any token") does not
 * say so, and it is the most common YAML mistake there is. */
static bool leading_tab(const struct ctx *c, size_t line)
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
static int yaml_fail(struct ctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	unsigned line = 1, column = 1;
	size_t i, end;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return nomem(c);
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
			return fail_at(c, -EINVAL, line, column, "",
				       "invalid input: %s (byte 0x%02x)", problem,
				       (unsigned)p->problem_value & 0xffu);
		return fail_at(c, -EINVAL, line, column, "", "invalid input: %s", problem);
	case YAML_COMPOSER_ERROR:
		/* "found duplicate anchor; first occurrence" at context_mark,
		 * "second occurrence" at problem_mark: say it in one phrase. */
		if (p->context)
			return fail_at(c, -EINVAL, to_line(p->problem_mark.line),
				       to_line(p->problem_mark.column), "",
				       "invalid YAML: %s at line %u, column %u", p->context,
				       to_line(p->context_mark.line),
				       to_line(p->context_mark.column));
		return fail_at(c, -EINVAL, to_line(p->problem_mark.line),
			       to_line(p->problem_mark.column), "", "invalid YAML: %s", problem);
	default:
		if (leading_tab(c, p->problem_mark.line))
			return fail_at(c, -EINVAL, to_line(p->problem_mark.line),
				       to_line(p->problem_mark.column), "",
				       "invalid YAML: tab in indentation; YAML indents with spaces "
				       "only");
		if (p->context)
			return fail_at(c, -EINVAL, to_line(p->problem_mark.line),
				       to_line(p->problem_mark.column), "",
				       "invalid YAML: %s (%s at line %u, column %u)", problem,
				       p->context, to_line(p->context_mark.line),
				       to_line(p->context_mark.column));
		return fail_at(c, -EINVAL, to_line(p->problem_mark.line),
			       to_line(p->problem_mark.column), "", "invalid YAML: %s", problem);
	}
}

static int fail_mark(struct ctx *c, yaml_mark_t m, const char *msg)
{
	return fail_at(c, -EINVAL, to_line(m.line), to_line(m.column), "", "%s", msg);
}

/* One event pass over the input before the loader builds the document:
 * reports syntax errors and more than one document, and enforces
 * MAX_DEPTH/MAX_ANCHORS/MAX_ALIASES so the loader's superlinear paths stay
 * small. Stops at the first violation, which bounds its own work too. */
static int check_stream(struct ctx *c)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t depth = 0, anchors = 0, aliases = 0, docs = 0;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return nomem(c);
	yaml_parser_set_input_string(&p, c->data, c->len);
	while (!done && !rc) {
		yaml_char_t *anchor = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_fail(c, &p);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = fail_mark(c, ev.start_mark,
					       "a second YAML document; the configuration must be "
					       "a single document");
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor = ev.type == YAML_SEQUENCE_START_EVENT
				     ? ev.data.sequence_start.anchor
				     : ev.data.mapping_start.anchor;
			if (++depth > MAX_DEPTH)
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
			if (++aliases > MAX_ALIASES)
				rc = fail_mark(c, ev.start_mark, "too many aliases");
			break;
		default:
			break;
		}
		if (!rc && anchor && ++anchors > MAX_ANCHORS)
			rc = fail_mark(c, ev.start_mark, "too many anchors");
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
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
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_parser = false, have_doc = false;
	struct ctx c;
	int rc;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	c.name = name ? name : "<buffer>";
	c.data = (const unsigned char *)(data ? data : "");
	c.len = len;
	c.doc = &doc;
	c.err = err;
	if (!out || (!data && len)) {
		rc = fail_at(&c, -EINVAL, 0, 0, "", "invalid arguments");
		goto out;
	}
	if (len > CONFIG_MAX_BYTES) {
		rc = fail_at(&c, -EINVAL, 0, 0, "", "larger than 1 MiB");
		goto out;
	}
	rc = check_stream(&c);
	if (rc)
		goto out;
	if (!yaml_parser_initialize(&parser)) {
		rc = nomem(&c);
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_string(&parser, c.data, c.len);
	/* On failure the loader has already freed the partial document. */
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&c, &parser);
		goto out;
	}
	have_doc = true;
	cfg = config_new(c.name);
	if (!cfg) {
		rc = nomem(&c);
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
	if (have_parser)
		yaml_parser_delete(&parser);
	return rc;
}

static int io_fail(struct config_error *err, const char *path, int rc, const char *what)
{
	char tmp[128];

	snprintf(err->file, sizeof(err->file), "%s", path);
	err->line = 0;
	err->column = 0;
	err->key[0] = '\0';
	/* GNU strerror_r: a reload may run beside other threads. */
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror_r(-rc, tmp, sizeof(tmp)));
	return rc;
}

int config_load_file(const char *path, struct config **out, struct config_error *err)
{
	struct config_error scratch;
	char chunk[16384];
	struct buf b;
	int fd = -1, rc;

	buf_init(&b);
	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	if (!path || !out) {
		rc = io_fail(err, path ? path : "", -EINVAL, "cannot load");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = io_fail(err, path, -errno, "cannot open");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_fail(err, path, -errno, "cannot read");
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > CONFIG_MAX_BYTES) {
			snprintf(err->file, sizeof(err->file), "%s", path);
			snprintf(err->msg, sizeof(err->msg),
				 "larger than 1 MiB; is it a config file?");
			rc = -EFBIG;
			goto out;
		}
		if (buf_append(&b, chunk, (size_t)n)) {
			rc = io_fail(err, path, -ENOMEM, "cannot read");
			goto out;
		}
	}
	rc = config_load_buffer(path, b.data, b.len, out, err);
out:
	if (fd >= 0)
		close(fd);
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
