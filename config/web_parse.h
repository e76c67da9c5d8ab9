/* web_parse: the parts of the web config parser (web_config.c) that live in
 * their own files, one concern each. Internal to config/; every function
 * follows yaml_tree.h's contract: 0, or a negative errno with the error
 * placed in c->err. */
#ifndef HALFOPEN_WEB_PARSE_H
#define HALFOPEN_WEB_PARSE_H

#include "config/web_config.h"
#include "config/yaml_tree.h"

struct buf;

/* The web config and every file it names are small; the cap keeps a wrong
 * path (a log, a device) from being read whole. */
#define WEB_MAX_BYTES (1u << 20)

/* web_tls.c: tls_server_config into wc->tls, the certificate, key and
 * client CAs loaded and checked. */
int web_parse_tls(struct ytree *c, yaml_node_t *n, struct web_config *wc);
/* Accepts NULL. */
void web_tls_free(struct web_tls *t);

/* web_tls_files.c: the PEM files tls_server_config names, loaded into t. */
int web_tls_load_cert_key(struct ytree *c, const yaml_node_t *cert, const yaml_node_t *key,
			  struct web_tls *t);
int web_tls_load_client_cas(struct ytree *c, const yaml_node_t *n, struct web_tls *t);

/* web_http.c: http_server_config (response headers, http2) into wc. */
int web_parse_http(struct ytree *c, yaml_node_t *n, struct web_config *wc);

/* web_users.c: basic_auth_users into wc->users and wc->dummy_hash. */
int web_parse_users(struct ytree *c, yaml_node_t *n, struct web_config *wc);

#endif
