#include "config/web_config.h"

#include "common/buf.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

/* The web config and every file it names are small; the cap keeps a wrong
 * path (a log, a device) from being read whole. */
#define WEB_MAX_BYTES (1u << 20)

/* Same reasoning as config.c: libyaml is superlinear in nesting depth and
 * anchor count, and this schema is three levels deep. */
#define MAX_DEPTH   16
#define MAX_ANCHORS 64
#define MAX_ALIASES 256

#define SHOW_MAX  40
#define SHOW_SIZE (SHOW_MAX * 4 + 4)
#define PATH_LEN  sizeof(((struct config_error *)0)->key)

struct ctx {
	const char *name;
	const char *dir;
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

/* -EINVAL placed at node n. */
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

/* User text made safe for a one-line log message (see config.c). */
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

static const char *describe(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type != YAML_SCALAR_NODE)
		return "nothing";
	if (is_null(n))
		return "an empty value";
	return "a string";
}

static void path_key(char *out, const char *parent, const char *key)
{
	int n = snprintf(out, PATH_LEN, "%s%s%s", parent, *parent ? "." : "", key);

	if (n < 0 || (size_t)n >= PATH_LEN)
		memcpy(out + PATH_LEN - 4, "...", 4);
}

static yaml_node_t *node_at(struct ctx *c, yaml_node_item_t id)
{
	return yaml_document_get_node(c->doc, id);
}

/* The text of scalar n: NUL-free and not null. */
static int get_scalar(struct ctx *c, const yaml_node_t *n, const char *path, const char *want,
		      const char **out)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(c, n, path, "expected %s, got %s", want, describe(n));
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return fail(c, n, path, "contains a NUL byte; expected %s", want);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

static int expect_mapping(struct ctx *c, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, path, "expected a mapping, got %s", describe(n));
	return 0;
}

/* Sort the pairs of map into f. Unknown, duplicate and non-string keys are
 * errors: a mistyped security setting must never be silently dropped. */
static int read_mapping(struct ctx *c, yaml_node_t *map, const char *path, struct field *f,
			size_t n_fields)
{
	yaml_node_pair_t *pair;
	size_t i;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(c, pair->key), *v = node_at(c, pair->value);
		char shown[SHOW_SIZE], child[PATH_LEN], allowed[200];
		size_t off = 0;

		if (!k || !v)
			return fail(c, map, path, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail(c, k, path, "keys must be strings, got %s", describe(k));
		for (i = 0; i < n_fields; i++)
			if (k->data.scalar.length == strlen(f[i].key) &&
			    memcmp(k->data.scalar.value, f[i].key, k->data.scalar.length) == 0)
				break;
		if (i == n_fields) {
			allowed[0] = '\0';
			for (i = 0; i < n_fields; i++) {
				int w = snprintf(allowed + off, sizeof(allowed) - off, "%s%s",
						 i ? ", " : "", f[i].key);

				if (w > 0 && (size_t)w < sizeof(allowed) - off)
					off += (size_t)w;
			}
			show(shown, sizeof(shown), (const char *)k->data.scalar.value,
			     k->data.scalar.length);
			path_key(child, path, shown);
			return fail(c, k, child, "unknown key \"%s\"; allowed: %s", shown, allowed);
		}
		path_key(child, path, f[i].key);
		if (f[i].value)
			return fail(c, k, child, "duplicate key \"%s\"; first given at line %u",
				    f[i].key, to_line(f[i].key_node->start_mark.line));
		f[i].key_node = k;
		f[i].value = v;
	}
	return 0;
}

static int parse_bool(struct ctx *c, const yaml_node_t *n, const char *path, bool *out)
{
	const char *s = NULL;
	int rc;

	rc = get_scalar(c, n, path, "true or false", &s);
	if (rc)
		return rc;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))) {
		*out = true;
		return 0;
	}
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))) {
		*out = false;
		return 0;
	}
	return fail(c, n, path, "expected true or false");
}

