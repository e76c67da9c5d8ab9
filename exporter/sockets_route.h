/* sockets_route: the /sockets route of the HTTP server, and the shelf it
 * reads: the collector thread puts each new suspect snapshot on it, the
 * HTTP threads take a reference to the one there. The only state the two
 * sides share besides the published /metrics body. */
#ifndef HALFOPEN_SOCKETS_ROUTE_H
#define HALFOPEN_SOCKETS_ROUTE_H

#include <pthread.h>

struct buf;
struct http_request;
struct suspect_snapshot;

struct sockets_shelf {
	pthread_mutex_t lock;
	struct suspect_snapshot *snap; /* NULL before the first */
};

void sockets_shelf_init(struct sockets_shelf *s);
/* Drops the snapshot on it. */
void sockets_shelf_destroy(struct sockets_shelf *s);
/* Put snap (its reference moves to the shelf) in place of the previous
 * one, which is released. Collector thread. */
void sockets_shelf_put(struct sockets_shelf *s, struct suspect_snapshot *snap);

/* http_route_fn for /sockets; ctx: the shelf. 200 with the page (JSON or
 * HTML, as negotiated), 400 on a bad query, or a negative errno. */
int sockets_route(void *ctx, const struct http_request *req, struct buf *out,
		  const char **content_type);

#endif
