/* TLS per connection: the certificate of the connection's own web config
 * generation (so a reload rotates it for new connections), its versions,
 * and the client-certificate policy of exporter-toolkit's
 * client_auth_type. Internal to the HTTP server. */
#ifndef HALFOPEN_HTTP_TLS_H
#define HALFOPEN_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "config/web_config.h"

struct conn;

/* Contract: before the handshake of mc, set its priority, client
 * certificate request and verification from the web config of c's
 * generation (c->gen, held for the connection's life: the handshake and
 * the callbacks read it), and a hook that marks c->tls_began and
 * c->tls_done. 0, or -1 when the connection must not proceed. */
int http_tls_setup_session(struct MHD_Connection *mc, struct conn *c);

/* MHD_OPTION_HTTPS_CERT_CALLBACK: the session's web config's certificate
 * chain and key. */
int http_tls_retrieve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int n_req,
			   const gnutls_pk_algorithm_t *pk, int n_pk, gnutls_pcert_st **pcert,
			   unsigned int *pcert_len, gnutls_privkey_t *key);

#endif
