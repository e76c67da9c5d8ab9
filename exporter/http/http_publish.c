/* The published body: copied once from the collector, compressed once,
 * and handed to libmicrohttpd by reference for every scrape. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* Contract: a response sending b (plain, or gzip-encoded when gzip) with
 * wc's headers; it holds its own reference to b. Both kinds carry Vary so
 * caches never hand a gzip body to a client that did not ask for it.
 * NULL when out of memory. */
static struct MHD_Response *body_response(struct shared_body *b, int gzip,
					  const struct web_config *wc)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data, http_body_unref,
								   b);
	if (!r)
		return NULL;
	/* From here on destroying r drops this reference. */
	atomic_fetch_add(&b->refs, 1);
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS) !=
		MHD_YES ||
	    http_add_web_headers(r, wc) ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING) !=
		MHD_YES ||
	    (gzip &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") != MHD_YES)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

/* Contract: plain and gzip responses for the stored body under g's
 * headers (for a new web config). 0 or -ENOMEM (nothing built). */
int http_rebuild_bodies(const struct http_server *srv, const struct web_gen *g,
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
	copy = http_body_new(len);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy->data, body, len);
	copy->len = len;
	ret = http_gzip_body(body ? body : "", len, &z);
	if (ret)
		goto out;
	g = http_gen_current(srv);
	plain = body_response(copy, 0, g->wc);
	gzip = body_response(z, 1, g->wc);
	http_gen_unref(g);
	if (!plain || !gzip) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&srv->lock);
	old = srv->plain;
	srv->plain = plain;
	srv->plain_len = copy->len;
	plain = old;
	old = srv->gzip;
	srv->gzip = gzip;
	srv->gzip_len = z->len;
	gzip = old;
	pthread_mutex_unlock(&srv->lock);
	http_body_unref(srv->body);
	http_body_unref(srv->zbody);
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
	http_body_unref(copy);
	http_body_unref(z);
	return ret;
}

/* Contract: queue the last published body (gzip when the request accepts
 * it), or 503 before the first publish. */
enum MHD_Result http_serve_metrics(struct http_server *srv, struct MHD_Connection *mc)
{
	int gzip = http_wants_gzip(mc);
	struct MHD_Response *r;
	enum MHD_Result ret;

	pthread_mutex_lock(&srv->lock);
	r = gzip && srv->gzip ? srv->gzip : srv->plain;
	if (r)
		ret = http_queue(srv, mc, MHD_HTTP_OK, r,
				 r == srv->gzip ? srv->gzip_len : srv->plain_len);
	else
		ret = http_queue(srv, mc, MHD_HTTP_SERVICE_UNAVAILABLE,
				 srv->gen->fixed[R_NO_COLLECTION], 0);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}
