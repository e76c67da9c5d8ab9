/* http: the libmicrohttpd server. Serves the last published body on the
 * telemetry path (gzip when asked), a landing page on /, 404 elsewhere.
 * A scrape never waits for a collection: publishing builds the plain and
 * gzip responses once, and requests only take a reference. */
#ifndef HALFOPEN_HTTP_H
#define HALFOPEN_HTTP_H

#include <stddef.h>

#define HTTP_DEFAULT_LISTEN ":19100"

struct http_options {
	const char *listen_address; /* "host:port", ":port", "[v6]:port" */
	const char *telemetry_path; /* "/metrics" */
	const char *version;        /* shown on the landing page */
	unsigned max_connections;   /* 0: default (64) */
};

struct http_server;

/* Bind and start serving (own thread). Until the first publish the
 * telemetry path answers 503. 0 or -errno; errmsg (may be NULL) gets a
 * human reason. */
int http_server_start(const struct http_options *opt, struct http_server **out, char *errmsg,
		      size_t errlen);
/* Replace the served body (copied). Thread-safe. 0 or -ENOMEM (the old
 * body stays served). */
int http_server_publish(struct http_server *srv, const char *body, size_t len);
/* Stop and free. Accepts NULL. */
void http_server_stop(struct http_server *srv);

/* Parse a listen address into a sockaddr; pure, unit tested.
 * 0 or -EINVAL. */
struct sockaddr_storage;
int http_parse_listen_address(const char *addr, struct sockaddr_storage *ss, unsigned *sslen);

#endif