/* ---- files ------------------------------------------------------------ */

/* Contract: the whole of path (at most WEB_MAX_BYTES) into b. 0 or -errno
 * (-EFBIG past the cap). */
static int read_file(const char *path, struct buf *b)
{
	char chunk[16384];
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > WEB_MAX_BYTES) {
			rc = -EFBIG;
			break;
		}
		if (buf_append(b, chunk, (size_t)n)) {
			rc = -ENOMEM;
			break;
		}
	}
	close(fd);
	return rc;
}

/* Contract: the file named by scalar n, resolved against c->dir as
 * exporter-toolkit does, read into b; *resolved gets a malloc()ed copy of
 * the path used. Errors name the key and the file. */
static int load_named_file(struct ctx *c, const yaml_node_t *n, const char *path, char **resolved,
			   struct buf *b)
{
	char shown[SHOW_SIZE], eb[128];
	struct buf p;
	const char *s = NULL;
	int rc;

	rc = get_scalar(c, n, path, "a file path", &s);
	if (rc)
		return rc;
	buf_init(&p);
	if (s[0] != '/' && c->dir && c->dir[0])
		buf_printf(&p, "%s/", c->dir);
	buf_puts(&p, s);
	if (buf_error(&p)) {
		buf_free(&p);
		return nomem(c);
	}
	*resolved = buf_steal(&p, NULL);
	if (!*resolved)
		return nomem(c);
	show(shown, sizeof(shown), *resolved, strlen(*resolved));
	rc = read_file(*resolved, b);
	if (rc == -ENOMEM)
		return nomem(c);
	if (rc == -EFBIG)
		return fail(c, n, path, "\"%s\" is larger than 1 MiB", shown);
	if (rc)
		return fail(c, n, path, "cannot read \"%s\": %s", shown,
			    strerror_r(-rc, eb, sizeof(eb)));
	return 0;
}

/* ---- tls_server_config ------------------------------------------------- */

static const struct {
	const char *name;
	enum web_client_auth v;
} client_auths[] = {
    {"NoClientCert", WEB_CLIENT_AUTH_NONE},
    {"RequestClientCert", WEB_CLIENT_AUTH_REQUEST},
    {"RequireAnyClientCert", WEB_CLIENT_AUTH_REQUIRE_ANY},
    /* exporter-toolkit keeps this older spelling working. */
    {"RequireClientCert", WEB_CLIENT_AUTH_REQUIRE_ANY},
    {"VerifyClientCertIfGiven", WEB_CLIENT_AUTH_VERIFY_IF_GIVEN},
    {"RequireAndVerifyClientCert", WEB_CLIENT_AUTH_REQUIRE_VERIFY},
};

const char *web_client_auth_name(enum web_client_auth a)
{
	size_t i;

	for (i = 0; i < sizeof(client_auths) / sizeof(client_auths[0]); i++)
		if (client_auths[i].v == a)
			return client_auths[i].name;
	return "unknown";
}

static int parse_client_auth(struct ctx *c, const yaml_node_t *n, const char *path,
			     enum web_client_auth *out)
{
	char shown[SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	/* exporter-toolkit treats an empty value as NoClientCert. */
	if (n->type == YAML_SCALAR_NODE && is_null(n)) {
		*out = WEB_CLIENT_AUTH_NONE;
		return 0;
	}
	rc = get_scalar(c, n, path, "a client auth type", &s);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(client_auths) / sizeof(client_auths[0]); i++)
		if (strcmp(s, client_auths[i].name) == 0) {
			*out = client_auths[i].v;
			return 0;
		}
	return fail(c, n, path,
		    "\"%s\" is not a client auth type; allowed: NoClientCert, RequestClientCert, "
		    "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
		    show(shown, sizeof(shown), s, n->data.scalar.length));
}

