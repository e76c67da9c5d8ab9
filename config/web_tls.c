/* web_tls: tls_server_config, the exporter-toolkit's TLS settings: client
 * auth type, protocol versions (as a GnuTLS priority), and which files to
 * load (web_tls_files.c). */
#include "config/web_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The toolkit's spellings and what each means, index for index. */
static const char *const client_auth_names[] = {
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    /* exporter-toolkit keeps this older spelling working. */
    "RequireClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
};
static const enum web_client_auth client_auth_values[] = {
    WEB_CLIENT_AUTH_NONE,	 WEB_CLIENT_AUTH_REQUEST,	  WEB_CLIENT_AUTH_REQUIRE_ANY,
    WEB_CLIENT_AUTH_REQUIRE_ANY, WEB_CLIENT_AUTH_VERIFY_IF_GIVEN, WEB_CLIENT_AUTH_REQUIRE_VERIFY,
};

const char *web_client_auth_name(enum web_client_auth a)
{
	size_t i;

	for (i = 0; i < YTREE_N(client_auth_values); i++)
		if (client_auth_values[i] == a)
			return client_auth_names[i];
	return "unknown";
}

static int parse_client_auth(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	static const struct ychoice choice = {
	    "a client auth type", client_auth_names, YTREE_N(client_auth_names), NULL,
	    "NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
	    "RequireAndVerifyClientCert"};
	size_t i = 0;
	int rc = 0;

	/* exporter-toolkit treats an empty value as NoClientCert. */
	if (n->type != YAML_SCALAR_NODE || !ytree_is_null(n))
		rc = ytree_choice(c, n, path, &choice, &i);
	if (!rc)
		*(enum web_client_auth *)out = client_auth_values[i];
	return rc;
}

static int parse_version(struct ytree *c, yaml_node_t *n, const char *path, void *out)
{
	/* enum web_tls_version is 10 + the index. */
	static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
	static const struct ychoice choice = {"a TLS version", names, 4, NULL,
					      "TLS10, TLS11, TLS12, TLS13"};
	size_t i;
	int rc = ytree_choice(c, n, path, &choice, &i);

	if (!rc)
		*(enum web_tls_version *)out = (enum web_tls_version)(WEB_TLS10 + (int)i);
	return rc;
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

void web_tls_free(struct web_tls *t)
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

/* Contract: the settings of tls_server_config into wc->tls (allocated
 * here), checked against each other, then its files loaded. */
int web_parse_tls(struct ytree *c, yaml_node_t *n, struct web_config *wc)
{
	struct web_tls *t = calloc(1, sizeof(*t));
	bool prefer, have_cas;
	int rc;

	if (!t)
		return ytree_nomem(c);
	wc->tls = t;
	t->min_version = WEB_TLS12;
	t->max_version = WEB_TLS13;

	struct yfield f[] = {
	    {"cert_file"},
	    {"key_file"},
	    {"client_auth_type", parse_client_auth, &t->client_auth},
	    {"client_ca_file"},
	    {"min_version", parse_version, &t->min_version},
	    {"max_version", parse_version, &t->max_version},
	    {"prefer_server_cipher_suites", yread_bool, &prefer},
	};

	rc = ytree_keys(c, n, "tls_server_config", "a mapping", f, YTREE_N(f), 0);
	if (rc)
		return rc;
	if (!f[0].value || ytree_is_null(f[0].value))
		return ytree_fail(c, n, "tls_server_config.cert_file",
				  "missing; TLS needs cert_file and key_file");
	if (!f[1].value || ytree_is_null(f[1].value))
		return ytree_fail(c, n, "tls_server_config.key_file",
				  "missing; TLS needs cert_file and key_file");
	rc = ytree_read(c, &f[2], 4);
	if (rc)
		return rc;
	if (t->min_version > t->max_version)
		return ytree_fail(c, f[4].value ? f[4].value : f[5].value,
				  "tls_server_config.min_version",
				  "min_version TLS%d is above max_version TLS%d",
				  (int)t->min_version, (int)t->max_version);
	/* Accepted for compatibility; like Go since 1.17, it changes nothing:
	 * the system policy orders the suites. */
	rc = ytree_read(c, &f[6], 1);
	if (rc)
		return rc;
	have_cas = f[3].value && !ytree_is_null(f[3].value);
	if (have_cas && t->client_auth == WEB_CLIENT_AUTH_NONE)
		return ytree_fail(c, f[3].value, f[3].path,
				  "client CAs are configured but client_auth_type is "
				  "NoClientCert; set client_auth_type (e.g. "
				  "RequireAndVerifyClientCert)");
	if (!have_cas && (t->client_auth == WEB_CLIENT_AUTH_VERIFY_IF_GIVEN ||
			  t->client_auth == WEB_CLIENT_AUTH_REQUIRE_VERIFY))
		return ytree_fail(
		    c, f[2].value, "tls_server_config.client_ca_file",
		    "missing; client_auth_type %s verifies client certificates against "
		    "client_ca_file",
		    web_client_auth_name(t->client_auth));
	rc = build_priority(c, n, t);
	if (rc)
		return rc;
	rc = web_tls_load_cert_key(c, f[0].value, f[1].value, t);
	if (rc)
		return rc;
	if (have_cas)
		return web_tls_load_client_cas(c, f[3].value, t);
	return 0;
}
