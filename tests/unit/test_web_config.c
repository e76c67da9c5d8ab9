/* web_config: the exporter-toolkit web config, valid and invalid, with the
 * place and key of every error; TLS material from tests/fixtures/tls. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "config/web_config.h"
#include "bcrypt_hash.h"
#include "testing.h"

#define TLS_DIR FIXTURES_DIR "/tls"
/* The fixtures' server certificate and its key, relative to TLS_DIR. */
#define TLS_PAIR "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"

/* A real bcrypt hash of "secret" at cost 4 (fast), made once. */
static char hash_secret[128];

static int load(const char *yaml, struct web_config **wc, struct config_error *err)
{
	*wc = NULL;
	return web_config_load_buffer("web.yml", TLS_DIR, yaml, strlen(yaml), wc, err);
}

/* Expect rc == -EINVAL with the error at line:column on key, msg containing
 * part. */
static int expect_error(const char *yaml, unsigned line, const char *key, const char *part)
{
	struct web_config *wc = NULL;
	struct config_error err;
	struct buf b;
	int rc = load(yaml, &wc, &err);

	buf_init(&b);
	config_error_format(&err, &b);
	printf("  -> %s\n", b.data ? b.data : "(none)");
	CHECK_EQ_INT(-EINVAL, rc);
	CHECK(wc == NULL);
	CHECK_EQ_STR("web.yml", err.file);
	if (line)
		CHECK_EQ_UINT(line, err.line);
	CHECK_EQ_STR(key, err.key);
	CHECK_CONTAINS(part, err.msg);
	buf_free(&b);
	return 0;
}

DEF_TEST(empty_is_plain_http)
{
	static const char *const docs[] = {"", "# nothing\n", "basic_auth_users:\n",
					   "tls_server_config: ~\nhttp_server_config:\n"};
	struct web_config *wc;
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECK_EQ_INT(0, load(docs[i], &wc, NULL));
		CHECK(wc != NULL);
		CHECK(wc->tls == NULL);
		CHECK_EQ_UINT(0, wc->n_users);
		CHECK_EQ_UINT(0, wc->n_headers);
		web_config_free(wc);
	}
	web_config_free(NULL);
	return 0;
}

DEF_TEST(full)
{
	struct web_config *wc;
	struct buf y;
	int rc;

	buf_init(&y);
	buf_printf(&y,
		   "tls_server_config:\n"
		   "  cert_file: server.crt\n"
		   "  key_file: %s/server.key\n"
		   "  client_auth_type: RequireAndVerifyClientCert\n"
		   "  client_ca_file: ca.crt\n"
		   "  min_version: TLS13\n"
		   "  prefer_server_cipher_suites: true\n"
		   "http_server_config:\n"
		   "  http2: false\n"
		   "  headers:\n"
		   "    x-frame-options: deny\n"
		   "    Strict-Transport-Security: max-age=31536000\n"
		   "basic_auth_users:\n"
		   "  alice: %s\n"
		   "  bob: '%s'\n",
		   TLS_DIR, hash_secret, hash_secret);
	CHECK(buf_error(&y) == 0);
	rc = load(y.data, &wc, NULL);
	buf_free(&y);
	CHECK_EQ_INT(0, rc);
	CHECK(wc->tls != NULL);
	CHECK_EQ_STR(TLS_DIR "/server.crt", wc->tls->cert_file);
	CHECK_EQ_STR(TLS_DIR "/server.key", wc->tls->key_file);
	CHECK_EQ_INT(WEB_CLIENT_AUTH_REQUIRE_VERIFY, wc->tls->client_auth);
	CHECK_EQ_INT(WEB_TLS13, wc->tls->min_version);
	CHECK_EQ_INT(WEB_TLS13, wc->tls->max_version);
	CHECK_EQ_UINT(1, wc->tls->n_certs);
	CHECK(wc->tls->key != NULL);
	CHECK(wc->tls->client_cas != NULL);
	CHECK(wc->tls->priority != NULL);
	CHECK_EQ_UINT(2, wc->n_headers);
	/* Canonical spelling, whatever the file said. */
	CHECK_EQ_STR("X-Frame-Options", wc->headers[0].name);
	CHECK_EQ_STR("deny", wc->headers[0].value);
	CHECK_EQ_UINT(2, wc->n_users);
	CHECK_EQ_STR("alice", wc->users[0].name);
	CHECK_EQ_STR(hash_secret, wc->users[1].hash);
	CHECK_EQ_STR("RequireAndVerifyClientCert", web_client_auth_name(wc->tls->client_auth));
	web_config_free(wc);
	return 0;
}

