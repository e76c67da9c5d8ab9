/* web_tls_files: the PEM files tls_server_config names (certificate chain,
 * private key, client CAs), resolved against the config's folder, read,
 * parsed and checked, so a handshake cannot be the first to find them
 * broken. */
#include "config/web_parse.h"

#include "common/buf.h"
#include "common/file.h"

#include <errno.h>
#include <string.h>

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

/* Contract: the certificate chain and key, parsed and checked to belong
 * together, into t. */
int web_tls_load_cert_key(struct ytree *c, const yaml_node_t *cert, const yaml_node_t *key,
			  struct web_tls *t)
{
	gnutls_certificate_credentials_t cred = NULL;
	struct buf cb, kb;
	gnutls_datum_t cd, kd;
	unsigned n = WEB_TLS_MAX_CHAIN;
	int rc;

	buf_init(&cb);
	buf_init(&kb);
	rc = load_named_file(c, cert, "tls_server_config.cert_file", &t->cert_file, &cb);
	if (rc)
		goto out;
	rc = load_named_file(c, key, "tls_server_config.key_file", &t->key_file, &kb);
	if (rc)
		goto out;
	cd.data = (unsigned char *)cb.data;
	cd.size = (unsigned)cb.len;
	kd.data = (unsigned char *)kb.data;
	kd.size = (unsigned)kb.len;
	rc = gnutls_pcert_list_import_x509_raw(t->certs, &n, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		rc = ytree_fail(c, cert, "tls_server_config.cert_file",
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
		rc = ytree_fail(c, key, "tls_server_config.key_file",
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
		rc = ytree_fail(c, key, "tls_server_config.key_file",
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

/* Contract: the client CAs file named by n, parsed into t->client_cas. */
int web_tls_load_client_cas(struct ytree *c, const yaml_node_t *n, struct web_tls *t)
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
