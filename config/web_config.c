#include "config/web_config.h"
#include "config/yaml_tree.h"

#include "common/buf.h"
#include "common/file.h"

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

static int expect_mapping(struct ytree *c, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_MAPPING_NODE) {
		char d[YTREE_SHOW_SIZE + 2];

		return ytree_fail(c, n, path, "expected a mapping, got %s",
				  ytree_describe(n, d, sizeof(d)));
	}
	return 0;
}

/* ---- files ------------------------------------------------------------ */

/* Contract: the file named by scalar n, resolved against c->dir as
 * exporter-toolkit does, read into b; *resolved gets a malloc()ed copy of
 * the path used. Errors name the key and the file. */
static int load_named_file(struct ytree *c, const yaml_node_t *n, const char *path, char **resolved,
			   struct buf *b)
{
	char shown[YTREE_SHOW_SIZE], eb[128];
	struct buf p;
	const char *s = NULL;
	int rc;

	rc = ytree_scalar(c, n, path, "a file path", &s);
	if (rc)
		return rc;
	buf_init(&p);
	if (s[0] != '/' && c->dir && c->dir[0])
		buf_printf(&p, "%s/", c->dir);
	buf_puts(&p, s);
	if (buf_error(&p)) {
		buf_free(&p);
		return ytree_nomem(c);
	}
	*resolved = buf_steal(&p, NULL);
	if (!*resolved)
		return ytree_nomem(c);
	ytree_show(shown, sizeof(shown), *resolved, strlen(*resolved));
	rc = file_read_capped(*resolved, WEB_MAX_BYTES, b);
	if (rc == -ENOMEM)
		return ytree_nomem(c);
	if (rc == -EFBIG)
		return ytree_fail(c, n, path, "\"%s\" is larger than 1 MiB", shown);
	if (rc)
		return ytree_fail(c, n, path, "cannot read \"%s\": %s", shown,
				  file_error(rc, eb, sizeof(eb)));
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

static int parse_client_auth(struct ytree *c, const yaml_node_t *n, const char *path,
			     enum web_client_auth *out)
{
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	/* exporter-toolkit treats an empty value as NoClientCert. */
	if (n->type == YAML_SCALAR_NODE && ytree_is_null(n)) {
		*out = WEB_CLIENT_AUTH_NONE;
		return 0;
	}
	rc = ytree_scalar(c, n, path, "a client auth type", &s);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(client_auths) / sizeof(client_auths[0]); i++)
		if (strcmp(s, client_auths[i].name) == 0) {
			*out = client_auths[i].v;
			return 0;
		}
	return ytree_fail(
	    c, n, path,
	    "\"%s\" is not a client auth type; allowed: NoClientCert, RequestClientCert, "
	    "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
	    ytree_show(shown, sizeof(shown), s, n->data.scalar.length));
}

static int parse_version(struct ytree *c, const yaml_node_t *n, const char *path,
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
	char shown[YTREE_SHOW_SIZE];
	const char *s = NULL;
	size_t i;
	int rc;

	rc = ytree_scalar(c, n, path, "a TLS version", &s);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(s, versions[i].name) == 0) {
			*out = versions[i].v;
			return 0;
		}
	return ytree_fail(c, n, path,
			  "\"%s\" is not a TLS version; allowed: TLS10, TLS11, TLS12, TLS13",
			  ytree_show(shown, sizeof(shown), s, n->data.scalar.length));
}

/* Contract: the GnuTLS priority for [min, max] into t->priority. The
 * cipher choice stays GnuTLS's NORMAL (the system policy), which is what
 * Go's defaults amount to as well. */
static int build_priority(struct ytree *c, const yaml_node_t *at, struct web_tls *t)
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
		return ytree_nomem(c);
	if (rc < 0) {
		t->priority = NULL;
		return ytree_fail(c, at, "tls_server_config",
				  "the TLS library refuses versions %d..%d: %s",
				  (int)t->min_version, (int)t->max_version, gnutls_strerror(rc));
	}
	return 0;
}

/* Contract: the certificate chain and key, parsed and checked to belong
 * together, into t. */
