#include "http_tls.h"

#include "http_internal.h"

#include <gnutls/x509.h>
#include <string.h>

/* The session's pointer is its connection (http_tls_setup_session); the
 * web config is its generation's. */
static const struct web_config *session_web_config(gnutls_session_t s)
{
	const struct conn *c = gnutls_session_get_ptr(s);

	return c && c->gen ? c->gen->wc : NULL;
}

/* gnutls handshake hook, around each message: the connection began a
 * handshake (a message came in) and finished it (the client's Finished
 * came in, the last message of a full or resumed handshake), so a failed
 * one can be counted when the connection closes. */
static int tls_handshake_hook(gnutls_session_t s, unsigned int htype, unsigned int when,
			      unsigned int incoming, const gnutls_datum_t *msg)
{
	struct conn *c = gnutls_session_get_ptr(s);

	(void)msg;
	if (!c || !incoming)
		return 0;
	c->tls_began = true; /* before a message that fails to parse, too */
	if (htype == GNUTLS_HANDSHAKE_FINISHED && when == GNUTLS_HOOK_POST)
		c->tls_done = true;
	return 0;
}

/* gnutls calls this for the server's certificate during each handshake:
 * the connection's own generation answers, so a reload rotates the
 * certificate for new connections without a restart. */
int http_tls_retrieve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int n_req,
			   const gnutls_pk_algorithm_t *pk, int n_pk, gnutls_pcert_st **pcert,
			   unsigned int *pcert_len, gnutls_privkey_t *key)
{
	const struct web_config *wc = session_web_config(s);

	(void)req_ca_dn;
	(void)n_req;
	(void)pk;
	(void)n_pk;
	if (!wc || !wc->tls)
		return -1;
	*pcert = wc->tls->certs;
	*pcert_len = wc->tls->n_certs;
	*key = wc->tls->key;
	return 0;
}

/* Contract (gnutls verify function): 0 lets the handshake go on, anything
 * else fails it, as Go's crypto/tls does for client_auth_type. The chain
 * is checked against client_ca_file for client authentication use. */
static int tls_verify_client(gnutls_session_t s)
{
	const struct web_config *wc = session_web_config(s);
	gnutls_x509_crt_t crts[WEB_TLS_MAX_CHAIN];
	gnutls_typed_vdata_st vd;
	const gnutls_datum_t *peers;
	const struct web_tls *t;
	unsigned n = 0, i, imported = 0, status = 1;
	int rc = -1;

	if (!wc || !wc->tls)
		return -1;
	t = wc->tls;
	peers = gnutls_certificate_get_peers(s, &n);
	if (!peers || n == 0)
		return t->client_auth == WEB_CLIENT_AUTH_REQUIRE_ANY ||
			       t->client_auth == WEB_CLIENT_AUTH_REQUIRE_VERIFY
			   ? -1
			   : 0;
	if (t->client_auth == WEB_CLIENT_AUTH_REQUEST ||
	    t->client_auth == WEB_CLIENT_AUTH_REQUIRE_ANY)
		return 0;
	if (!t->client_cas || n > WEB_TLS_MAX_CHAIN)
		return -1;
	for (i = 0; i < n; i++) {
		if (gnutls_x509_crt_init(&crts[i]) < 0)
			goto out;
		imported++;
		if (gnutls_x509_crt_import(crts[i], &peers[i], GNUTLS_X509_FMT_DER) < 0)
			goto out;
	}
	memset(&vd, 0, sizeof(vd));
	vd.type = GNUTLS_DT_KEY_PURPOSE_OID;
	vd.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
	if (gnutls_x509_trust_list_verify_crt2(t->client_cas, crts, n, &vd, 1, 0, &status, NULL) ==
		0 &&
	    status == 0)
		rc = 0;
out:
	for (i = 0; i < imported; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return rc;
}

/* Contract: set up the TLS session of a new connection from its
 * generation's web config wc (which must outlive the connection) before its handshake starts:
 * versions, whether a client certificate is requested or required, and the verification. 0, or -1
 * when the connection must not proceed. */
int http_tls_setup_session(struct MHD_Connection *mc, struct conn *c)
{
	const struct web_config *wc = c->gen ? c->gen->wc : NULL;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const struct web_tls *t = wc ? wc->tls : NULL;
	gnutls_session_t s;
	gnutls_certificate_request_t req = GNUTLS_CERT_IGNORE;

	if (!ci || !ci->tls_session || !t)
		return -1;
	s = ci->tls_session;
	if (gnutls_priority_set(s, t->priority) < 0)
		return -1;
	gnutls_session_set_ptr(s, c);
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_BOTH,
					   tls_handshake_hook);
	switch (t->client_auth) {
	case WEB_CLIENT_AUTH_NONE:
		req = GNUTLS_CERT_IGNORE;
		break;
	case WEB_CLIENT_AUTH_REQUEST:
	case WEB_CLIENT_AUTH_VERIFY_IF_GIVEN:
		req = GNUTLS_CERT_REQUEST;
		break;
	case WEB_CLIENT_AUTH_REQUIRE_ANY:
	case WEB_CLIENT_AUTH_REQUIRE_VERIFY:
		req = GNUTLS_CERT_REQUIRE;
		break;
	}
	gnutls_certificate_server_set_request(s, req);
	if (req != GNUTLS_CERT_IGNORE)
		gnutls_session_set_verify_function(s, tls_verify_client);
	return 0;
}
