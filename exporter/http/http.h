/* http: the libmicrohttpd server. Serves the last published body on the
 * telemetry path (gzip when asked), a landing page on /, 404 elsewhere.
 * A scrape never waits for a collection: publishing builds the plain and
 * gzip responses once, and requests only take a reference.
 *
 * Hardening (docs/security.md): the web config (TLS, client certificates,
 * Basic auth with bcrypt, extra headers) is swapped atomically at run time;
 * at most max_requests requests are served at once (503 beyond, as Go's
 * promhttp); a connection that has not sent a complete request header
 * within HTTP_HEADER_TIMEOUT_S of connecting (or of its previous request)
 * is closed whatever it trickles, so slowloris clients and idle
 * connections cost a descriptor for seconds, never a worker; only GET and
 * HEAD are served (and POST /-/reload with enable_lifecycle). */
#ifndef HALFOPEN_HTTP_H
#define HALFOPEN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_DEFAULT_LISTEN ":19100"

/* exporter-toolkit's --web.max-requests default. */
#define HTTP_DEFAULT_MAX_REQUESTS 40u
/* Open connections, idle ones included; capped by RLIMIT_NOFILE. */
#define HTTP_DEFAULT_MAX_CONNECTIONS 4096u
/* Per client address, so one host cannot take every slot. */
#define HTTP_DEFAULT_MAX_PER_IP 1024u
/* From accept (or the end of the previous request) to a complete request
 * header, and the idle limit between keep-alive requests. */
#define HTTP_HEADER_TIMEOUT_S 10u
/* From a complete request header to the last byte of the response. */
#define HTTP_REQUEST_TIMEOUT_S 60u
/* Request line plus headers must fit; MHD answers 414/431 beyond. */
#define HTTP_MAX_HEADER_BYTES (32u * 1024u)

struct web_config;

struct buf;

/* One request as a route handler sees it (valid during the call). */
struct http_request;
/* The decoded value of query argument name, or NULL. */
const char *http_request_arg(const struct http_request *req, const char *name);
/* The value of request header name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

/* A handler for one extra GET/HEAD path, run on the server's threads
 * after authentication: append the body to out (a fresh buffer), set
 * *content_type (a static string), return the HTTP status, or a negative
 * errno for a 500. */
typedef int (*http_route_fn)(void *ctx, const struct http_request *req, struct buf *out,
			     const char **content_type);

struct http_route {
	const char *path; /* exact match, e.g. "/sockets" */
	http_route_fn fn;
	void *ctx;
};

struct http_options {
	/* Extra paths (e.g. /sockets); the array must outlive the server. */
	const struct http_route *routes;
	size_t n_routes;
	const char *listen_address; /* "host:port", ":port", "[v6]:port" */
	const char *telemetry_path; /* "/metrics" */
	const char *version;	    /* shown on the landing page */
	unsigned max_requests;	    /* concurrent requests; 0: default */
	unsigned max_connections;   /* 0: default */
	unsigned max_per_ip;	    /* 0: default */
	/* Serve POST/PUT /-/reload: it sends SIGHUP to the process and waits
	 * for http_server_reload_done() (Prometheus's --web.enable-lifecycle). */
	bool enable_lifecycle;
	/* NULL: plain HTTP, no authentication. Taken over by the server in
	 * every case (freed on failure). TLS or not is fixed for the server's
	 * lifetime; everything else can change with
	 * http_server_set_web_config(). */
	struct web_config *web;
	/* Called once the listening socket is bound and before any server
	 * thread exists (capabilities are per thread: see privileges.h).
	 * A negative return fails the start with it, and what the hook wrote
	 * to errmsg is the start's error as it is (the failure is the hook's,
	 * not the server's). May be NULL. */
	int (*after_bind)(void *arg, char *errmsg, size_t errlen);
	void *after_bind_arg;
};

struct http_server;

/* Bind and start serving (own threads). Until the first publish the
 * telemetry path answers 503. 0 or -errno; errmsg (may be NULL) gets a
 * human reason. */
int http_server_start(const struct http_options *opt, struct http_server **out, char *errmsg,
		      size_t errlen);
/* Replace the served body (copied). Thread-safe. 0 or -ENOMEM (the old
 * body stays served). */
int http_server_publish(struct http_server *srv, const char *body, size_t len);
/* Put a new web config in force for every later request and handshake
 * (taken over in every case; NULL means none). -EINVAL, with errmsg, when
 * it would switch TLS on or off (that needs a restart); -ENOMEM. On error
 * the old one stays in force. */
int http_server_set_web_config(struct http_server *srv, struct web_config *wc, char *errmsg,
			       size_t errlen);
/* Answer the pending POST /-/reload requests: 200 when rc == 0, else 500.
 * Call after every reload attempt. Accepts NULL. */
void http_server_reload_done(struct http_server *srv, int rc);
/* metric_source renderer (common/metric_writer.h); ctx: the server (NULL:
 * nothing). The halfopen_http_* families: requests by handler and code,
 * in flight, connections by state and the table's size, evictions,
 * timeouts, held pipelined requests, slots exhausted, auth failures by
 * reason, TLS handshake failures. 0 or -ENOMEM. */
struct metric_writer;
int http_server_render_metrics(void *ctx, struct metric_writer *w);
/* The connection table's size, what was asked for, and RLIMIT_NOFILE
 * when the server started (0: unlimited), for the start-up log. */
void http_server_limits(const struct http_server *srv, unsigned *max_conns, unsigned *wanted,
			unsigned long *nofile);
/* Stop and free. Accepts NULL. */
void http_server_stop(struct http_server *srv);

/* Parse a listen address into a sockaddr; pure, unit tested.
 * 0 or -EINVAL. */
struct sockaddr_storage;
int http_parse_listen_address(const char *addr, struct sockaddr_storage *ss, unsigned *sslen);

/* http_accept_encoding_gzip() and the qvalue parser: http_negotiate.h. */
#include "http_negotiate.h"

#endif