static int parse_version(struct ctx *c, const yaml_node_t *n, const char *path,
			 enum web_tls_version *out)
{
	static const struct {
		const char *name;
		enum web_tls_version v;
	} versions[] = {
	    {"TLS10", WEB_TLS10},
	    {"TLS11", WEB_TLS11},
	    {"TLS12", WEB_TLS12},
	    {"TLS13", WEB_TLS13},
	};
	char shown[SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	rc = get_scalar(c, n, path, "a TLS version", &s);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(s, versions[i].name) == 0) {
			*out = versions[i].v;
			return 0;
		}
	return fail(c, n, path, "\"%s\" is not a TLS version; allowed: TLS10, TLS11, TLS12, TLS13",
		    show(shown, sizeof(shown), s, n->data.scalar.length));
}

/* Contract: the GnuTLS priority for [min, max] into t->priority. The
 * cipher choice stays GnuTLS's NORMAL (the system policy), which is what
 * Go's defaults amount to as well. */
static int build_priority(struct ctx *c, const yaml_node_t *at, struct web_tls *t)
{
	static const char *const names[] = {"+VERS-TLS1.0", "+VERS-TLS1.1", "+VERS-TLS1.2",
					    "+VERS-TLS1.3"};
	char prio[160];
	const char *errpos = NULL;
	size_t off;
	int v, rc;

	off = (size_t)snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL");
	for (v = (int)t->max_version; v >= (int)t->min_version; v--)
		off += (size_t)snprintf(prio + off, sizeof(prio) - off, ":%s", names[v - 10]);
	rc = gnutls_priority_init(&t->priority, prio, &errpos);
	if (rc == GNUTLS_E_MEMORY_ERROR)
		return nomem(c);
	if (rc < 0) {
		t->priority = NULL;
		return fail(c, at, "tls_server_config",
			    "the TLS library refuses versions %d..%d: %s", (int)t->min_version,
			    (int)t->max_version, gnutls_strerror(rc));
	}
	return 0;
}

/* Contract: the certificate chain and key, parsed and checked to belong
 * together, into t. */
static int load_cert_key(struct ctx *c, const struct field *cf, const struct field *kf,
			 struct web_tls *t)
{
	gnutls_certificate_credentials_t cred = NULL;
	struct buf cb, kb;
	gnutls_datum_t cd, kd;
	unsigned n = WEB_TLS_MAX_CHAIN;
	int rc;

	buf_init(&cb);
	buf_init(&kb);
	rc = load_named_file(c, cf->value, "tls_server_config.cert_file", &t->cert_file, &cb);
	if (rc)
		goto out;
	rc = load_named_file(c, kf->value, "tls_server_config.key_file", &t->key_file, &kb);
	if (rc)
		goto out;
	cd.data = (unsigned char *)cb.data;
	cd.size = (unsigned)cb.len;
	kd.data = (unsigned char *)kb.data;
	kd.size = (unsigned)kb.len;
	rc = gnutls_pcert_list_import_x509_raw(t->certs, &n, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		rc = fail(c, cf->value, "tls_server_config.cert_file",
			  "no usable PEM certificate in the file: %s",
			  rc < 0 ? gnutls_strerror(rc) : "none found");
		goto out;
	}
	t->n_certs = n;
	rc = gnutls_privkey_init(&t->key);
	if (rc < 0) {
		t->key = NULL;
		rc = nomem(c);
		goto out;
	}
	rc = gnutls_privkey_import_x509_raw(t->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		rc = fail(c, kf->value, "tls_server_config.key_file",
			  "no usable unencrypted PEM private key in the file: %s",
			  gnutls_strerror(rc));
		goto out;
	}
	/* The credentials API does the key/certificate match check. */
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		cred = NULL;
		rc = nomem(c);
		goto out;
	}
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		rc = fail(c, kf->value, "tls_server_config.key_file",
			  "key does not go with the certificate in %s: %s", t->cert_file,
			  gnutls_strerror(rc));
		goto out;
	}
	rc = 0;