DEF_TEST(client_auth_types)
{
	static const struct {
		const char *name;
		enum web_client_auth want;
		int needs_ca;
	} cases[] = {
	    {"NoClientCert", WEB_CLIENT_AUTH_NONE, 0},
	    {"RequestClientCert", WEB_CLIENT_AUTH_REQUEST, 0},
	    {"RequireAnyClientCert", WEB_CLIENT_AUTH_REQUIRE_ANY, 0},
	    {"RequireClientCert", WEB_CLIENT_AUTH_REQUIRE_ANY, 0},
	    {"VerifyClientCertIfGiven", WEB_CLIENT_AUTH_VERIFY_IF_GIVEN, 1},
	    {"RequireAndVerifyClientCert", WEB_CLIENT_AUTH_REQUIRE_VERIFY, 1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct web_config *wc;
		char y[512];

		snprintf(y, sizeof(y), TLS_PAIR "  client_auth_type: %s\n%s", cases[i].name,
			 cases[i].needs_ca ? "  client_ca_file: ca.crt\n" : "");
		CHECK_EQ_INT(0, load(y, &wc, NULL));
		CHECK_EQ_INT(cases[i].want, wc->tls->client_auth);
		CHECK_EQ_INT(WEB_TLS12, wc->tls->min_version);
		web_config_free(wc);
	}
	return 0;
}

/* The errors a literal document makes; those that need the real hash
 * are built in test_errors itself. */
static const struct {
	const char *yaml;
	unsigned line; /* 0: libyaml's own error, its line not checked */
	const char *key, *part;
} bad_docs[] = {
    {"tls_server_config: [1]\n", 1, "tls_server_config", "expected a mapping"},
    {"basic_auth_user:\n  a: b\n", 1, "basic_auth_user", "unknown key \"basic_auth_user\""},
    {"tls_server_config:\n  cert_file: server.crt\n", 2, "tls_server_config.key_file", "missing"},
    {"tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n", 2,
     "tls_server_config.cert_file", "cannot read"},
    {"tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n", 3,
     "tls_server_config.key_file", "does not go with"},
    {"tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n", 2,
     "tls_server_config.cert_file", "no usable PEM certificate"},
    {"tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n", 3,
     "tls_server_config.key_file", "private key"},
    {TLS_PAIR "  client_auth_type: RequireAll\n", 4, "tls_server_config.client_auth_type",
     "not a client auth type"},
    {TLS_PAIR "  client_ca_file: ca.crt\n", 4, "tls_server_config.client_ca_file", "NoClientCert"},
    {TLS_PAIR "  client_auth_type: RequireAndVerifyClientCert\n", 4,
     "tls_server_config.client_ca_file", "missing"},
    {TLS_PAIR "  min_version: TLS13\n  max_version: TLS12\n", 4, "tls_server_config.min_version",
     "above max_version"},
    {TLS_PAIR "  min_version: SSL3\n", 4, "tls_server_config.min_version", "not a TLS version"},
    {TLS_PAIR "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", 4, "tls_server_config.cipher_suites",
     "unknown key"},
    {"http_server_config:\n  headers:\n    Set-Cookie: a=b\n", 3,
     "http_server_config.headers.Set-Cookie", "cannot be configured"},
    {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n", 3,
     "http_server_config.headers.X-Frame-Options", "invalid value"},
    {"http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\r\\nSet-Cookie: x\"\n", 3,
     "http_server_config.headers.Content-Security-Policy", "control character"},
    {"http_server_config:\n  http2: yes\n", 2, "http_server_config.http2", "true or false"},
    {"basic_auth_users:\n  alice: hunter2\n", 2, "basic_auth_users.alice", "not a bcrypt hash"},
    {"basic_auth_users:\n  a: [x]\n", 2, "basic_auth_users.a", "bcrypt password hash"},
    {"a: b\n---\nc: d\n", 2, "", "second YAML document"},
    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]\n",
     1, "", "nested too deeply"},
    {"- 1\n", 1, "", "expected a mapping"},
    {"tls_server_config:\n  cert_file: server.crt\n\tkey_file: x\n", 0, "", "invalid YAML"},
};

