/* The server's own counters (http_stats.h): counting a response, the
 * halfopen_http_* families, and the rate-limited log lines. */
#include <inttypes.h>
#include <stdio.h>

#include "common/metric_writer.h"
#include "http_internal.h"
#include "exporter/log.h"

static const unsigned status_codes[HTTP_STATUS_CODES - 1] = {
    200, 304, 400, 401, 404, 405, 413, 500, 503, 504,
};

unsigned http_status_index(unsigned status)
{
	for (unsigned i = 0; i < HTTP_STATUS_CODES - 1; i++)
		if (status_codes[i] == status)
			return i;
	return HTTP_STATUS_CODES - 1;
}

/* Contract: see http_internal.h. Callers may hold the lock: this takes
 * none. */
enum MHD_Result http_queue(struct http_server *srv, struct MHD_Connection *mc, unsigned status,
			   struct MHD_Response *resp, size_t body_len)
{
	struct conn *c = http_conn_of(mc);
	enum http_handler h = c ? c->handler : H_OTHER;

	/* Headers are a few hundred bytes; the fixed answers' bodies too
	 * (they pass 0), so the allowance covers both. */
	if (c)
		c->unchecked_bytes += body_len + HTTP_ANSWER_HEADER_BYTES;
	atomic_fetch_add_explicit(&srv->stats.requests[h][http_status_index(status)], 1,
				  memory_order_relaxed);
	return MHD_queue_response(mc, status, resp);
}

static const struct {
	const char *msg;
	enum log_level level;
} event_logs[HEV_COUNT] = {
    [HEV_EVICTED] = {"HTTP connections evicted: the connection table was full", LOG_LEVEL_WARN},
    [HEV_DEADLINE] = {"HTTP connections closed: no complete request or answer read in time",
		      LOG_LEVEL_INFO},
    [HEV_NO_SLOT] = {"HTTP requests refused with 503: every request slot was taken",
		     LOG_LEVEL_WARN},
    [HEV_GATED] = {"HTTP pipelined requests held until the client read the previous answer",
		   LOG_LEVEL_INFO},
    [HEV_AUTH_MISSING] = {"HTTP requests refused with 401: no credentials", LOG_LEVEL_WARN},
    [HEV_AUTH_WRONG] = {"HTTP logins failed: wrong password or unknown user", LOG_LEVEL_WARN},
    [HEV_AUTH_LOCKED_OUT] = {"HTTP logins refused without a check: that password failed too "
			     "often from that address",
			     LOG_LEVEL_WARN},
    [HEV_AUTH_BUSY] = {"HTTP logins refused with 503: the password check queue was full",
		       LOG_LEVEL_WARN},
    [HEV_AUTH_MALFORMED] = {"HTTP requests refused with 400: malformed credentials",
			    LOG_LEVEL_WARN},
    [HEV_TLS_HANDSHAKE] = {"TLS handshakes failed", LOG_LEVEL_WARN},
};

/* Contract: see http_internal.h. The first event of a kind is logged at
 * the next sweep, later ones at most once per HTTP_LOG_INTERVAL_MS, each
 * line with how many happened since the previous one. */
void http_stats_log(struct http_stats *st, uint64_t now_ms)
{
	for (unsigned k = 0; k < HEV_COUNT; k++) {
		uint64_t n = atomic_load_explicit(&st->events[k], memory_order_relaxed);
		char count[24], total[24];

		if (n == st->logged[k] ||
		    (st->last_log_ms[k] && now_ms - st->last_log_ms[k] < HTTP_LOG_INTERVAL_MS))
			continue;
		snprintf(count, sizeof(count), "%" PRIu64, n - st->logged[k]);
		snprintf(total, sizeof(total), "%" PRIu64, n);
		log_kv(event_logs[k].level, event_logs[k].msg, "count", count, "total", total,
		       NULL);
		st->logged[k] = n;
		st->last_log_ms[k] = now_ms;
	}
}

static uint64_t ev(const struct http_server *srv, enum http_event e)
{
	return atomic_load_explicit(&srv->stats.events[e], memory_order_relaxed);
}

static const char *handler_label(const struct http_server *srv, enum http_handler h)
{
	switch (h) {
	case H_METRICS:
		return srv->telemetry_path;
	case H_LANDING:
		return "/";
	case H_HEALTHY:
		return "/-/healthy";
	case H_READY:
		return "/-/ready";
	case H_RELOAD:
		return "/-/reload";
	case H_ROUTE:
		return srv->n_routes == 1 ? srv->routes[0].path : "extra";
	default:
		return "other";
	}
}

