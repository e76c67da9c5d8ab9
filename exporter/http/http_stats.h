/* The HTTP server's own counters: what it refused, evicted and answered,
 * kept with atomics on the request path (a relaxed add each), rendered as
 * halfopen_http_* families with every body and logged at most once per
 * kind per HTTP_LOG_INTERVAL_MS with the count since the last line (so a
 * flood costs one line, not one per request). */
#ifndef HALFOPEN_HTTP_STATS_H
#define HALFOPEN_HTTP_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#define HTTP_LOG_INTERVAL_MS (60u * 1000u)

/* What happened to a connection or request, one counter each. */
enum http_event {
	HEV_EVICTED,	     /* shut down to make room for a new connection */
	HEV_DEADLINE,	     /* shut down: its header or request deadline passed */
	HEV_NO_SLOT,	     /* 503: every request slot was taken */
	HEV_GATED,	     /* a pipelined request held until the last answer was read */
	HEV_AUTH_MISSING,    /* 401: no usable credentials */
	HEV_AUTH_WRONG,	     /* 401: a wrong password or an unknown user, checked */
	HEV_AUTH_LOCKED_OUT, /* 401 without a check: this credential failed too often */
	HEV_AUTH_BUSY,	     /* 503: the password check queue was full */
	HEV_AUTH_MALFORMED,  /* 400: credentials with a NUL byte */
	HEV_TLS_HANDSHAKE,   /* a TLS handshake that failed */
	HEV_COUNT,
};

/* The handler label of halfopen_http_requests_total (http_stats.c). */
enum http_handler {
	H_METRICS = 0,
	H_LANDING,
	H_HEALTHY,
	H_READY,
	H_RELOAD,
	H_ROUTE, /* an extra route (/sockets) */
	H_OTHER,
	H_COUNT,
};

/* The status codes counted by halfopen_http_requests_total; the rest go
 * to the last one ("other"). */
#define HTTP_STATUS_CODES 11u

struct http_stats {
	atomic_uint_fast64_t events[HEV_COUNT];
	/* [handler][status index] */
	atomic_uint_fast64_t requests[H_COUNT][HTTP_STATUS_CODES];
	/* The watchdog's: the counts at its last log line per kind. */
	uint64_t logged[HEV_COUNT];
	uint64_t last_log_ms[HEV_COUNT];
};

static inline void http_stats_event(struct http_stats *st, enum http_event ev)
{
	atomic_fetch_add_explicit(&st->events[ev], 1, memory_order_relaxed);
}

#endif
