/* Basic auth of one request: a login remembered from the last minute
 * passes at once; anything else is checked by the auth pool
 * (http_auth.c) while the connection is suspended. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* Contract: the cache key of (user, password, hash). Hashing the three
 * keeps no password in memory, and a changed hash (a reload) never hits
 * an old entry. 0 or -EIO. */
static int auth_key(const char *user, const char *pass, const char *hash, unsigned char key[32])
{
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -EIO;
	gnutls_hash(h, user, strlen(user) + 1);
	gnutls_hash(h, pass, strlen(pass) + 1);
	gnutls_hash(h, hash, strlen(hash) + 1);
	gnutls_hash_deinit(h, key);
	return 0;
}

static bool auth_cache_hit(struct http_server *srv, const unsigned char key[32])
{
	uint64_t now = http_now_ms();
	bool hit = false;
	unsigned i;

	pthread_mutex_lock(&srv->lock);
	for (i = 0; i < AUTH_CACHE_SIZE; i++) {
		struct auth_entry *e = &srv->auth_cache[i];

		/* Renewed when used: a scraper stays logged in for as long
		 * as it keeps scraping, never checked again mid-attack. */
		if (e->expires_ms > now && auth_ct_equal(e->key, key, 32)) {
			e->expires_ms = now + AUTH_CACHE_TTL_MS;
			hit = true;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return hit;
}

/* Into a free or expired slot, else over the one closest to expiry. */
static void auth_cache_add(struct http_server *srv, const unsigned char key[32])
{
	uint64_t now = http_now_ms();
	unsigned i, victim = 0;

	pthread_mutex_lock(&srv->lock);
	for (i = 0; i < AUTH_CACHE_SIZE; i++) {
		if (srv->auth_cache[i].expires_ms <= now) {
			victim = i;
			break;
		}
		if (srv->auth_cache[i].expires_ms < srv->auth_cache[victim].expires_ms)
			victim = i;
	}
	memcpy(srv->auth_cache[victim].key, key, 32);
	srv->auth_cache[victim].expires_ms = now + AUTH_CACHE_TTL_MS;
	pthread_mutex_unlock(&srv->lock);
}

/* Users may have been removed: forget every remembered login. Under the
 * lock. */
void http_login_forget_all(struct http_server *srv)
{
	memset(srv->auth_cache, 0, sizeof(srv->auth_cache));
}

/* auth_job.admitted: under the pool's lock, before a thread can finish
 * the check, so the resume in auth_done() always follows this. */
static void auth_admitted(struct auth_job *j)
{
	struct conn *c = j->arg;

	c->auth = AUTH_PENDING;
	MHD_suspend_connection(c->mc);
}

/* auth_job.done, on a pool thread: record the verdict and let MHD call
 * the handler again. */
static void auth_done(struct auth_job *j)
{
	struct conn *c = j->arg;
	struct http_server *srv = c->srv;

	if (j->ok && c->auth_keyed)
		auth_cache_add(srv, c->auth_key);
	explicit_bzero(j->pass, strlen(j->pass));
	free(j->pass);
	j->pass = NULL;
	http_gen_unref(c->auth_gen);
	c->auth_gen = NULL;
	pthread_mutex_lock(&srv->lock);
	c->auth = j->ok ? AUTH_PASSED : AUTH_FAILED;
	MHD_resume_connection(c->mc);
	pthread_mutex_unlock(&srv->lock);
}

/* Contract: check the request's credentials under g. A login remembered
 * from the last minute passes at once; anything else goes to the auth
 * pool (an unknown user against the dummy hash, so it costs the same).
 * On LOGIN_REFUSED, *which and *status say what to answer: 400 for a
 * malformed or NUL-carrying credential, 401 for none (or a source that
 * failed too often), 503 when the pool is full. */
enum login_outcome http_login_begin(struct http_server *srv, struct conn *c,
				    struct MHD_Connection *mc, struct web_gen *g, int *which,
				    unsigned *status)
{
	const struct web_config *wc = g->wc;
	const struct web_user *u = NULL;
	char *user = NULL, *pass = NULL;
	int rc;

	if (!wc || wc->n_users == 0)
		return LOGIN_GO_ON;
	*which = R_UNAUTHORIZED;
	*status = MHD_HTTP_UNAUTHORIZED;
	rc = auth_parse_basic(
	    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), &user,
	    &pass);
	if (rc == -EINVAL) {
		*which = R_BAD_REQUEST;
		*status = MHD_HTTP_BAD_REQUEST;
		http_stats_event(&srv->stats, HEV_AUTH_MALFORMED);
	} else if (rc == -ENOMEM) {
		*which = R_INTERNAL;
		*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else if (rc) {
		http_stats_event(&srv->stats, HEV_AUTH_MISSING);
	}
	if (rc)
		return LOGIN_REFUSED;
	for (size_t i = 0; i < wc->n_users; i++)
		if (strcmp(wc->users[i].name, user) == 0)
			u = &wc->users[i];
	/* An unknown user is keyed with the dummy hash: its failures count
	 * per credential like any other. */
	c->auth_keyed = auth_key(user, pass, u ? u->hash : wc->dummy_hash, c->auth_key) == 0;
	free(user);
	if (u && c->auth_keyed && auth_cache_hit(srv, c->auth_key)) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
		return LOGIN_GO_ON;
	}
	memset(&c->job, 0, sizeof(c->job));
	c->job.pass = pass;
	c->job.hash = u ? u->hash : wc->dummy_hash;
	memcpy(c->job.src, c->src, 16);
	if (c->auth_keyed)
		memcpy(c->job.key, c->auth_key, 32);
	else /* no digest (gnutls failed): fall back to one key per source */
		memset(c->job.key, 0, 32);
	c->auth_keyed = c->auth_keyed && u;
	c->job.admitted = auth_admitted;
	c->job.done = auth_done;
	c->job.arg = c;
	c->auth_gen = http_gen_ref(g);
	rc = auth_pool_submit(srv->auth, &c->job);
	if (rc == 0)
		return LOGIN_QUEUED;
	http_gen_unref(c->auth_gen);
	c->auth_gen = NULL;
	explicit_bzero(pass, strlen(pass));
	free(pass);
	c->job.pass = NULL;
	if (rc != -EACCES) {
		*which = R_AUTH_BUSY;
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	http_stats_event(&srv->stats, rc == -EACCES ? HEV_AUTH_LOCKED_OUT : HEV_AUTH_BUSY);
	return LOGIN_REFUSED;
}
