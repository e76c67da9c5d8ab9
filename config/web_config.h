/* web_config: the exporter-toolkit web configuration (--web.config.file),
 * the format Prometheus, node_exporter and every Go exporter read:
 *
 *   tls_server_config:
 *     cert_file: server.crt        # relative paths: to the file's folder
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert
 *     client_ca_file: ca.crt
 *     min_version: TLS12
 *   http_server_config:
 *     headers: {X-Frame-Options: deny}
 *   basic_auth_users:
 *     alice: $2y$10$...            # bcrypt
 *
 * Loading validates everything a server would otherwise find out on the
 * first connection: the certificate and key are read, parsed and matched,
 * the client CAs parsed, the TLS priority string built, each password hash
 * checked to be a bcrypt hash libcrypt can verify. So a reload either gets a
 * config that works or an error naming file, line, column and key (struct
 * config_error, as config.h), and the running one stays. Immutable once
 * loaded; nothing here prints or exits. Secrets (hashes, keys) never appear
 * in error messages. */
#ifndef HALFOPEN_WEB_CONFIG_H
#define HALFOPEN_WEB_CONFIG_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* The exporter-toolkit's client_auth_type values, same meaning as Go's
 * crypto/tls.ClientAuthType. */
enum web_client_auth {
	WEB_CLIENT_AUTH_NONE = 0,	 /* NoClientCert (default) */
	WEB_CLIENT_AUTH_REQUEST,	 /* RequestClientCert: ask, never check */
	WEB_CLIENT_AUTH_REQUIRE_ANY,	 /* RequireAnyClientCert: demand, never check */
	WEB_CLIENT_AUTH_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
	WEB_CLIENT_AUTH_REQUIRE_VERIFY,	 /* RequireAndVerifyClientCert */
};

enum web_tls_version {
	WEB_TLS10 = 10,
	WEB_TLS11 = 11,
	WEB_TLS12 = 12,
	WEB_TLS13 = 13,
};

#define WEB_TLS_MAX_CHAIN 16

struct web_tls {
	char *cert_file; /* as resolved (relative to the config's folder) */
	char *key_file;
	char *client_ca_file; /* NULL when not given */
	enum web_client_auth client_auth;
	enum web_tls_version min_version; /* default TLS12, as exporter-toolkit */
	enum web_tls_version max_version; /* default TLS13 */
	/* Loaded material, ready for a handshake. */
	gnutls_pcert_st certs[WEB_TLS_MAX_CHAIN];
	unsigned n_certs; /* >= 1: leaf first */
	gnutls_privkey_t key;
	gnutls_x509_trust_list_t client_cas; /* NULL without client_ca_file */
	gnutls_priority_t priority;
};

struct web_user {
	char *name; /* non-empty, no ':' (Basic auth splits there) */
	char *hash; /* bcrypt: $2a$, $2b$ or $2y$, checked by crypt_checksalt */
};

struct web_header {
	char *name; /* canonical spelling, one of the toolkit's allowed names */
	char *value;
};

struct web_config {
	char *source;	     /* file path */
	struct web_tls *tls; /* NULL: plain HTTP */
	struct web_user *users;
	size_t n_users; /* 0: no authentication */
	struct web_header *headers;
	size_t n_headers;
	/* An unknown user is checked against this: a hash no password
	 * matches, at the highest cost among the users, so a wrong user name
	 * costs what a wrong password does (timing tells nothing). */
	char dummy_hash[61];
};

#define WEB_CONFIG_MAX_USERS   256
#define WEB_CONFIG_MAX_HEADERS 8
/* bcrypt's cost is a power of two: 14 is ~1 s of CPU per check here, and
 * the cost of every unknown-user and wrong-password request. */
#define WEB_BCRYPT_MAX_COST 14

/* Parse and validate YAML text; files it names are resolved against dir
 * (NULL: the current directory) and loaded. name is used in errors and as
 * source. 0 and *out set, or -EINVAL (bad config or unusable file), -ENOMEM,
 * with err filled; *out untouched on error. */
int web_config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
			   struct web_config **out, struct config_error *err);
/* Read path and web_config_load_buffer() it with dir = its folder. -errno of
 * open/read with err naming the file on I/O failure. */
int web_config_load_file(const char *path, struct web_config **out, struct config_error *err);
/* Accepts NULL. */
void web_config_free(struct web_config *wc);

/* "NoClientCert", ... for logs. */
const char *web_client_auth_name(enum web_client_auth a);

#endif
