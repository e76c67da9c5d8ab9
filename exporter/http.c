#include "http.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>

#include "common/buf.h"
#include "common/escape.h"
#include "config/web_config.h"
#include "http_auth.h"
#include "http_listen.h"
#include "http_negotiate.h"
#include "http_tls.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define CONTENT_TYPE_HTML    "text/html; charset=utf-8"

#define DEFAULT_TELEMETRY_PATH "/metrics"
/* Handlers only take a reference to a prebuilt response, but a bcrypt
 * check holds its worker for tens of milliseconds, and a connection is
 * bound to one worker: four keep a burst of bad passwords from delaying
 * every scrape. Idle connections cost a worker nothing (epoll). */
#define THREAD_POOL_SIZE 4u
/* Compressed once per publish and served many times: a mid level pays. */
#define GZIP_LEVEL 6
/* Descriptors kept for everything but HTTP: netlink, /proc, logs. */
#define FD_RESERVE 128u
/* Past this many connections at once, their memory is trimmed when most
 * have gone. */
#define TRIM_AFTER_CONNS 256u
/* How often the watchdog looks for connections past their deadline. */
#define SWEEP_INTERVAL_MS 250u
/* A POST /-/reload waits this long for the main loop's answer. */
#define RELOAD_WAIT_S 30u
/* Successful Basic auth checks are remembered this long, so a scraper
 * pays bcrypt once a minute rather than on every scrape (as
 * exporter-toolkit does); the cache is small and fixed. */
#define AUTH_CACHE_TTL_MS (60u * 1000u)
#define AUTH_CACHE_SIZE	  64u
#define AUTH_REALM	  "Basic realm=\"halfopen_exporter\", charset=\"UTF-8\""

/* The responses that never change while a web config is in force; built
 * once per web config, since its headers go on every response. */
enum fixed_response {
	R_LANDING,
	R_HEALTHY,
	R_READY,
	R_NOT_READY,
	R_NO_COLLECTION,
	R_NOT_FOUND,
	R_BAD_METHOD,
	R_UNAUTHORIZED,
	R_TOO_MANY,
	R_RELOAD_OK,
	R_RELOAD_FAILED,
	R_RELOAD_METHOD,
	R_INTERNAL,
	R_BAD_REQUEST,
	R_NO_BODY,
	R_AUTH_BUSY,
	R_COUNT,
};

/* Everything derived from one web config. Refcounted: a request holds it
 * while it checks a password, a TLS connection for its whole life (the
 * handshake uses its certificate and key). */
struct web_gen {
	atomic_uint refs;
	struct web_config *wc; /* NULL: none */
	struct MHD_Response *fixed[R_COUNT];
};

enum auth_state {
	AUTH_NONE = 0,
	AUTH_PENDING, /* suspended while the pool checks the password */
	AUTH_PASSED,
	AUTH_FAILED,
};

enum reload_state {
	RELOAD_NONE = 0,
	RELOAD_WAITING,
	RELOAD_ANSWERED,
};

/* One accepted connection, from MHD's STARTED to its CLOSED notification
 * (its socket context). The watchdog shuts the socket down when a
 * deadline passes; MHD then sees the end of the stream and cleans up as
 * usual. */
struct conn {
	struct conn *prev, *next;
	struct MHD_Connection *mc;
	int fd;
	uint64_t since_ms;   /* waiting for a request header since / request since */
	bool in_request;     /* between the header and the request's completion */
	bool counted;	     /* holds one of max_requests */
	bool shut;	     /* deadline passed, socket shut down */
	bool served;	     /* has completed a request: evicted last */
	struct web_gen *gen; /* TLS connections: the material of the handshake */
	enum reload_state reload;
	int reload_rc;
	uint64_t reload_since_ms;
	unsigned char src[16]; /* client address, IPv4 as mapped IPv6 */
	bool bad_uri;	       /* the request's URI decoded to a NUL byte */
	/* A password check in the auth pool; job.pass is ours to wipe. */
	enum auth_state auth;
	struct auth_job job;
	struct web_gen *auth_gen; /* keeps job.hash alive */
	unsigned char auth_key[32];
	bool auth_keyed; /* a known user: a pass goes into the cache */
	struct http_server *srv;
};

struct auth_entry {
	unsigned char key[32]; /* SHA-256 of user, password and hash */
	uint64_t expires_ms;   /* 0: free */
};

