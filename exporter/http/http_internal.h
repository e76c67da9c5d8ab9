/* The HTTP server's insides, shared by its files and by nothing else.
 *
 * One room per concern:
 *   http.c           lifecycle: start, web config swap, stop
 *   http_listen.c    the listen address and the listening socket
 *   http_response.c  responses: web config generations, fixed pages
 *   http_publish.c   the published body and the metrics response
 *   http_gzip.c      gzip of the body, Accept-Encoding of a request
 *   http_body.c      the shared body both of those hold: publish calls
 *                    gzip, and nothing here calls back up
 *   http_conn.c      the connection table, its limits, eviction, watchdog
 *   http_stats.c     the server's own counters, their metrics and logs
 *   http_request.c   request validation (framing, NUL in the URI, method)
 *   http_login.c     Basic auth of a request (cache, the auth pool)
 *   http_reload.c    POST /-/reload (the lifecycle endpoint)
 *   http_route.c     routing a request to its answer
 *   http_auth.c, http_negotiate.c, http_tls.c: see their headers.
 *
 * Locking: srv->lock guards the mutable fields of struct http_server and
 * of every struct conn (marked below); handlers queue a response while
 * holding it, so MHD's own reference is taken before a concurrent publish
 * or web config change can drop ours. */
#ifndef HALFOPEN_HTTP_INTERNAL_H
#define HALFOPEN_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/web_config.h"
#include "http.h"
#include "http_auth.h"
#include "http_stats.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define CONTENT_TYPE_HTML    "text/html; charset=utf-8"

/* Handlers only take a reference to a prebuilt response, but a bcrypt
 * check holds its worker for tens of milliseconds, and a connection is
 * bound to one worker: four keep a burst of bad passwords from delaying
 * every scrape. Idle connections cost a worker nothing (epoll). */
#define THREAD_POOL_SIZE 4u
/* The pipelining gate asks the kernel whether a connection's answers were
 * read only once they add up to this much since it last found them read:
 * a client that does not read holds at most this and one answer. */
#define HTTP_GATE_CHECK_BYTES (64u * 1024u)
/* What an answer's headers (and a fixed answer's short body) count. */
#define HTTP_ANSWER_HEADER_BYTES 512u
/* Successful Basic auth checks are remembered this long, so a scraper
 * pays bcrypt once a minute rather than on every scrape (as
 * exporter-toolkit does); the cache is small and fixed. */
#define AUTH_CACHE_TTL_MS (60u * 1000u)
#define AUTH_CACHE_SIZE	  64u

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

/* Which eviction queue a connection is on (http_conn.c). */
enum conn_queue {
	Q_NONE = 0, /* in a request, shut down, or not tracked */
	Q_FRESH,    /* never completed a request, waiting for a header */
	Q_IDLE,	    /* completed one, waiting for the next (keep-alive) */
	Q_GATED,    /* suspended by the pipelining gate (http_pipeline_gate) */
	Q_COUNT,
};

/* Connections per client address (http_conn.c), for a fair share of the
 * table: eviction takes from the addresses that hold the most. */
struct addr_count {
	struct addr_count *next; /* hash chain */
	unsigned char src[16];
	unsigned conns; /* in the table: the entry goes with the last */
	unsigned fresh; /* of which on Q_FRESH */
};

/* One accepted connection, from MHD's STARTED to its CLOSED notification
 * (its socket context). The watchdog shuts the socket down when a
 * deadline passes; MHD then sees the end of the stream and cleans up as
 * usual. */
