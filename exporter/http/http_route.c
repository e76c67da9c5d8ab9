/* Routing: which answer a request gets once it passed validation and
 * authentication (http_request.c): the telemetry path, the extra routes,
 * the landing page, health and readiness, the reload endpoint, 404. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "http_internal.h"

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
		return http_queue_fixed(srv, mc, MHD_HTTP_INTERNAL_SERVER_ERROR, R_INTERNAL);
	}
	data = buf_steal(&b, &len);
	g = http_gen_current(srv);
	resp = http_make_response(data ? data : "", len, ctype,
				  data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT, g->wc);
	http_gen_unref(g);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	ret = http_queue(srv, mc, (unsigned)status, resp, len);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result serve_ready(struct http_server *srv, struct MHD_Connection *mc)
{
	int ready;

	pthread_mutex_lock(&srv->lock);
	ready = srv->plain != NULL;
	pthread_mutex_unlock(&srv->lock);
	return ready ? http_queue_fixed(srv, mc, MHD_HTTP_OK, R_READY)
		     : http_queue_fixed(srv, mc, MHD_HTTP_SERVICE_UNAVAILABLE, R_NOT_READY);
}

/* The handler label of a request for url. */
static enum http_handler handler_of(const struct http_server *srv, const char *url)
{
	if (!url)
		return H_OTHER;
	if (strcmp(url, srv->telemetry_path) == 0)
		return H_METRICS;
	if (http_is_reload_path(srv, url))
		return H_RELOAD;
	for (size_t i = 0; i < srv->n_routes; i++)
		if (strcmp(url, srv->routes[i].path) == 0)
			return H_ROUTE;
	if (strcmp(url, "/") == 0)
		return H_LANDING;
	if (strcmp(url, "/-/healthy") == 0)
		return H_HEALTHY;
	if (strcmp(url, "/-/ready") == 0)
		return H_READY;
	return H_OTHER;
}

/* Contract: the answer to a request that passed every check. */
static enum MHD_Result route(struct http_server *srv, struct conn *c, struct MHD_Connection *mc,
			     const char *url)
{
	if (!url)
		url = "";
	if (http_is_reload_path(srv, url))
		return http_serve_reload(srv, c, mc);
	if (strcmp(url, srv->telemetry_path) == 0)
		return http_serve_metrics(srv, mc);
	for (size_t i = 0; i < srv->n_routes; i++)
		if (strcmp(url, srv->routes[i].path) == 0)
			return serve_route(srv, &srv->routes[i], mc);
	if (strcmp(url, "/") == 0)
		return http_queue_fixed(srv, mc, MHD_HTTP_OK, R_LANDING);
	if (strcmp(url, "/-/healthy") == 0)
		return http_queue_fixed(srv, mc, MHD_HTTP_OK, R_HEALTHY);
	if (strcmp(url, "/-/ready") == 0)
		return serve_ready(srv, mc);
	return http_queue_fixed(srv, mc, MHD_HTTP_NOT_FOUND, R_NOT_FOUND);
}

/* Contract (MHD access handler): the first call comes once MHD has the
 * request header (http_begin_request decides whether it goes on); GET and
 * HEAD are answered on a later call, once MHD has the whole request: MHD
 * 0.9.75 closes the connection after a response queued on the first
 * call, which would defeat keep-alive between scrapes. A body sent with
 * them is drained and ignored. *con_cls only marks the first call. HEAD
 * gets GET's headers; MHD drops the body itself. */
enum MHD_Result http_handle_request(void *cls, struct MHD_Connection *mc, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	struct http_server *srv = cls;
	struct conn *c = http_conn_of(mc);
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	if (!c || c->shut)
		return MHD_NO;
	if (!*con_cls) {
		/* Gated: *con_cls stays unset, so the call after the resume
		 * begins the request. */
		if (http_pipeline_gate(srv, c))
			return MHD_YES;
		*con_cls = srv;
		c->handler = handler_of(srv, url);
		return http_begin_request(srv, c, mc, url, method);
	}
	if (c->auth == AUTH_PASSED || c->auth == AUTH_FAILED) {
		int which = c->auth == AUTH_PASSED ? http_method_refusal(srv, url, method) : -1;

		if (c->auth == AUTH_FAILED) {
			c->auth = AUTH_NONE;
			http_stats_event(&srv->stats, HEV_AUTH_WRONG);
			return http_queue_fixed(srv, mc, MHD_HTTP_UNAUTHORIZED, R_UNAUTHORIZED);
		}
		c->auth = AUTH_NONE;
		if (which >= 0)
			return http_queue_fixed(srv, mc, MHD_HTTP_METHOD_NOT_ALLOWED,
						(enum fixed_response)which);
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	ret = route(srv, c, mc, url);
	/* Answered (unless a reload waits): sending it costs no work, so it
	 * holds no slot, however slowly the client reads. */
	pthread_mutex_lock(&srv->lock);
	if (c->reload == RELOAD_NONE)
		http_slot_release(srv, c);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}
