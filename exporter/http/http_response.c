/* Responses: the web config's headers on every answer, and the fixed
 * pages (landing, health, errors) built once per web config generation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/escape.h"
#include "http_internal.h"

#define AUTH_REALM "Basic realm=\"halfopen_exporter\", charset=\"UTF-8\""

/* Contract: the web config's extra headers onto r. 0 or -ENOMEM. */
int http_add_web_headers(struct MHD_Response *r, const struct web_config *wc)
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

/* Contract: a response of len bytes at data (mode as MHD's), with
 * Content-Type ctype and wc's headers. NULL when out of memory (data is
 * then not taken over). */
struct MHD_Response *http_make_response(const void *data, size_t len, const char *ctype,
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
	    http_add_web_headers(r, wc)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static struct MHD_Response *static_text(const char *body, const struct web_config *wc)
{
	return http_make_response(body, strlen(body), CONTENT_TYPE_TEXT, MHD_RESPMEM_PERSISTENT,
				  wc);
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
		r = http_make_response(b.data, b.len, CONTENT_TYPE_HTML, MHD_RESPMEM_MUST_COPY, wc);
	buf_free(&b);
	return r;
}

/* Drops a reference; the last one frees the generation. NULL ok. */
void http_gen_unref(struct web_gen *g)
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

struct web_gen *http_gen_ref(struct web_gen *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

struct web_gen *http_gen_current(struct http_server *srv)
{
	struct web_gen *g;

	pthread_mutex_lock(&srv->lock);
	g = http_gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	return g;
}

/* Contract: a generation for wc (taken over in every case) with its fixed
 * responses built. NULL on allocation failure. */
struct web_gen *http_gen_new(const struct http_server *srv, struct web_config *wc)
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
	http_gen_unref(g);
	return NULL;
}

/* Contract: queue the current generation's fixed response which, under
 * the lock (so a concurrent web config swap cannot free it first). */
enum MHD_Result http_queue_fixed(struct http_server *srv, struct MHD_Connection *mc,
				 unsigned status, enum fixed_response which)
{
	enum MHD_Result ret;

	pthread_mutex_lock(&srv->lock);
	ret = http_queue(srv, mc, status, srv->gen->fixed[which], 0);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}