struct http_server {
	struct MHD_Daemon *daemon;
	const struct http_route *routes;
	size_t n_routes;
	char *telemetry_path;
	char *version;
	bool tls;
	bool enable_lifecycle;
	unsigned max_requests;
	int lock_ok;
	/* Guards everything below. Handlers queue a response while holding
	 * it, so MHD's own reference is taken before a concurrent publish or
	 * web config change can drop ours. */
	pthread_mutex_t lock;
	struct web_gen *gen;
	struct MHD_Response *plain; /* NULL until the first publish */
	struct MHD_Response *gzip;
	/* The last published body, to rebuild the responses with new
	 * headers: the writer's (collector's) own, outside the lock. */
	struct shared_body *body, *zbody;
	struct conn *conns, *conns_tail; /* newest first */
	unsigned n_conns;
	unsigned conns_peak; /* since the last malloc_trim() */
	unsigned soft_conns; /* past this, the oldest idle connection goes */
	unsigned active_requests;
	struct auth_pool *auth;
	struct auth_entry auth_cache[AUTH_CACHE_SIZE];
	/* The watchdog thread. */
	int watchdog_ok;
	int cond_ok;
	pthread_cond_t cond;
	bool stopping;
	pthread_t watchdog;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- responses ------------------------------------------------------ */

/* Contract: the web config's extra headers onto r. 0 or -ENOMEM. */
static int add_web_headers(struct MHD_Response *r, const struct web_config *wc)
{
	size_t i;

	if (!wc)
		return 0;
	for (i = 0; i < wc->n_headers; i++)
		if (MHD_add_response_header(r, wc->headers[i].name, wc->headers[i].value) !=
		    MHD_YES)
			return -ENOMEM;
	return 0;
}

static struct MHD_Response *make_response(const void *data, size_t len, const char *ctype,
					  enum MHD_ResponseMemoryMode mode,
					  const struct web_config *wc)
{
	struct MHD_Response *r;

	/* A zero-length copy would malloc(0); a static empty buffer is
	 * equivalent and always valid. */
	if (len == 0) {
		data = "";
		mode = MHD_RESPMEM_PERSISTENT;
	}
	r = MHD_create_response_from_buffer(len, (void *)data, mode);
	if (!r)
		return NULL;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    add_web_headers(r, wc)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static struct MHD_Response *static_text(const char *body, const struct web_config *wc)
{
	return make_response(body, strlen(body), CONTENT_TYPE_TEXT, MHD_RESPMEM_PERSISTENT, wc);
}

/* A published body, plain or gzip-encoded, shared by every response
 * built on it (one per web config's headers): MHD sends it without a
 * copy, and the last response destroyed frees it. */
struct shared_body {
	atomic_uint refs;
	size_t len;
	unsigned char data[];
};

/* Room for cap bytes (and a NUL), one reference, len 0. NULL: no memory. */
static struct shared_body *shared_body_new(size_t cap)
{
	struct shared_body *b = malloc(sizeof(*b) + cap + 1);

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = 0;
	return b;
}

/* Also MHD's free callback of the responses built on it. NULL ok. */
static void shared_body_unref(void *cls)
{
	struct shared_body *b = cls;

	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

/* The body of one publish, plain or gzip-encoded. Both carry Vary so
 * caches never hand a gzip body to a client that did not ask for it. */
static struct MHD_Response *body_response(struct shared_body *b, int gzip,
					  const struct web_config *wc)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data,
								   shared_body_unref, b);
	if (!r)
		return NULL;
	/* From here on destroying r drops this reference. */
	atomic_fetch_add(&b->refs, 1);
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS) !=
		MHD_YES ||
	    add_web_headers(r, wc) ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING) !=
		MHD_YES ||
	    (gzip &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") != MHD_YES)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static struct MHD_Response *landing_page(const char *version, const char *path,
					 const struct web_config *wc)
{
	struct MHD_Response *r = NULL;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\">"
		     "<title>halfopen_exporter</title></head>\n<body>\n"
		     "<h1>halfopen_exporter</h1>\n<p>Version: ");
	html_escape(&b, version);
	buf_puts(&b, "</p>\n<p><a href=\"");
	html_escape(&b, path);
	buf_puts(&b, "\">Metrics</a></p>\n</body>\n</html>\n");
	if (buf_error(&b) == 0)
		r = make_response(b.data, b.len, CONTENT_TYPE_HTML, MHD_RESPMEM_MUST_COPY, wc);
	buf_free(&b);
	return r;
}

static void gen_unref(struct web_gen *g)
{
	int i;

	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	for (i = 0; i < R_COUNT; i++)
		if (g->fixed[i])
			MHD_destroy_response(g->fixed[i]);
	web_config_free(g->wc);
	free(g);
}

static struct web_gen *gen_ref(struct web_gen *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

/* Contract: a generation for wc (taken over in every case) with its fixed
 * responses built. NULL on allocation failure. */
static struct web_gen *gen_new(const struct http_server *srv, struct web_config *wc)
{
	struct web_gen *g = calloc(1, sizeof(*g));
	struct MHD_Response **f;
	int i;

	if (!g) {
		web_config_free(wc);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->wc = wc;
	f = g->fixed;
	f[R_LANDING] = landing_page(srv->version, srv->telemetry_path, wc);
	f[R_HEALTHY] = static_text("OK", wc);
	f[R_READY] = static_text("OK", wc);
	f[R_NOT_READY] = static_text("not ready: no collection yet", wc);
	f[R_NO_COLLECTION] = static_text("no collection yet", wc);
	f[R_NOT_FOUND] = static_text("404 page not found", wc);
	f[R_BAD_METHOD] = static_text("method not allowed", wc);
	f[R_UNAUTHORIZED] = static_text("Unauthorized", wc);
	f[R_TOO_MANY] = static_text("too many concurrent requests, try again later", wc);
	f[R_RELOAD_OK] = static_text("", wc);
	f[R_RELOAD_FAILED] =
	    static_text("failed to reload config; the exporter's log says why", wc);
	f[R_RELOAD_METHOD] = static_text("Only POST or PUT requests allowed", wc);
	f[R_INTERNAL] = static_text("internal error", wc);
	f[R_BAD_REQUEST] = static_text("bad request", wc);
	f[R_NO_BODY] = static_text("request bodies are not accepted", wc);
	f[R_AUTH_BUSY] = static_text("too many password checks, try again later", wc);
	for (i = 0; i < R_COUNT; i++)
		if (!f[i])
			goto fail;
	if (MHD_add_response_header(f[R_BAD_METHOD], MHD_HTTP_HEADER_ALLOW, "GET, HEAD") !=
		MHD_YES ||
	    MHD_add_response_header(f[R_RELOAD_METHOD], MHD_HTTP_HEADER_ALLOW, "POST, PUT") !=
		MHD_YES ||
	    MHD_add_response_header(f[R_UNAUTHORIZED], MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				    AUTH_REALM) != MHD_YES)
		goto fail;
	return g;
fail:
	gen_unref(g);
	return NULL;
}

/* ---- gzip ----------------------------------------------------------- */

/* Contract: the gzip member (RFC 1952) of len bytes of data into a new
 * shared body. 0, -ENOMEM, or -EFBIG past zlib's 32-bit lengths. */
static int gzip_compress(const char *data, size_t len, struct shared_body **out)
{
	struct shared_body *dst = NULL;
	z_stream zs;
	uLong bound;
	int zret, ret;

	memset(&zs, 0, sizeof(zs));
	if (len > UINT_MAX / 2)
		return -EFBIG;
	zret = deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zret != Z_OK)
		return -ENOMEM;
	/* deflateBound covers the gzip wrapper too, so one Z_FINISH call
	 * always completes. */
	bound = deflateBound(&zs, (uLong)len);
	dst = shared_body_new(bound);
	if (!dst) {
		ret = -ENOMEM;
		goto out;
	}
	zs.next_in = (const Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = dst->data;
	zs.avail_out = (uInt)bound;
	zret = deflate(&zs, Z_FINISH);
	if (zret != Z_STREAM_END) {
		ret = -ENOMEM;
		goto out;
	}
	dst->len = zs.total_out;
	*out = dst;
	dst = NULL;
	ret = 0;
out:
	shared_body_unref(dst);
	deflateEnd(&zs);
	return ret;
}

/* ---- Accept-Encoding ------------------------------------------------ */

static enum MHD_Result accept_encoding_header(void *cls, enum MHD_ValueKind kind, const char *key,
					      const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, MHD_HTTP_HEADER_ACCEPT_ENCODING) == 0)
		http_parse_accept_encoding(value, cls);
	return MHD_YES;
}

