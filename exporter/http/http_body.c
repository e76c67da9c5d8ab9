/* The shared body: a reference-counted buffer that libmicrohttpd sends
 * without a copy. Below both of its users, so http_publish.c (which
 * publishes the body) calls http_gzip.c (which compresses it) and neither
 * calls back. */
#include <stdlib.h>

#include "http_internal.h"

/* Contract: room for cap bytes (and a NUL), one reference, len 0. NULL:
 * no memory. */
struct shared_body *http_body_new(size_t cap)
{
	struct shared_body *b = malloc(sizeof(*b) + cap + 1);

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = 0;
	return b;
}

/* Drops a reference; also MHD's free callback of the responses built on
 * it. NULL ok. */
void http_body_unref(void *cls)
{
	struct shared_body *b = cls;

	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}