struct conn {
	struct conn *prev, *next;   /* the table, newest first */
	struct conn *qprev, *qnext; /* its eviction queue, newest first */
	enum conn_queue queue;
	struct addr_count *addr;
	bool gated; /* suspended: its previous response is still unread */
	enum http_handler handler;
	struct MHD_Connection *mc;
	int fd;
	uint64_t since_ms;   /* waiting for a request header since / request since */
	bool in_request;     /* between the header and the request's completion */
	bool counted;	     /* holds one of max_requests */
	bool shut;	     /* deadline passed or evicted, socket shut down */
	/* TLS, set on the connection's worker by the handshake hook
	 * (http_tls.c): a message came in; the client's Finished came in. */
	bool tls_began, tls_done;
	bool served;	     /* has completed a request: evicted last */
	/* Answer bytes queued since the gate last found them all read: the
	 * connection's own worker only (a suspended one has none running). */
	size_t unchecked_bytes;
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

/* A published body, plain or gzip-encoded, shared by every response
 * built on it (one per web config's headers): MHD sends it without a
 * copy, and the last response destroyed frees it. */
struct shared_body {
	atomic_uint refs;
	size_t len;
	unsigned char data[];
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
	/* Guards everything below. */
	pthread_mutex_t lock;
	struct web_gen *gen;
	struct MHD_Response *plain; /* NULL until the first publish */
	struct MHD_Response *gzip;
	size_t plain_len, gzip_len; /* their bodies' sizes */
	/* The last published body, to rebuild the responses with new
	 * headers: the writer's (collector's) own, outside the lock. */
	struct shared_body *body, *zbody;
	struct conn *conns, *conns_tail; /* newest first */
	unsigned n_conns;
	struct conn *q_head[Q_COUNT], *q_tail[Q_COUNT]; /* [Q_NONE] unused */
	unsigned q_len[Q_COUNT];
	unsigned in_flight;   /* connections in a request (conn.in_request) */
	unsigned fresh_addrs; /* addresses with a connection on Q_FRESH */
	struct addr_count **addrs;
	unsigned addr_buckets; /* a power of two */
	uint32_t addr_seed;
	unsigned max_conns;   /* the table's size, after the descriptor budget */
	unsigned want_conns;  /* what was asked for */
	unsigned long nofile; /* RLIMIT_NOFILE at start (0: unlimited) */
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
	struct http_stats stats;
};

static inline uint64_t http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- http_response.c ---- */
struct MHD_Response *http_make_response(const void *data, size_t len, const char *ctype,
					enum MHD_ResponseMemoryMode mode,
					const struct web_config *wc);
int http_add_web_headers(struct MHD_Response *r, const struct web_config *wc);
struct web_gen *http_gen_new(const struct http_server *srv, struct web_config *wc);
struct web_gen *http_gen_ref(struct web_gen *g);
void http_gen_unref(struct web_gen *g);
/* The current generation, referenced (taken under the lock). */
struct web_gen *http_gen_current(struct http_server *srv);
enum MHD_Result http_queue_fixed(struct http_server *srv, struct MHD_Connection *mc,
				 unsigned status, enum fixed_response which);

/* ---- http_body.c ---- */
struct shared_body *http_body_new(size_t cap);
void http_body_unref(void *cls);

/* ---- http_publish.c ---- */
int http_rebuild_bodies(const struct http_server *srv, const struct web_gen *g,
			struct MHD_Response **plain, struct MHD_Response **gzip);
enum MHD_Result http_serve_metrics(struct http_server *srv, struct MHD_Connection *mc);

/* ---- http_gzip.c ---- */
int http_gzip_body(const char *data, size_t len, struct shared_body **out);
int http_wants_gzip(struct MHD_Connection *mc);

/* ---- http_conn.c ---- */
struct conn *http_conn_of(struct MHD_Connection *mc);
void http_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe);
void http_conn_request_done(void *cls, struct MHD_Connection *mc, void **con_cls,
			    enum MHD_RequestTerminationCode toe);
void *http_watchdog_main(void *arg);
/* The per-address table, for max_conns connections. 0 or -ENOMEM. */
int http_conn_table_init(struct http_server *srv);
void http_conn_table_free(struct http_server *srv);
/* The connection limit within RLIMIT_NOFILE (raised to its hard limit
 * first); *nofile gets that limit (0: unlimited). */
unsigned http_fd_budget(unsigned want, unsigned long *nofile);

/* The connection's eviction queue becomes q (under the lock). */
void http_conn_requeue(struct http_server *srv, struct conn *c, enum conn_queue q);
/* The request no longer holds a request slot: its response is queued, and
 * sending it costs the server no work (under the lock). */
void http_slot_release(struct http_server *srv, struct conn *c);
/* Whether the connection must wait before its next request is read: its
 * answers since the last check add up to HTTP_GATE_CHECK_BYTES or more
 * and are not yet all acknowledged by the client (a pipelining client
 * that does not read). Then it is suspended until the watchdog sees them
 * delivered or the request deadline pass. */
bool http_pipeline_gate(struct http_server *srv, struct conn *c);
/* Queue resp, whose body is body_len bytes (counted in
 * halfopen_http_requests_total, and toward the gate's next check). */
enum MHD_Result http_queue(struct http_server *srv, struct MHD_Connection *mc, unsigned status,
			   struct MHD_Response *resp, size_t body_len);

/* ---- http_stats.c ---- */
/* One log line per kind with new events, at most one per kind per
 * HTTP_LOG_INTERVAL_MS (the watchdog, outside the lock). */
void http_stats_log(struct http_stats *st, uint64_t now_ms);
/* The status's column in http_stats.requests. */
unsigned http_status_index(unsigned status);

/* ---- http_request.c ---- */
size_t http_unescape_uri(void *cls, struct MHD_Connection *mc, char *uri);
enum MHD_Result http_begin_request(struct http_server *srv, struct conn *c,
				   struct MHD_Connection *mc, const char *url, const char *method);
int http_method_refusal(const struct http_server *srv, const char *url, const char *method);

/* ---- http_login.c ---- */
enum login_outcome {
	LOGIN_GO_ON,  /* no users, or a remembered login */
	LOGIN_QUEUED, /* suspended until the pool answers */
	LOGIN_REFUSED,
};
enum login_outcome http_login_begin(struct http_server *srv, struct conn *c,
				    struct MHD_Connection *mc, struct web_gen *g, int *which,
				    unsigned *status);
void http_login_forget_all(struct http_server *srv);

/* ---- http_reload.c ---- */
bool http_is_reload_path(const struct http_server *srv, const char *url);
enum MHD_Result http_serve_reload(struct http_server *srv, struct conn *c,
				  struct MHD_Connection *mc);
void http_reload_expire(struct conn *c, uint64_t now);

/* ---- http_route.c ---- */
enum MHD_Result http_handle_request(void *cls, struct MHD_Connection *mc, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **con_cls);

#endif