out:
	if (cred)
		gnutls_certificate_free_credentials(cred);
	/* The key file is a secret: do not leave it in freed heap. */
	if (kb.data)
		gnutls_memset(kb.data, 0, kb.cap);
	buf_free(&cb);
	buf_free(&kb);
	return rc;
}

static int load_client_cas(struct ctx *c, const yaml_node_t *n, struct web_tls *t)
{
	struct buf b;
	gnutls_datum_t d;
	int rc;

	buf_init(&b);
	rc = load_named_file(c, n, "tls_server_config.client_ca_file", &t->client_ca_file, &b);
	if (rc)
		goto out;
	if (gnutls_x509_trust_list_init(&t->client_cas, 0) < 0) {
		t->client_cas = NULL;
		rc = nomem(c);
		goto out;
	}
	d.data = (unsigned char *)b.data;
	d.size = (unsigned)b.len;
	rc = gnutls_x509_trust_list_add_trust_mem(t->client_cas, &d, NULL, GNUTLS_X509_FMT_PEM, 0,
						  0);
	if (rc <= 0) {
		rc = fail(c, n, "tls_server_config.client_ca_file",
			  "no usable PEM certificate in the file: %s",
			  rc < 0 ? gnutls_strerror(rc) : "none found");
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static void tls_free(struct web_tls *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < t->n_certs; i++)
		gnutls_pcert_deinit(&t->certs[i]);
	if (t->key)
		gnutls_privkey_deinit(t->key);
	if (t->client_cas)
		gnutls_x509_trust_list_deinit(t->client_cas, 1);
	if (t->priority)
		gnutls_priority_deinit(t->priority);
	free(t->cert_file);
	free(t->key_file);
	free(t->client_ca_file);
	free(t);
}

static int parse_tls(struct ctx *c, yaml_node_t *n, struct web_config *wc)
{
	struct field f[] = {
	    {"cert_file", NULL, NULL},
	    {"key_file", NULL, NULL},
	    {"client_auth_type", NULL, NULL},
	    {"client_ca_file", NULL, NULL},
	    {"min_version", NULL, NULL},
	    {"max_version", NULL, NULL},
	    {"prefer_server_cipher_suites", NULL, NULL},
	};
	struct web_tls *t;
	bool prefer;
	int rc;

	rc = expect_mapping(c, n, "tls_server_config");
	if (rc)
		return rc;
	rc = read_mapping(c, n, "tls_server_config", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (!f[0].value || is_null(f[0].value))
		return fail(c, n, "tls_server_config.cert_file",
			    "missing; TLS needs cert_file and key_file");
	if (!f[1].value || is_null(f[1].value))
		return fail(c, n, "tls_server_config.key_file",
			    "missing; TLS needs cert_file and key_file");
	t = calloc(1, sizeof(*t));
	if (!t)
		return nomem(c);
	wc->tls = t;
	t->min_version = WEB_TLS12;
	t->max_version = WEB_TLS13;
	if (f[2].value) {
		rc = parse_client_auth(c, f[2].value, "tls_server_config.client_auth_type",
				       &t->client_auth);
		if (rc)
			return rc;
	}
	if (f[4].value) {
		rc = parse_version(c, f[4].value, "tls_server_config.min_version", &t->min_version);
		if (rc)
			return rc;
	}
	if (f[5].value) {
		rc = parse_version(c, f[5].value, "tls_server_config.max_version", &t->max_version);
		if (rc)
			return rc;
	}
	if (t->min_version > t->max_version)
		return fail(c, f[4].value ? f[4].value : f[5].value,
			    "tls_server_config.min_version",
			    "min_version TLS%d is above max_version TLS%d", (int)t->min_version,
			    (int)t->max_version);
	/* Accepted for compatibility; like Go since 1.17, it changes nothing:
	 * the system policy orders the suites. */
	if (f[6].value) {
		rc = parse_bool(c, f[6].value, "tls_server_config.prefer_server_cipher_suites",
				&prefer);
		if (rc)
			return rc;
	}
	if (f[3].value && !is_null(f[3].value)) {
		if (t->client_auth == WEB_CLIENT_AUTH_NONE)
			return fail(c, f[3].value, "tls_server_config.client_ca_file",
				    "client CAs are configured but client_auth_type is "
				    "NoClientCert; set client_auth_type (e.g. "
				    "RequireAndVerifyClientCert)");
	} else if (t->client_auth == WEB_CLIENT_AUTH_VERIFY_IF_GIVEN ||
		   t->client_auth == WEB_CLIENT_AUTH_REQUIRE_VERIFY) {
		return fail(c, f[2].value, "tls_server_config.client_ca_file",
			    "missing; client_auth_type %s verifies client certificates against "
			    "client_ca_file",
			    web_client_auth_name(t->client_auth));
	}
	rc = build_priority(c, n, t);
	if (rc)
		return rc;
	rc = load_cert_key(c, &f[0], &f[1], t);
	if (rc)
		return rc;
	if (f[3].value && !is_null(f[3].value))
		return load_client_cas(c, f[3].value, t);
	return 0;
}

/* ---- http_server_config ------------------------------------------------ */

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

static int parse_headers(struct ctx *c, yaml_node_t *n, struct web_config *wc)
{
	yaml_node_pair_t *pair;
	size_t npairs, i, j;
	int rc;

	rc = expect_mapping(c, n, "http_server_config.headers");
	if (rc)
		return rc;
	npairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (npairs == 0)
		return 0;
	if (npairs > WEB_CONFIG_MAX_HEADERS)
		return fail(c, n, "http_server_config.headers", "more than %d headers",
			    WEB_CONFIG_MAX_HEADERS);
	wc->headers = calloc(npairs, sizeof(*wc->headers));
	if (!wc->headers)
		return nomem(c);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(c, pair->key), *v = node_at(c, pair->value);
		char shown[SHOW_SIZE], path[PATH_LEN];
		const char *name, *value;
		size_t idx = SIZE_MAX;

		if (!k || !v)
			return fail(c, n, "http_server_config.headers", "malformed mapping");
		rc = get_scalar(c, k, "http_server_config.headers", "a header name", &name);
		if (rc)
			return rc;
		show(shown, sizeof(shown), name, k->data.scalar.length);
		path_key(path, "http_server_config.headers", shown);
		for (i = 0; i < sizeof(allowed_headers) / sizeof(allowed_headers[0]); i++)
			if (strcasecmp(name, allowed_headers[i].name) == 0)
				idx = i;
		if (idx == SIZE_MAX)
			return fail(c, k, path,
				    "header \"%s\" cannot be configured; allowed: "
				    "Strict-Transport-Security, X-Content-Type-Options, "
				    "X-Frame-Options, X-XSS-Protection, Content-Security-Policy",
				    shown);
		for (j = 0; j < wc->n_headers; j++)
			if (strcmp(wc->headers[j].name, allowed_headers[idx].name) == 0)
				return fail(c, k, path, "duplicate header");
		rc = get_scalar(c, v, path, "a header value", &value);
		if (rc)
			return rc;
		/* A CR or LF would let the config inject headers or split
		 * the response. */
		for (i = 0; value[i]; i++)
			if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
				return fail(c, v, path, "control character in the value");
		if (allowed_headers[idx].values[0]) {
			bool ok = false;

			for (i = 0; allowed_headers[idx].values[i]; i++)
				if (strcasecmp(value, allowed_headers[idx].values[i]) == 0)
					ok = true;
			if (!ok)
				return fail(
				    c, v, path, "invalid value \"%s\" for %s",
				    show(shown, sizeof(shown), value, v->data.scalar.length),
				    allowed_headers[idx].name);
		}
		wc->headers[wc->n_headers].name = strdup(allowed_headers[idx].name);
		wc->headers[wc->n_headers].value = strdup(value);
		wc->n_headers++;
		if (!wc->headers[wc->n_headers - 1].name || !wc->headers[wc->n_headers - 1].value)
			return nomem(c);
	}
	return 0;
}

static int parse_http(struct ctx *c, yaml_node_t *n, struct web_config *wc)
{
	struct field f[] = {{"headers", NULL, NULL}, {"http2", NULL, NULL}};
	bool http2;
	int rc;

	rc = expect_mapping(c, n, "http_server_config");
	if (rc)
		return rc;
	rc = read_mapping(c, n, "http_server_config", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (f[0].value && !is_null(f[0].value)) {
		rc = parse_headers(c, f[0].value, wc);
		if (rc)
			return rc;
	}
	/* Accepted so shared files load; this server speaks HTTP/1.1 only,
	 * which every scraper does too. */
	if (f[1].value)
		return parse_bool(c, f[1].value, "http_server_config.http2", &http2);
	return 0;
}

/* ---- basic_auth_users ---------------------------------------------------- */

/* Whether hash looks like a bcrypt hash libcrypt will verify: "$2y$NN$"
 * then 53 characters of bcrypt's base64. */
static bool is_bcrypt(const char *hash, size_t len)
{
	if (len != 60 || hash[0] != '$' || hash[1] != '2' ||
	    (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$' ||
	    hash[6] != '$')
		return false;
	return crypt_checksalt(hash) == CRYPT_SALT_OK;
}

static int parse_users(struct ctx *c, yaml_node_t *n, struct web_config *wc)
{
	yaml_node_pair_t *pair;
	size_t npairs, j;
	int rc;

	rc = expect_mapping(c, n, "basic_auth_users");
	if (rc)
		return rc;
	npairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (npairs == 0)
		return 0;
	if (npairs > WEB_CONFIG_MAX_USERS)
		return fail(c, n, "basic_auth_users", "more than %d users", WEB_CONFIG_MAX_USERS);
	wc->users = calloc(npairs, sizeof(*wc->users));
	if (!wc->users)
		return nomem(c);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(c, pair->key), *v = node_at(c, pair->value);
		char shown[SHOW_SIZE], path[PATH_LEN];
		const char *name, *hash;
		struct web_user *u;

		if (!k || !v)
			return fail(c, n, "basic_auth_users", "malformed mapping");
		rc = get_scalar(c, k, "basic_auth_users", "a user name", &name);
		if (rc)
			return rc;
		show(shown, sizeof(shown), name, k->data.scalar.length);
		path_key(path, "basic_auth_users", shown);
		if (strchr(name, ':'))
			return fail(c, k, path,
				    "user name contains ':', which Basic authentication cannot "
				    "carry");
		for (j = 0; j < wc->n_users; j++)
			if (strcmp(wc->users[j].name, name) == 0)
				return fail(c, k, path, "duplicate user");
		rc = get_scalar(c, v, path, "a bcrypt password hash", &hash);
		if (rc)
			return rc;
		/* The value is never quoted back: it may be a password typed
		 * where its hash belongs. */
		if (!is_bcrypt(hash, v->data.scalar.length))
			return fail(c, v, path,
				    "not a bcrypt hash (want $2y$, $2b$ or $2a$, cost 04..31, 60 "
				    "characters); make one with `htpasswd -nbBC 10 USER PASS` or "
				    "Python's bcrypt.hashpw");
		u = &wc->users[wc->n_users++];
		u->name = strdup(name);
		u->hash = strdup(hash);
		if (!u->name || !u->hash)
			return nomem(c);
	}
	return 0;
}

/* ---- document -------------------------------------------------------------- */

static int parse_root(struct ctx *c, yaml_node_t *root, struct web_config *wc)
{
	struct field f[] = {
	    {"tls_server_config", NULL, NULL},
	    {"http_server_config", NULL, NULL},
	    {"basic_auth_users", NULL, NULL},
	};
	int rc;

	/* An empty file is valid, as in exporter-toolkit: plain HTTP, no
	 * authentication. */
	if (!root || is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail(c, root, "",
			    "expected a mapping with the keys tls_server_config, "
			    "http_server_config and basic_auth_users, got %s",
			    describe(root));
	rc = read_mapping(c, root, "", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (f[2].value && !is_null(f[2].value)) {
		rc = parse_users(c, f[2].value, wc);
		if (rc)
			return rc;
	}
	if (f[1].value && !is_null(f[1].value)) {
		rc = parse_http(c, f[1].value, wc);
		if (rc)
			return rc;
	}
	if (f[0].value && !is_null(f[0].value))
		return parse_tls(c, f[0].value, wc);
	return 0;
}

static int yaml_fail(struct ctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR)
		return nomem(c);
	if (p->error == YAML_READER_ERROR)
		return fail_at(c, -EINVAL, 0, 0, "", "invalid input at byte %zu: %s",
			       p->problem_offset, problem);
	return fail_at(c, -EINVAL, to_line(p->problem_mark.line), to_line(p->problem_mark.column),
		       "", "invalid YAML: %s", problem);
}

/* One event pass before the loader: syntax errors, a single document, and
 * the depth/anchor/alias bounds (see config.c for why). */
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
				rc = fail_at(c, -EINVAL, to_line(ev.start_mark.line),
					     to_line(ev.start_mark.column), "",
					     "a second YAML document; the web config must be a "
					     "single document");
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor = ev.type == YAML_SEQUENCE_START_EVENT
				     ? ev.data.sequence_start.anchor
				     : ev.data.mapping_start.anchor;
			if (++depth > MAX_DEPTH)
				rc =
				    fail_at(c, -EINVAL, to_line(ev.start_mark.line),
					    to_line(ev.start_mark.column), "", "nested too deeply");
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
				rc = fail_at(c, -EINVAL, to_line(ev.start_mark.line),
					     to_line(ev.start_mark.column), "", "too many aliases");
			break;
		default:
			break;
		}
		if (!rc && anchor && ++anchors > MAX_ANCHORS)
			rc = fail_at(c, -EINVAL, to_line(ev.start_mark.line),
				     to_line(ev.start_mark.column), "", "too many anchors");
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

int web_config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
			   struct web_config **out, struct config_error *err)
{
	struct config_error scratch;
	struct web_config *wc = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_parser = false, have_doc = false;
	struct ctx c;
	int rc;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	c.name = name ? name : "<buffer>";
	c.dir = dir;
	c.data = (const unsigned char *)(data ? data : "");
	c.len = len;
	c.doc = &doc;
	c.err = err;
	if (!out || (!data && len)) {
		rc = fail_at(&c, -EINVAL, 0, 0, "", "invalid arguments");
		goto out;
	}
	if (len > WEB_MAX_BYTES) {
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
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&c, &parser);
		goto out;
	}
	have_doc = true;
	wc = calloc(1, sizeof(*wc));
	if (!wc || !(wc->source = strdup(c.name))) {
		rc = nomem(&c);
		goto out;
	}
	rc = parse_root(&c, yaml_document_get_root_node(&doc), wc);
	if (rc)
		goto out;
	*out = wc;
	wc = NULL;
out:
	web_config_free(wc);
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	return rc;
}

int web_config_load_file(const char *path, struct web_config **out, struct config_error *err)
{
	struct config_error scratch;
	char eb[128], *dir = NULL, *slash;
	struct buf b;
	int rc;

	buf_init(&b);
	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	if (!path || !out)
		return -EINVAL;
	snprintf(err->file, sizeof(err->file), "%s", path);
	rc = read_file(path, &b);
	if (rc) {
		snprintf(err->msg, sizeof(err->msg), "%s",
			 rc == -EFBIG ? "larger than 1 MiB; is it a web config file?"
				      : strerror_r(-rc, eb, sizeof(eb)));
		goto out;
	}
	dir = strdup(path);
	if (!dir) {
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
	tls_free(wc->tls);
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