static void render_requests(const struct http_server *srv, struct metric_writer *w)
{
	metric_family(w, "halfopen_http_requests_total", METRIC_COUNTER,
		      "HTTP requests answered by the exporter, by handler (path; other: "
		      "unknown paths) and status code.");
	for (unsigned h = 0; h < H_COUNT; h++)
		for (unsigned i = 0; i < HTTP_STATUS_CODES; i++) {
			uint64_t n =
			    atomic_load_explicit(&srv->stats.requests[h][i], memory_order_relaxed);
			char code[12];

			/* The scrape path's 200 always, so rate() has a start. */
			if (!n && !(h == H_METRICS && i == 0))
				continue;
			if (i < HTTP_STATUS_CODES - 1)
				snprintf(code, sizeof(code), "%u", status_codes[i]);
			else
				snprintf(code, sizeof(code), "other");
			metric_sample(w, "halfopen_http_requests_total");
			metric_label(w, "handler", handler_label(srv, (enum http_handler)h));
			metric_label(w, "code", code);
			metric_value_u64(w, n);
		}
}

/* Contract: see http.h. */
int http_server_render_metrics(void *ctx, struct metric_writer *w)
{
	struct http_server *srv = ctx;
	static const struct {
		const char *reason;
		enum http_event ev;
	} auth[] = {
	    {"missing", HEV_AUTH_MISSING},	 {"wrong", HEV_AUTH_WRONG},
	    {"locked_out", HEV_AUTH_LOCKED_OUT}, {"busy", HEV_AUTH_BUSY},
	    {"malformed", HEV_AUTH_MALFORMED},
	};
	unsigned in_flight, fresh, idle, total, max_conns;

	if (!srv)
		return 0;
	pthread_mutex_lock(&srv->lock);
	in_flight = srv->in_flight;
	fresh = srv->q_len[Q_FRESH];
	idle = srv->q_len[Q_IDLE];
	total = srv->n_conns;
	max_conns = srv->max_conns;
	pthread_mutex_unlock(&srv->lock);

	render_requests(srv, w);
	metric_single_u64(w, "halfopen_http_requests_in_flight", METRIC_GAUGE,
			  "HTTP requests between their header and the last byte of the answer "
			  "(answers being sent to slow readers included).",
			  in_flight);
	metric_family(w, "halfopen_http_connections", METRIC_GAUGE,
		      "Open HTTP connections by state: waiting_first (never completed a "
		      "request), idle (keep-alive between requests), in_request, closing (shut "
		      "down, not yet closed).");
	{
		const struct {
			const char *state;
			unsigned n;
		} states[] = {
		    {"waiting_first", fresh},
		    {"idle", idle},
		    {"in_request", in_flight},
		    {"closing", total - fresh - idle - (in_flight < total ? in_flight : total)},
		};
		for (unsigned i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
			metric_sample(w, "halfopen_http_connections");
			metric_label(w, "state", states[i].state);
			metric_value_u64(w, states[i].n);
		}
	}
	metric_single_u64(w, "halfopen_http_connections_max", METRIC_GAUGE,
			  "The HTTP connection table's size: --web.max-connections, or less "
			  "when the descriptor limit (RLIMIT_NOFILE) is too small for it.",
			  max_conns);
	metric_single_u64(w, "halfopen_http_connections_evicted_total", METRIC_COUNTER,
			  "HTTP connections shut down to make room for a new one (the table "
			  "past three quarters full).",
			  ev(srv, HEV_EVICTED));
	metric_single_u64(w, "halfopen_http_connections_timed_out_total", METRIC_COUNTER,
			  "HTTP connections shut down because no complete request came within "
			  "the header deadline of connecting, or an answer was not read within "
			  "the request deadline (idle keep-alive connections not counted).",
			  ev(srv, HEV_DEADLINE));
	metric_single_u64(w, "halfopen_http_pipelined_requests_held_total", METRIC_COUNTER,
			  "Pipelined HTTP requests held until the client had read the previous "
			  "answer.",
			  ev(srv, HEV_GATED));
	metric_single_u64(w, "halfopen_http_request_slots_exhausted_total", METRIC_COUNTER,
			  "HTTP requests answered 503 because every request slot "
			  "(--web.max-requests) was taken.",
			  ev(srv, HEV_NO_SLOT));
	metric_family(w, "halfopen_http_auth_failures_total", METRIC_COUNTER,
		      "HTTP requests refused by Basic auth, by reason: missing (no "
		      "credentials), wrong (checked and wrong, or an unknown user), locked_out "
		      "(that password failed too often from that address: refused without a "
		      "check), busy (the check queue was full: 503), malformed (400).");
	for (unsigned i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
		metric_sample(w, "halfopen_http_auth_failures_total");
		metric_label(w, "reason", auth[i].reason);
		metric_value_u64(w, ev(srv, auth[i].ev));
	}
	metric_single_u64(w, "halfopen_http_tls_handshake_failures_total", METRIC_COUNTER,
			  "TLS handshakes that began and did not complete.",
			  ev(srv, HEV_TLS_HANDSHAKE));
	return metric_writer_error(w);
}