static int load_cert_key(struct ytree *c, const struct yfield *cf, const struct yfield *kf,
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
		rc = ytree_fail(c, cf->value, "tls_server_config.cert_file",
				"no usable PEM certificate in the file: %s",
				rc < 0 ? gnutls_strerror(rc) : "none found");
		goto out;
	}
	t->n_certs = n;
	rc = gnutls_privkey_init(&t->key);
	if (rc < 0) {
		t->key = NULL;
		rc = ytree_nomem(c);
		goto out;
	}
	rc = gnutls_privkey_import_x509_raw(t->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		rc = ytree_fail(c, kf->value, "tls_server_config.key_file",
				"no usable unencrypted PEM private key in the file: %s",
				gnutls_strerror(rc));
		goto out;
	}
	/* The credentials API does the key/certificate match check. */
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		cred = NULL;
		rc = ytree_nomem(c);
		goto out;
	}
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		rc = ytree_fail(c, kf->value, "tls_server_config.key_file",
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

static int load_client_cas(struct ytree *c, const yaml_node_t *n, struct web_tls *t)
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
		rc = ytree_nomem(c);
		goto out;
	}
	d.data = (unsigned char *)b.data;
	d.size = (unsigned)b.len;
	rc = gnutls_x509_trust_list_add_trust_mem(t->client_cas, &d, NULL, GNUTLS_X509_FMT_PEM, 0,
						  0);
	if (rc <= 0) {
		rc = ytree_fail(c, n, "tls_server_config.client_ca_file",
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

static int parse_tls(struct ytree *c, yaml_node_t *n, struct web_config *wc)
{
	struct yfield f[] = {
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
	rc = ytree_mapping(c, n, "tls_server_config", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (!f[0].value || ytree_is_null(f[0].value))
		return ytree_fail(c, n, "tls_server_config.cert_file",
				  "missing; TLS needs cert_file and key_file");
	if (!f[1].value || ytree_is_null(f[1].value))
		return ytree_fail(c, n, "tls_server_config.key_file",
				  "missing; TLS needs cert_file and key_file");
	t = calloc(1, sizeof(*t));
	if (!t)
		return ytree_nomem(c);
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
		return ytree_fail(c, f[4].value ? f[4].value : f[5].value,
				  "tls_server_config.min_version",
				  "min_version TLS%d is above max_version TLS%d",
				  (int)t->min_version, (int)t->max_version);
	/* Accepted for compatibility; like Go since 1.17, it changes nothing:
	 * the system policy orders the suites. */
	if (f[6].value) {
		rc = ytree_bool(c, f[6].value, "tls_server_config.prefer_server_cipher_suites",
				&prefer);
		if (rc)
			return rc;
	}
	if (f[3].value && !ytree_is_null(f[3].value)) {
		if (t->client_auth == WEB_CLIENT_AUTH_NONE)
			return ytree_fail(c, f[3].value, "tls_server_config.client_ca_file",
					  "client CAs are configured but client_auth_type is "
					  "NoClientCert; set client_auth_type (e.g. "
					  "RequireAndVerifyClientCert)");
	} else if (t->client_auth == WEB_CLIENT_AUTH_VERIFY_IF_GIVEN ||
		   t->client_auth == WEB_CLIENT_AUTH_REQUIRE_VERIFY) {
		return ytree_fail(
		    c, f[2].value, "tls_server_config.client_ca_file",
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
	if (f[3].value && !ytree_is_null(f[3].value))
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

static int parse_headers(struct ytree *c, yaml_node_t *n, struct web_config *wc)
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
		return ytree_fail(c, n, "http_server_config.headers", "more than %d headers",
				  WEB_CONFIG_MAX_HEADERS);
	wc->headers = calloc(npairs, sizeof(*wc->headers));
	if (!wc->headers)
		return ytree_nomem(c);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = ytree_node(c, pair->key), *v = ytree_node(c, pair->value);
		char shown[YTREE_SHOW_SIZE], path[YTREE_PATH_LEN];
		const char *name, *value;
		size_t idx = SIZE_MAX;

		if (!k || !v)
			return ytree_fail(c, n, "http_server_config.headers", "malformed mapping");
		rc = ytree_scalar(c, k, "http_server_config.headers", "a header name", &name);
		if (rc)
			return rc;
		ytree_show(shown, sizeof(shown), name, k->data.scalar.length);
		ytree_path_key(path, "http_server_config.headers", shown);
		for (i = 0; i < sizeof(allowed_headers) / sizeof(allowed_headers[0]); i++)
			if (strcasecmp(name, allowed_headers[i].name) == 0)
				idx = i;
		if (idx == SIZE_MAX)
			return ytree_fail(
			    c, k, path,
			    "header \"%s\" cannot be configured; allowed: "
			    "Strict-Transport-Security, X-Content-Type-Options, "
			    "X-Frame-Options, X-XSS-Protection, Content-Security-Policy",
			    shown);
		for (j = 0; j < wc->n_headers; j++)
			if (strcmp(wc->headers[j].name, allowed_headers[idx].name) == 0)
				return ytree_fail(c, k, path, "duplicate header");
		rc = ytree_scalar(c, v, path, "a header value", &value);
		if (rc)
			return rc;
		/* A CR or LF would let the config inject headers or split
		 * the response. */
		for (i = 0; value[i]; i++)
			if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
				return ytree_fail(c, v, path, "control character in the value");
		if (allowed_headers[idx].values[0]) {
			bool ok = false;

			for (i = 0; allowed_headers[idx].values[i]; i++)
				if (strcasecmp(value, allowed_headers[idx].values[i]) == 0)
					ok = true;
			if (!ok)
				return ytree_fail(
				    c, v, path, "invalid value \"%s\" for %s",
				    ytree_show(shown, sizeof(shown), value, v->data.scalar.length),
				    allowed_headers[idx].name);
		}
		wc->headers[wc->n_headers].name = strdup(allowed_headers[idx].name);
		wc->headers[wc->n_headers].value = strdup(value);
		wc->n_headers++;
		if (!wc->headers[wc->n_headers - 1].name || !wc->headers[wc->n_headers - 1].value)
			return ytree_nomem(c);
	}
	return 0;
}

static int parse_http(struct ytree *c, yaml_node_t *n, struct web_config *wc)
{
	struct yfield f[] = {{"headers", NULL, NULL}, {"http2", NULL, NULL}};
	bool http2;
	int rc;

	rc = expect_mapping(c, n, "http_server_config");
	if (rc)
		return rc;
	rc = ytree_mapping(c, n, "http_server_config", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (f[0].value && !ytree_is_null(f[0].value)) {
		rc = parse_headers(c, f[0].value, wc);
		if (rc)
			return rc;
	}
	/* Accepted so shared files load; this server speaks HTTP/1.1 only,
	 * which every scraper does too. */
	if (f[1].value)
		return ytree_bool(c, f[1].value, "http_server_config.http2", &http2);
	return 0;
}

/* ---- basic_auth_users ---------------------------------------------------- */

/* Whether hash looks like a bcrypt hash libcrypt will verify: "$2y$NN$"
 * then 53 characters of bcrypt's base64. */
static bool is_bcrypt(const char *hash, size_t len)
{
	int cost;

	if (len != 60 || hash[0] != '$' || hash[1] != '2' ||
	    (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$' ||
	    hash[6] != '$' || hash[4] < '0' || hash[4] > '3' || hash[5] < '0' || hash[5] > '9')
		return false;
	/* libcrypt takes cost 99 here and then fails every check. */
	cost = (hash[4] - '0') * 10 + (hash[5] - '0');
	if (cost < 4 || cost > 31)
		return false;
	return crypt_checksalt(hash) == CRYPT_SALT_OK;
}

static int parse_users(struct ytree *c, yaml_node_t *n, struct web_config *wc)
{
	yaml_node_pair_t *pair;
	size_t npairs, j;
	int rc, cost, max_cost = 4;

	rc = expect_mapping(c, n, "basic_auth_users");
	if (rc)
		return rc;
	npairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (npairs == 0)
		return 0;
	if (npairs > WEB_CONFIG_MAX_USERS)
		return ytree_fail(c, n, "basic_auth_users", "more than %d users",
				  WEB_CONFIG_MAX_USERS);
	wc->users = calloc(npairs, sizeof(*wc->users));
	if (!wc->users)
		return ytree_nomem(c);
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = ytree_node(c, pair->key), *v = ytree_node(c, pair->value);
		char shown[YTREE_SHOW_SIZE], path[YTREE_PATH_LEN];
		const char *name, *hash;
		struct web_user *u;

		if (!k || !v)
			return ytree_fail(c, n, "basic_auth_users", "malformed mapping");
		rc = ytree_scalar(c, k, "basic_auth_users", "a user name", &name);
		if (rc)
			return rc;
		ytree_show(shown, sizeof(shown), name, k->data.scalar.length);
		ytree_path_key(path, "basic_auth_users", shown);
		if (strchr(name, ':'))
			return ytree_fail(
			    c, k, path,
			    "user name contains ':', which Basic authentication cannot "
			    "carry");
		for (j = 0; j < wc->n_users; j++)
			if (strcmp(wc->users[j].name, name) == 0)
				return ytree_fail(c, k, path, "duplicate user");
		rc = ytree_scalar(c, v, path, "a bcrypt password hash", &hash);
		if (rc)
			return rc;
		/* The value is never quoted back: it may be a password typed
		 * where its hash belongs. */
		if (!is_bcrypt(hash, v->data.scalar.length))
			return ytree_fail(
			    c, v, path,
			    "not a bcrypt hash (want $2y$, $2b$ or $2a$, cost 04..31, 60 "
			    "characters); make one with `htpasswd -nbBC 10 USER PASS` or "
			    "Python's bcrypt.hashpw");
		cost = (hash[4] - '0') * 10 + (hash[5] - '0');
		if (cost > WEB_BCRYPT_MAX_COST)
			return ytree_fail(c, v, path,
					  "bcrypt cost %d is more than %d: every request would "
					  "hold a CPU for seconds; rehash with a cost of 10 to 12",
					  cost, WEB_BCRYPT_MAX_COST);
		if (cost > max_cost)
			max_cost = cost;
		u = &wc->users[wc->n_users++];
		u->name = strdup(name);
		u->hash = strdup(hash);
		if (!u->name || !u->hash)
			return ytree_nomem(c);
	}
	/* bcrypt's base64 of an all-zero salt and digest: no password's
	 * digest is all zeros in practice, and the cost is what matters. */
	snprintf(wc->dummy_hash, sizeof(wc->dummy_hash), "$2b$%02d$%s", max_cost,
		 ".....................................................");
	return 0;
}

/* ---- document -------------------------------------------------------------- */

static int parse_root(struct ytree *c, yaml_node_t *root, struct web_config *wc)
{
	struct yfield f[] = {
	    {"tls_server_config", NULL, NULL},
	    {"http_server_config", NULL, NULL},
	    {"basic_auth_users", NULL, NULL},
	};
	int rc;

	/* An empty file is valid, as in exporter-toolkit: plain HTTP, no
	 * authentication. */
	if (!root || ytree_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		char d[YTREE_SHOW_SIZE + 2];

		return ytree_fail(c, root, "",
				  "expected a mapping with the keys tls_server_config, "
				  "http_server_config and basic_auth_users, got %s",
				  ytree_describe(root, d, sizeof(d)));
	}
	rc = ytree_mapping(c, root, "", f, sizeof(f) / sizeof(f[0]));
	if (rc)
		return rc;
	if (f[2].value && !ytree_is_null(f[2].value)) {
		rc = parse_users(c, f[2].value, wc);
		if (rc)
			return rc;
	}
	if (f[1].value && !ytree_is_null(f[1].value)) {
		rc = parse_http(c, f[1].value, wc);
		if (rc)
			return rc;
	}
	if (f[0].value && !ytree_is_null(f[0].value))
		return parse_tls(c, f[0].value, wc);
	return 0;
}

int web_config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
			   struct web_config **out, struct config_error *err)
{
	struct config_error scratch;
	struct web_config *wc = NULL;
	yaml_document_t doc;
	bool have_doc = false;
	struct ytree c = {
	    .what = "web config",
	    .max_depth = MAX_DEPTH,
	    .max_anchors = MAX_ANCHORS,
	    .max_aliases = MAX_ALIASES,
	};
	int rc;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	c.name = name ? name : "<buffer>";
	c.dir = dir;
	c.data = (const unsigned char *)(data ? data : "");
	c.len = len;
	c.err = err;
	if (!out || (!data && len)) {
		rc = ytree_fail_at(&c, -EINVAL, 0, 0, "", "invalid arguments");
		goto out;
	}
	if (len > WEB_MAX_BYTES) {
		rc = ytree_fail_at(&c, -EINVAL, 0, 0, "", "larger than 1 MiB");
		goto out;
	}
	rc = ytree_load(&c, &doc);
	if (rc)
		goto out;
	have_doc = true;
	wc = calloc(1, sizeof(*wc));
	if (!wc || !(wc->source = strdup(c.name))) {
		rc = ytree_nomem(&c);
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
	rc = file_read_capped(path, WEB_MAX_BYTES, &b);
	if (rc) {
		snprintf(err->msg, sizeof(err->msg), "%s",
			 rc == -EFBIG ? "larger than 1 MiB; is it a web config file?"
				      : file_error(rc, eb, sizeof(eb)));
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