/* Every Accept-Encoding line counts (a client may split the list). */
static int wants_gzip(struct MHD_Connection *conn)
{
	struct accept_gzip st = {-1, -1};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, accept_encoding_header, &st);
	if (st.gzip >= 0)
		return st.gzip;
	return st.star > 0;
}

/* ---- Basic auth ------------------------------------------------------ */

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
	uint64_t now = now_ms();
	bool hit = false;
	unsigned i;

	pthread_mutex_lock(&srv->lock);
	for (i = 0; i < AUTH_CACHE_SIZE; i++) {
		struct auth_entry *e = &srv->auth_cache[i];

		if (e->expires_ms > now && auth_ct_equal(e->key, key, 32))
			hit = true;
	}
	pthread_mutex_unlock(&srv->lock);
	return hit;
}

/* Into a free or expired slot, else over the one closest to expiry. */
static void auth_cache_add(struct http_server *srv, const unsigned char key[32])
{
	uint64_t now = now_ms();
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

/* ---- connections ------------------------------------------------------ */

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_unlink(struct http_server *srv, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	c->prev = c->next = NULL;
	srv->n_conns--;
}

static void conn_link(struct http_server *srv, struct conn *c)
{
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	else
		srv->conns_tail = c;
	srv->conns = c;
	srv->n_conns++;
	if (srv->n_conns > srv->conns_peak)
		srv->conns_peak = srv->n_conns;
}

/* How far from the oldest end eviction looks for an idle connection, so
 * a table full of requests in flight costs a bounded walk per accept. */
#define EVICT_SCAN	 256u
#define EVICT_PER_ACCEPT 1u

/* Contract: past soft_conns, shut down the oldest connection that waits
 * for a request header, one that never completed a request first (a
 * flood of idle or trickling connections), else an idle keep-alive one (a
 * scraper between scrapes: it only reconnects). A fresh connection always
 * gets in and what it displaces is what has had the longest to send a
 * request. One for one: evicting more makes a reconnecting attacker
 * churn faster, which kept the accept queue fuller (measured: a fresh
 * scrape's worst 1.0-1.3 s with two, 0.1-0.2 s with one). Under the
 * lock. */
static void evict_idle(struct http_server *srv)
{
	unsigned evicted = 0;

	if (srv->n_conns <= srv->soft_conns)
		return;
	for (int pass = 0; pass < 2 && evicted < EVICT_PER_ACCEPT; pass++) {
		struct conn *c = srv->conns_tail;
		unsigned seen = 0;

		for (; c && seen < EVICT_SCAN && evicted < EVICT_PER_ACCEPT; c = c->prev, seen++) {
			if (c->shut || c->in_request || c->fd < 0 || c->reload != RELOAD_NONE ||
			    c->auth != AUTH_NONE || (pass == 0 && c->served))
				continue;
			shutdown(c->fd, SHUT_RDWR);
			c->shut = true;
			evicted++;
		}
	}
}

/* The client's address as 16 bytes: IPv4 as its mapped IPv6 form, so
 * either family compares alike. */
static void conn_source(struct MHD_Connection *mc, unsigned char src[16])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(src, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		src[10] = src[11] = 0xff;
		memcpy(src + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(src, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* Contract (MHD unescape callback): decode %XX in place, as MHD would, and
 * mark the request bad when that yields a NUL byte: C strings would cut
 * the path there ("/metrics%00xyz" served as /metrics). The length. */
static size_t unescape_uri(void *cls, struct MHD_Connection *mc, char *uri)
{
	struct conn *c = conn_of(mc);
	size_t n = MHD_http_unescape(uri);

	(void)cls;
	if (c && memchr(uri, '\0', n))
		c->bad_uri = true;
	return n;
}

/* Contract (MHD connection notification): STARTED tracks the connection
 * and, with TLS, sets up its session before the handshake; a connection
 * that cannot be tracked or set up is shut down at once rather than left
 * without deadlines. CLOSED comes before MHD closes the socket, so the
 * watchdog never shuts down a descriptor number that was reused. */
static void notify_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		c = *socket_context;
		if (!c)
			return;
		pthread_mutex_lock(&srv->lock);
		conn_unlink(srv, c);
		if (c->counted)
			srv->active_requests--;
		pthread_mutex_unlock(&srv->lock);
		gen_unref(c->gen);
		free(c);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	c = calloc(1, sizeof(*c));
	if (!c) {
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	c->mc = mc;
	c->srv = srv;
	c->fd = ci ? ci->connect_fd : -1;
	c->since_ms = now_ms();
	conn_source(mc, c->src);
	pthread_mutex_lock(&srv->lock);
	evict_idle(srv);
	conn_link(srv, c);
	if (srv->tls)
		c->gen = gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	*socket_context = c;
	if (c->fd < 0 || (srv->tls && http_tls_setup_session(mc, c->gen->wc) < 0)) {
		pthread_mutex_lock(&srv->lock);
		c->shut = true;
		pthread_mutex_unlock(&srv->lock);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	}
}

/* Contract (MHD request completed): the request's slot is free again and
 * the connection's header deadline starts over. */
static void request_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct conn *c = conn_of(mc);

	(void)con_cls;
	(void)toe;
	if (!c)
		return;
	pthread_mutex_lock(&srv->lock);
	if (c->counted)
		srv->active_requests--;
	c->counted = false;
	c->in_request = false;
	c->served = true;
	c->bad_uri = false;
	c->reload = RELOAD_NONE;
	c->since_ms = now_ms();
	pthread_mutex_unlock(&srv->lock);
}

/* The watchdog: shuts down connections past their deadline (see http.h)
 * and answers reload waiters the main loop never answered. */
static void *watchdog_main(void *arg)
{
	struct http_server *srv = arg;
	struct timespec ts;

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		uint64_t now;
		struct conn *c;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)SWEEP_INTERVAL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
		if (srv->stopping)
			break;
		/* Thousands of connections gone: give their buffers back, or
		 * glibc's per-thread arenas keep RSS at the flood's peak. */
		if (srv->conns_peak > TRIM_AFTER_CONNS && srv->n_conns < srv->conns_peak / 8) {
			srv->conns_peak = srv->n_conns;
			malloc_trim(0);
		}
		now = now_ms();
		for (c = srv->conns; c; c = c->next) {
			uint64_t limit_ms;

			if (c->reload == RELOAD_WAITING) {
				if (now - c->reload_since_ms > RELOAD_WAIT_S * 1000u) {
					c->reload = RELOAD_ANSWERED;
					c->reload_rc = -ETIMEDOUT;
					MHD_resume_connection(c->mc);
				}
				continue;
			}
			if (c->shut)
				continue;
			limit_ms =
			    (c->in_request ? HTTP_REQUEST_TIMEOUT_S : HTTP_HEADER_TIMEOUT_S) *
			    1000u;
			if (now - c->since_ms > limit_ms) {
				shutdown(c->fd, SHUT_RDWR);
				c->shut = true;
			}
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* ---- request handling ----------------------------------------------- */

static bool is_method(const char *m, const char *want)
{
	return m && strcmp(m, want) == 0;
}

static bool is_reload_path(const struct http_server *srv, const char *url)
{
	return srv->enable_lifecycle && url && strcmp(url, "/-/reload") == 0;
}

static enum MHD_Result queue_fixed(struct http_server *srv, struct MHD_Connection *mc,
				   unsigned status, enum fixed_response which)
{
	enum MHD_Result ret;

	pthread_mutex_lock(&srv->lock);
	ret = MHD_queue_response(mc, status, srv->gen->fixed[which]);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

struct framing {
	unsigned content_length; /* Content-Length fields */
	unsigned transfer_encoding;
	bool body;	 /* a Content-Length other than 0, or any coding */
	bool bad_coding; /* a transfer coding other than chunked */
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!key || !value)
		return MHD_YES;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->content_length++;
		if (strcmp(value, "0") != 0)
			f->body = true;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->transfer_encoding++;
		f->body = true;
		if (strcasecmp(value, "chunked") != 0)
			f->bad_coding = true;
	}
	return MHD_YES;
}

/* Contract: why the request must be refused before anything else, or -1.
 * What libmicrohttpd 0.9.75 lets through is a 400: a NUL decoded from the
 * URI, two Content-Length fields (it takes the first, so a request hidden
 * in the body would be served: smuggling behind a proxy), Content-Length
 * with Transfer-Encoding, a coding other than chunked. No request here
 * needs a body (/-/reload takes none), so one announced is a 413 at once:
 * the connection is closed without waiting for it, and a request slot is
 * never held by a body that may not come. */
static int framing_refusal(const struct conn *c, struct MHD_Connection *mc, unsigned *status)
{
	struct framing f = {0, 0, false, false};

	MHD_get_connection_values(mc, MHD_HEADER_KIND, framing_header, &f);
	*status = MHD_HTTP_BAD_REQUEST;
	if (c->bad_uri || f.content_length > 1 || f.transfer_encoding > 1 ||
	    (f.content_length && f.transfer_encoding) || f.bad_coding)
		return R_BAD_REQUEST;
	*status = MHD_HTTP_CONTENT_TOO_LARGE;
	return f.body ? R_NO_BODY : -1;
}

/* Contract: the refusal for a method the path does not take, or -1. */
static int method_refusal(const struct http_server *srv, const char *url, const char *method)
{
	if (is_reload_path(srv, url))
		return is_method(method, MHD_HTTP_METHOD_POST) ||
			       is_method(method, MHD_HTTP_METHOD_PUT)
			   ? -1
			   : R_RELOAD_METHOD;
	return is_method(method, MHD_HTTP_METHOD_GET) || is_method(method, MHD_HTTP_METHOD_HEAD)
		   ? -1
		   : R_BAD_METHOD;
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
	gen_unref(c->auth_gen);
	c->auth_gen = NULL;
	pthread_mutex_lock(&srv->lock);
	c->auth = j->ok ? AUTH_PASSED : AUTH_FAILED;
	MHD_resume_connection(c->mc);
	pthread_mutex_unlock(&srv->lock);
}

enum auth_outcome {
	AUTH_GO_ON,  /* no users, or a remembered login */
	AUTH_QUEUED, /* suspended until the pool answers */
	AUTH_REFUSED,
};

/* Contract: check the request's credentials under g. A login remembered
 * from the last minute passes at once; anything else goes to the auth
 * pool (an unknown user against the dummy hash, so it costs the same).
 * On AUTH_REFUSED, *which and *status say what to answer: 400 for a
 * malformed or NUL-carrying credential, 401 for none (or a source that
 * failed too often), 503 when the pool is full. */
static enum auth_outcome start_auth(struct http_server *srv, struct conn *c,
				    struct MHD_Connection *mc, struct web_gen *g, int *which,
				    unsigned *status)
{
	const struct web_config *wc = g->wc;
	const struct web_user *u = NULL;
	char *user = NULL, *pass = NULL;
	int rc;

	if (!wc || wc->n_users == 0)
		return AUTH_GO_ON;
	*which = R_UNAUTHORIZED;
	*status = MHD_HTTP_UNAUTHORIZED;
	rc = auth_parse_basic(
	    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), &user,
	    &pass);
	if (rc == -EINVAL) {
		*which = R_BAD_REQUEST;
		*status = MHD_HTTP_BAD_REQUEST;
	} else if (rc == -ENOMEM) {
		*which = R_INTERNAL;
		*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	if (rc)
		return AUTH_REFUSED;
	for (size_t i = 0; i < wc->n_users; i++)
		if (strcmp(wc->users[i].name, user) == 0)
			u = &wc->users[i];
	c->auth_keyed = u && auth_key(user, pass, u->hash, c->auth_key) == 0;
	free(user);
	if (c->auth_keyed && auth_cache_hit(srv, c->auth_key)) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
		return AUTH_GO_ON;
	}
	memset(&c->job, 0, sizeof(c->job));
	c->job.pass = pass;
	c->job.hash = u ? u->hash : wc->dummy_hash;
	memcpy(c->job.src, c->src, 16);
	c->job.admitted = auth_admitted;
	c->job.done = auth_done;
	c->job.arg = c;
	c->auth_gen = gen_ref(g);
	rc = auth_pool_submit(srv->auth, &c->job);
	if (rc == 0)
		return AUTH_QUEUED;
	gen_unref(c->auth_gen);
	c->auth_gen = NULL;
	explicit_bzero(pass, strlen(pass));
	free(pass);
	c->job.pass = NULL;
	if (rc != -EACCES) {
		*which = R_AUTH_BUSY;
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	return AUTH_REFUSED;
}

/* Contract: the first call of a request, once its header is complete:
 * refuse a malformed request or a body (400, 413), take a request slot
 * (503 when max_requests are in flight), check the credentials (401, or
 * suspended while the auth pool checks them), then the method (405).
 * MHD_YES to read on, else the result of queueing the refusal (MHD closes
 * such a connection, so a body it carried is never read). */
static enum MHD_Result begin_request(struct http_server *srv, struct conn *c,
				     struct MHD_Connection *mc, const char *url, const char *method)
{
	enum auth_outcome outcome;
	struct web_gen *g;
	unsigned status;
	int which;
	bool full;

	which = framing_refusal(c, mc, &status);
	if (which >= 0)
		return queue_fixed(srv, mc, status, (enum fixed_response)which);
	pthread_mutex_lock(&srv->lock);
	c->in_request = true;
	c->since_ms = now_ms();
	full = srv->active_requests >= srv->max_requests;
	if (!full) {
		srv->active_requests++;
		c->counted = true;
	}
	g = gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	if (full) {
		gen_unref(g);
		return queue_fixed(srv, mc, MHD_HTTP_SERVICE_UNAVAILABLE, R_TOO_MANY);
	}
	outcome = start_auth(srv, c, mc, g, &which, &status);
	gen_unref(g);
	if (outcome == AUTH_REFUSED)
		return queue_fixed(srv, mc, status, (enum fixed_response)which);
	if (outcome == AUTH_QUEUED)
		return MHD_YES;
	which = method_refusal(srv, url, method);
	if (which >= 0)
		return queue_fixed(srv, mc, MHD_HTTP_METHOD_NOT_ALLOWED,
				   (enum fixed_response)which);
	return MHD_YES;
}

/* Contract: POST /-/reload, once its body is drained: the first call
 * suspends the connection and sends SIGHUP to the process (the main loop
 * reloads there, as for an outside SIGHUP); http_server_reload_done() or
 * the watchdog's timeout resumes it, and the call after that answers. */
static enum MHD_Result serve_reload(struct http_server *srv, struct conn *c,
				    struct MHD_Connection *mc)
{
	enum MHD_Result ret = MHD_YES;
	bool ask = false;

	pthread_mutex_lock(&srv->lock);
	if (c->reload == RELOAD_NONE && srv->stopping) {
		/* MHD may not be stopped with a suspended connection, and
		 * http_server_stop() has already resumed the waiting ones. */
		ret = MHD_queue_response(mc, MHD_HTTP_SERVICE_UNAVAILABLE,
					 srv->gen->fixed[R_RELOAD_FAILED]);
	} else if (c->reload == RELOAD_NONE) {
		c->reload = RELOAD_WAITING;
		c->reload_since_ms = now_ms();
		MHD_suspend_connection(mc);
		ask = true;
	} else if (c->reload == RELOAD_ANSWERED) {
		ret = c->reload_rc == 0
			  ? MHD_queue_response(mc, MHD_HTTP_OK, srv->gen->fixed[R_RELOAD_OK])
			  : MHD_queue_response(mc, MHD_HTTP_INTERNAL_SERVER_ERROR,
					       srv->gen->fixed[R_RELOAD_FAILED]);
		c->reload = RELOAD_NONE;
	}
	pthread_mutex_unlock(&srv->lock);
	/* Process-directed, so the main thread's sigtimedwait takes it. */
	if (ask)
		kill(getpid(), SIGHUP);
	return ret;
}

static enum MHD_Result serve_metrics(struct http_server *srv, struct MHD_Connection *mc)
{
	int gzip = wants_gzip(mc);
	struct MHD_Response *r;
	enum MHD_Result ret;

	pthread_mutex_lock(&srv->lock);
	r = gzip && srv->gzip ? srv->gzip : srv->plain;
	if (r)
		ret = MHD_queue_response(mc, MHD_HTTP_OK, r);
	else
		ret = MHD_queue_response(mc, MHD_HTTP_SERVICE_UNAVAILABLE,
					 srv->gen->fixed[R_NO_COLLECTION]);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

struct http_request {
	struct MHD_Connection *mc;
};

const char *http_request_arg(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->mc, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, name);
}

/* Contract: run route r and queue its answer, with the web config's
 * headers like every other response. The body goes to MHD without a
 * copy; a handler error or an allocation failure is a 500. */
static enum MHD_Result serve_route(struct http_server *srv, const struct http_route *r,
				   struct MHD_Connection *mc)
{
	struct http_request req = {.mc = mc};
	const char *ctype = CONTENT_TYPE_TEXT;
	struct MHD_Response *resp;
	struct web_gen *g;
	enum MHD_Result ret;
	struct buf b;
	size_t len;
	char *data;
	int status;

	buf_init(&b);
	status = r->fn(r->ctx, &req, &b, &ctype);
	if (status < 0 || buf_error(&b)) {
		buf_free(&b);
		return queue_fixed(srv, mc, MHD_HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL);
	}
	data = buf_steal(&b, &len);
	pthread_mutex_lock(&srv->lock);
	g = gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	resp = make_response(data ? data : "", len, ctype,
			     data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT, g->wc);
	gen_unref(g);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	ret = MHD_queue_response(mc, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Contract (MHD access handler): the first call comes once MHD has the
 * request header (begin_request decides whether it goes on); GET and HEAD
 * are answered on a later call, once MHD has the whole request: MHD 0.9.75
 * closes the connection after a response queued on the first call, which
 * would defeat keep-alive between scrapes. A body sent with them is
 * drained and ignored. *con_cls only marks the first call. HEAD gets GET's
 * headers; MHD drops the body itself. */
static enum MHD_Result handle_request(void *cls, struct MHD_Connection *mc, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct http_server *srv = cls;
	struct conn *c = conn_of(mc);
	int ready;

	(void)version;
	(void)upload_data;
	if (!c)
		return MHD_NO;
	if (!*con_cls) {
		*con_cls = srv;
		return begin_request(srv, c, mc, url, method);
	}
	if (c->auth == AUTH_PASSED || c->auth == AUTH_FAILED) {
		int which = c->auth == AUTH_PASSED ? method_refusal(srv, url, method) : -1;

		if (c->auth == AUTH_FAILED) {
			c->auth = AUTH_NONE;
			return queue_fixed(srv, mc, MHD_HTTP_UNAUTHORIZED, R_UNAUTHORIZED);
		}
		c->auth = AUTH_NONE;
		if (which >= 0)
			return queue_fixed(srv, mc, MHD_HTTP_METHOD_NOT_ALLOWED,
					   (enum fixed_response)which);
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!url)
		url = "";
	if (is_reload_path(srv, url))
		return serve_reload(srv, c, mc);
	if (strcmp(url, srv->telemetry_path) == 0)
		return serve_metrics(srv, mc);
	for (size_t i = 0; i < srv->n_routes; i++)
		if (strcmp(url, srv->routes[i].path) == 0)
			return serve_route(srv, &srv->routes[i], mc);
	if (strcmp(url, "/") == 0)
		return queue_fixed(srv, mc, MHD_HTTP_OK, R_LANDING);
	if (strcmp(url, "/-/healthy") == 0)
		return queue_fixed(srv, mc, MHD_HTTP_OK, R_HEALTHY);
	if (strcmp(url, "/-/ready") == 0) {
		pthread_mutex_lock(&srv->lock);
		ready = srv->plain != NULL;
		pthread_mutex_unlock(&srv->lock);
		return ready ? queue_fixed(srv, mc, MHD_HTTP_OK, R_READY)
			     : queue_fixed(srv, mc, MHD_HTTP_SERVICE_UNAVAILABLE, R_NOT_READY);
	}
	return queue_fixed(srv, mc, MHD_HTTP_NOT_FOUND, R_NOT_FOUND);
}

/* ---- lifecycle ------------------------------------------------------ */

static void set_err(char *errmsg, size_t errlen, const char *what, const char *addr, int err)
{
	char eb[128];

	if (!errmsg || errlen == 0)
		return;
	if (err)
		snprintf(errmsg, errlen, "%s %s: %s", what, addr, strerror_r(err, eb, sizeof(eb)));
	else
		snprintf(errmsg, errlen, "%s %s", what, addr);
}

/* Contract: the connection limit to ask MHD for: the wanted one, within
 * what RLIMIT_NOFILE allows after FD_RESERVE. The soft limit is raised to
 * the hard one first, as the Go runtime does at start-up, since idle
 * connections are cheap but each needs a descriptor. */
static unsigned fd_budget(unsigned want)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {rl.rlim_max, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	room = rl.rlim_cur > FD_RESERVE + THREAD_POOL_SIZE ? rl.rlim_cur - FD_RESERVE
							   : THREAD_POOL_SIZE;
	return room < want ? (unsigned)room : want;
}

/* Contract: see http.h. The listen socket is created here and handed to
 * MHD, which owns (and closes) it from a successful start on. */
int http_server_start(const struct http_options *opt, struct http_server **out, char *errmsg,
		      size_t errlen)
{
	struct web_config *wc = opt ? opt->web : NULL;
	const char *listen_addr, *path;
	unsigned max_conn, per_ip, flags;
	struct http_server *srv = NULL;
	pthread_condattr_t ca;
	struct sockaddr_storage ss;
	const char *op = "";
	unsigned sslen;
	struct stat st;
	int fd = -1, ret;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (!opt || !out) {
		web_config_free(wc);
		return -EINVAL;
	}
	listen_addr = opt->listen_address ? opt->listen_address : HTTP_DEFAULT_LISTEN;
	path = opt->telemetry_path ? opt->telemetry_path : DEFAULT_TELEMETRY_PATH;
	max_conn =
	    fd_budget(opt->max_connections ? opt->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS);
	per_ip = opt->max_per_ip ? opt->max_per_ip : HTTP_DEFAULT_MAX_PER_IP;
	/* MHD splits the limit over the workers; each needs at least one. */
	if (max_conn < THREAD_POOL_SIZE)
		max_conn = THREAD_POOL_SIZE;
	if (path[0] != '/') {
		set_err(errmsg, errlen, "telemetry path must start with '/':", path, 0);
		web_config_free(wc);
		return -EINVAL;
	}
	ret = http_parse_listen_address(listen_addr, &ss, &sslen);
	if (ret) {
		set_err(errmsg, errlen, "invalid listen address", listen_addr, 0);
		web_config_free(wc);
		return ret;
	}

	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		web_config_free(wc);
		ret = -ENOMEM;
		goto out;
	}
	srv->tls = wc && wc->tls;
	srv->enable_lifecycle = opt->enable_lifecycle;
	srv->max_requests = opt->max_requests ? opt->max_requests : HTTP_DEFAULT_MAX_REQUESTS;
	srv->routes = opt->routes;
	srv->n_routes = opt->n_routes;
	srv->telemetry_path = strdup(path);
	srv->version = strdup(opt->version ? opt->version : "");
	if (!srv->telemetry_path || !srv->version) {
		web_config_free(wc);
		ret = -ENOMEM;
		goto out;
	}
	srv->gen = gen_new(srv, wc);
	if (!srv->gen) {
		ret = -ENOMEM;
		goto out;
	}
	/* A quarter of the table stays for fresh connections: past the rest,
	 * each new one evicts the oldest idle one (MHD refuses only past
	 * max_conn, split over its workers). */
	srv->soft_conns = max_conn - max_conn / 4;
	ret = -pthread_mutex_init(&srv->lock, NULL);
	if (ret)
		goto out;
	srv->lock_ok = 1;
	if (pthread_condattr_init(&ca) != 0) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = -pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (ret)
		goto out;
	srv->cond_ok = 1;
	fd = http_open_listener_any(listen_addr, &ss, sslen, &op);
	if (fd < 0) {
		ret = fd;
		set_err(errmsg, errlen, op, listen_addr, -ret);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		set_err(errmsg, errlen, "fstat listen socket", listen_addr, -ret);
		goto out;
	}
	if (opt->after_bind) {
		ret = opt->after_bind(opt->after_bind_arg);
		if (ret < 0) {
			set_err(errmsg, errlen, "after binding", listen_addr, -ret);
			goto out;
		}
	}
	/* Only now: a thread started before after_bind() (which drops the
	 * capabilities of the calling thread) would keep them all. */
	ret = auth_pool_new(&srv->auth);
	if (ret)
		goto out;
	{
		struct MHD_OptionItem ops[] = {
		    {MHD_OPTION_LISTEN_SOCKET, (intptr_t)fd, NULL},
		    {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)THREAD_POOL_SIZE, NULL},
		    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)max_conn, NULL},
		    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip, NULL},
		    /* MHD's own inactivity timeout backs up the watchdog. */
		    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)HTTP_REQUEST_TIMEOUT_S, NULL},
		    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTP_MAX_HEADER_BYTES, NULL},
		    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, srv},
		    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)request_completed, srv},
		    {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_uri, NULL},
		    /* Per-connection settings override this (http_tls_setup_session). */
		    {srv->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0,
		     (void *)http_tls_retrieve_cert},
		    {MHD_OPTION_END, 0, NULL},
		};

		flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
		if (srv->tls)
			flags |= MHD_USE_TLS;
		errno = 0;
		srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle_request, srv,
					       MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	}
	if (!srv->daemon) {
		ret = errno ? -errno : -EIO;
		set_err(errmsg, errlen, "start HTTP server on", listen_addr, -ret);
		if (!http_still_our_socket(fd, st.st_ino))
			fd = -1;
		goto out;
	}
	fd = -1;
	ret = -pthread_create(&srv->watchdog, NULL, watchdog_main, srv);
	if (ret) {
		set_err(errmsg, errlen, "start HTTP watchdog for", listen_addr, -ret);
		goto out;
	}
	srv->watchdog_ok = 1;
	*out = srv;
	srv = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	http_server_stop(srv);
	return ret;
}

