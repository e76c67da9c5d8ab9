/* Request validation: what is refused before a request is routed, and in
 * what order (framing, request slots, credentials, method). The checks
 * cover what libmicrohttpd 0.9.75 lets through. */
#include <string.h>
#include <strings.h>

#include "http_internal.h"

static bool is_method(const char *m, const char *want)
{
	return m && strcmp(m, want) == 0;
}

/* Contract (MHD unescape callback): decode %XX in place, as MHD would, and
 * mark the request bad when that yields a NUL byte: C strings would cut
 * the path there ("/metrics%00xyz" served as /metrics). The length. */
size_t http_unescape_uri(void *cls, struct MHD_Connection *mc, char *uri)
{
	struct conn *c = http_conn_of(mc);
	size_t n = MHD_http_unescape(uri);

	(void)cls;
	if (c && memchr(uri, '\0', n))
		c->bad_uri = true;
	return n;
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

/* Contract: the refusal (a fixed response) for a method the path does not
 * take, or -1. */
int http_method_refusal(const struct http_server *srv, const char *url, const char *method)
{
	if (http_is_reload_path(srv, url))
		return is_method(method, MHD_HTTP_METHOD_POST) ||
			       is_method(method, MHD_HTTP_METHOD_PUT)
			   ? -1
			   : R_RELOAD_METHOD;
	return is_method(method, MHD_HTTP_METHOD_GET) || is_method(method, MHD_HTTP_METHOD_HEAD)
		   ? -1
		   : R_BAD_METHOD;
}

/* Contract: the first call of a request, once its header is complete:
 * refuse a malformed request or a body (400, 413), take a request slot
 * (503 when max_requests are in flight), check the credentials (401, or
 * suspended while the auth pool checks them), then the method (405).
 * MHD_YES to read on, else the result of queueing the refusal (MHD closes
 * such a connection, so a body it carried is never read). */
enum MHD_Result http_begin_request(struct http_server *srv, struct conn *c,
				   struct MHD_Connection *mc, const char *url, const char *method)
{
	enum login_outcome outcome;
	struct web_gen *g;
	unsigned status;
	int which;
	bool full;

	which = framing_refusal(c, mc, &status);
	if (which >= 0)
		return http_queue_fixed(srv, mc, status, (enum fixed_response)which);
	pthread_mutex_lock(&srv->lock);
	if (!c->in_request)
		srv->in_flight++;
	c->in_request = true;
	c->since_ms = http_now_ms();
	http_conn_requeue(srv, c, Q_NONE);
	full = srv->active_requests >= srv->max_requests;
	if (!full) {
		srv->active_requests++;
		c->counted = true;
	}
	g = http_gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	if (full) {
		http_gen_unref(g);
		http_stats_event(&srv->stats, HEV_NO_SLOT);
		return http_queue_fixed(srv, mc, MHD_HTTP_SERVICE_UNAVAILABLE, R_TOO_MANY);
	}
	outcome = http_login_begin(srv, c, mc, g, &which, &status);
	http_gen_unref(g);
	if (outcome == LOGIN_REFUSED)
		return http_queue_fixed(srv, mc, status, (enum fixed_response)which);
	if (outcome == LOGIN_QUEUED)
		return MHD_YES;
	which = http_method_refusal(srv, url, method);
	if (which >= 0)
		return http_queue_fixed(srv, mc, MHD_HTTP_METHOD_NOT_ALLOWED,
					(enum fixed_response)which);
	return MHD_YES;
}