DEF_TEST(errors)
{
	char y[1024];
	size_t i;

	for (i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		printf("  case %zu\n", i);
		CHECK(expect_error(bad_docs[i].yaml, bad_docs[i].line, bad_docs[i].key,
				   bad_docs[i].part) == 0);
	}
	snprintf(y, sizeof(y), "basic_auth_users:\n  \"a:b\": %s\n", hash_secret);
	CHECK(expect_error(y, 2, "basic_auth_users.a:b", "contains ':'") == 0);
	snprintf(y, sizeof(y), "basic_auth_users:\n  a: %s\n  a: %s\n", hash_secret, hash_secret);
	CHECK(expect_error(y, 3, "basic_auth_users.a", "duplicate user") == 0);
	/* Cost 99 is no bcrypt hash; cost 15 passes libcrypt but would hold
	 * a CPU for seconds per request. */
	snprintf(y, sizeof(y), "basic_auth_users:\n  a: %.4s99%s\n", hash_secret, hash_secret + 6);
	CHECK(expect_error(y, 2, "basic_auth_users.a", "cost 04..31") == 0);
	snprintf(y, sizeof(y), "basic_auth_users:\n  a: %.4s15%s\n", hash_secret, hash_secret + 6);
	CHECK(expect_error(y, 2, "basic_auth_users.a", "bcrypt cost 15 is more than 14") == 0);
	return 0;
}

/* Unknown users are checked against a hash at the users' highest cost
 * that libcrypt takes and no password matches. */
DEF_TEST(dummy_hash)
{
	struct web_config *wc = NULL;
	struct config_error err;
	struct crypt_data cd;
	const char *out;
	char y[512];

	snprintf(y, sizeof(y), "basic_auth_users:\n  a: %s\n  b: %.4s05%s\n", hash_secret,
		 hash_secret, hash_secret + 6);
	CHECK_EQ_INT(0, web_config_load_buffer("w.yml", NULL, y, strlen(y), &wc, &err));
	CHECK_EQ_INT(60, (int)strlen(wc->dummy_hash));
	CHECK(strncmp(wc->dummy_hash, "$2b$05$", 7) == 0);
	memset(&cd, 0, sizeof(cd));
	out = crypt_rn("secret", wc->dummy_hash, &cd, (int)sizeof(cd));
	CHECK(out && out[0] == '$' && strcmp(out, wc->dummy_hash) != 0);
	web_config_free(wc);
	return 0;
}

/* A password typed where its hash belongs must not reach the log. */
DEF_TEST(secret_not_echoed)
{
	struct web_config *wc;
	struct config_error err;
	struct buf b;

	CHECK_EQ_INT(-EINVAL, load("basic_auth_users:\n  alice: Tr0ub4dor&3\n", &wc, &err));
	buf_init(&b);
	config_error_format(&err, &b);
	CHECK(strstr(b.data, "Tr0ub4dor") == NULL);
	buf_free(&b);
	return 0;
}

DEF_TEST(load_file)
{
	char dir[] = "/tmp/webcfg-XXXXXX", path[256], eb[64];
	struct web_config *wc = NULL;
	struct config_error err;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "tls_server_config:\n  cert_file: %s/server.crt\n  key_file: %s/server.key\n",
		TLS_DIR, TLS_DIR);
	fclose(f);
	CHECK_EQ_INT(0, web_config_load_file(path, &wc, &err));
	CHECK(wc->tls != NULL);
	CHECK_EQ_STR(path, wc->source);
	web_config_free(wc);
	/* Relative names resolve against the file's folder, not the cwd. */
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, TLS_PAIR);
	fclose(f);
	wc = NULL;
	CHECK_EQ_INT(-EINVAL, web_config_load_file(path, &wc, &err));
	CHECK_EQ_STR(path, err.file);
	snprintf(eb, sizeof(eb), "%s/server.crt", dir);
	CHECK_CONTAINS(eb, err.msg);
	unlink(path);
	CHECK(web_config_load_file(path, &wc, &err) == -ENOENT);
	CHECK_EQ_STR(path, err.file);
	rmdir(dir);
	return 0;
}

int main(void)
{
	if (bcrypt_hash("secret", 4, hash_secret, sizeof(hash_secret)) < 0) {
		printf("libcrypt cannot make bcrypt hashes\n0 passed, 1 failed\n");
		return 1;
	}

	RUN_TEST(empty_is_plain_http);
	RUN_TEST(full);
	RUN_TEST(client_auth_types);
	RUN_TEST(errors);
	RUN_TEST(secret_not_echoed);
	RUN_TEST(dummy_hash);
	RUN_TEST(load_file);
	END_TEST;
}