/* Contract: plain and gzip responses for the stored body under g's
 * headers. 0 or -ENOMEM (nothing built). */
static int build_bodies(const struct http_server *srv, const struct web_gen *g,
			struct MHD_Response **plain, struct MHD_Response **gzip)
{
	*plain = body_response(srv->body, 0, g->wc);
	*gzip = body_response(srv->zbody, 1, g->wc);
	if (*plain && *gzip)
		return 0;
	if (*plain)
		MHD_destroy_response(*plain);
	if (*gzip)
		MHD_destroy_response(*gzip);
	*plain = *gzip = NULL;
	return -ENOMEM;
}

/* Contract: see http.h. The body is copied once (the caller reuses its
 * buffer) and compressed once; responses share both without a copy. The
 * swap happens under the lock; the old responses lose only our
 * reference, so requests that already queued them finish sending the old
 * body, which is freed with the last of them. Called from one thread at
 * a time (the collector's). */
int http_server_publish(struct http_server *srv, const char *body, size_t len)
{
	struct MHD_Response *plain = NULL, *gzip = NULL, *old;
	struct shared_body *copy = NULL, *z = NULL;
	struct web_gen *g;
	int ret;

	if (!srv || (!body && len))
		return -EINVAL;
	copy = shared_body_new(len);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy->data, body, len);
	copy->len = len;
	ret = gzip_compress(body ? body : "", len, &z);
	if (ret)
		goto out;
	pthread_mutex_lock(&srv->lock);
	g = gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	plain = body_response(copy, 0, g->wc);
	gzip = body_response(z, 1, g->wc);
	gen_unref(g);
	if (!plain || !gzip) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&srv->lock);
	old = srv->plain;
	srv->plain = plain;
	plain = old;
	old = srv->gzip;
	srv->gzip = gzip;
	gzip = old;
	pthread_mutex_unlock(&srv->lock);
	shared_body_unref(srv->body);
	shared_body_unref(srv->zbody);
	srv->body = copy;
	srv->zbody = z;
	copy = NULL;
	z = NULL;
	ret = 0;
