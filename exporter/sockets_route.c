#include "sockets_route.h"

#include "collectors/suspects.h"
#include "common/buf.h"
#include "exporter/http/http.h"
#include "exporter/sockets_page.h"

void sockets_shelf_init(struct sockets_shelf *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->snap = NULL;
}

void sockets_shelf_destroy(struct sockets_shelf *s)
{
	suspect_snapshot_unref(s->snap);
	s->snap = NULL;
	pthread_mutex_destroy(&s->lock);
}

void sockets_shelf_put(struct sockets_shelf *s, struct suspect_snapshot *snap)
{
	struct suspect_snapshot *old;

	pthread_mutex_lock(&s->lock);
	old = s->snap;
	s->snap = snap;
	pthread_mutex_unlock(&s->lock);
	suspect_snapshot_unref(old);
}

/* Contract: the snapshot is referenced under the lock and rendered
 * outside it, so a slow page never holds up the collector's put. */
int sockets_route(void *ctx, const struct http_request *req, struct buf *out,
		  const char **content_type)
{
	struct sockets_shelf *shelf = ctx;
	struct suspect_snapshot *snap = NULL;
	struct sockets_page_query q;
	int r = sockets_page_parse_query(http_request_arg(req, "limit"),
					 http_request_arg(req, "format"),
					 http_request_header(req, "Accept"), &q);

	if (r < 0) {
		*content_type = "text/plain; charset=utf-8";
		buf_puts(out, "bad query: limit=1..1000, format=json|html\n");
		return 400;
	}
	pthread_mutex_lock(&shelf->lock);
	if (shelf->snap)
		snap = suspect_snapshot_ref(shelf->snap);
	pthread_mutex_unlock(&shelf->lock);
	r = sockets_page_render(snap, &q, out);
	suspect_snapshot_unref(snap);
	*content_type = sockets_page_content_type(q.format);
	return r < 0 ? r : 200;
}