out:
	if (plain)
		MHD_destroy_response(plain);
	if (gzip)
		MHD_destroy_response(gzip);
	shared_body_unref(copy);
	shared_body_unref(z);
	return ret;
}

/* Contract: see http.h. Connections already open keep the generation they
 * started with (their handshake is done); requests from now on see the new
 * users and headers, new handshakes the new certificate, CAs and
 * versions. */
int http_server_set_web_config(struct http_server *srv, struct web_config *wc, char *errmsg,
			       size_t errlen)
{
	struct MHD_Response *plain = NULL, *gzip = NULL, *old_plain, *old_gzip;
	struct web_gen *g, *old;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (!srv) {
		web_config_free(wc);
		return -EINVAL;
	}
	if ((wc && wc->tls) != srv->tls) {
		if (errmsg && errlen)
			snprintf(errmsg, errlen, "%s TLS needs a restart",
				 srv->tls ? "disabling" : "enabling");
		web_config_free(wc);
		return -EINVAL;
	}
	g = gen_new(srv, wc);
	if (!g)
		return -ENOMEM;
	if (srv->body && build_bodies(srv, g, &plain, &gzip)) {
		gen_unref(g);
		return -ENOMEM;
	}
	pthread_mutex_lock(&srv->lock);
	old = srv->gen;
	srv->gen = g;
	old_plain = srv->plain;
	old_gzip = srv->gzip;
	if (plain) {
		srv->plain = plain;
		srv->gzip = gzip;
	} else {
		old_plain = old_gzip = NULL;
	}
	/* Users may have been removed: forget every remembered login. */
	memset(srv->auth_cache, 0, sizeof(srv->auth_cache));
	pthread_mutex_unlock(&srv->lock);
	gen_unref(old);
	if (old_plain)
		MHD_destroy_response(old_plain);
	if (old_gzip)
		MHD_destroy_response(old_gzip);
	return 0;
}

void http_server_reload_done(struct http_server *srv, int rc)
{
	struct conn *c;

	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	for (c = srv->conns; c; c = c->next) {
		if (c->reload != RELOAD_WAITING)
			continue;
		c->reload = RELOAD_ANSWERED;
		c->reload_rc = rc;
		MHD_resume_connection(c->mc);
	}
	pthread_mutex_unlock(&srv->lock);
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->lock_ok) {
		/* From here on no connection gets suspended (serve_reload), so
		 * resuming the waiting ones leaves none: MHD may not be stopped
		 * with a suspended connection. */
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		if (srv->cond_ok)
			pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		http_server_reload_done(srv, -ECANCELED);
	}
	if (srv->watchdog_ok)
		pthread_join(srv->watchdog, NULL);
	/* Answers (and resumes) every connection waiting for a check; MHD
	 * may not be stopped with one suspended. */
	auth_pool_stop(srv->auth);
	/* Joins the workers first, so no handler can touch what follows. */
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	auth_pool_free(srv->auth);
	gen_unref(srv->gen);
	if (srv->plain)
		MHD_destroy_response(srv->plain);
	if (srv->gzip)
		MHD_destroy_response(srv->gzip);
	if (srv->cond_ok)
		pthread_cond_destroy(&srv->cond);
	if (srv->lock_ok)
		pthread_mutex_destroy(&srv->lock);
	shared_body_unref(srv->body);
	shared_body_unref(srv->zbody);
	free(srv->telemetry_path);
	free(srv->version);
	free(srv);
}
