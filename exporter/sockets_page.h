/* sockets_page: GET /sockets, the current suspect sockets of a snapshot,
 * as JSON (schema "halfopen.sockets.v1", docs/suspects.md) or, when a
 * browser asks, as a small self-contained HTML table (no scripts, no
 * external assets). Pure: snapshot and query in, bytes out.
 *
 * It reveals peer addresses, so the exporter serves it only with
 * --web.enable-sockets-page, behind the same auth as the metrics. */
#ifndef HALFOPEN_SOCKETS_PAGE_H
#define HALFOPEN_SOCKETS_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "collectors/suspects.h"

struct buf;

#define SOCKETS_PAGE_PATH	   "/sockets"
#define SOCKETS_PAGE_SCHEMA	   "halfopen.sockets.v1"
#define SOCKETS_PAGE_DEFAULT_LIMIT 100
/* Also the number of rows worth keeping in the published snapshot. */
#define SOCKETS_PAGE_MAX_LIMIT 1000

enum sockets_page_format {
	SOCKETS_PAGE_JSON = 0,
	SOCKETS_PAGE_HTML,
};

struct sockets_page_query {
	size_t limit; /* 1..SOCKETS_PAGE_MAX_LIMIT */
	enum sockets_page_format format;
};

/* Read the request: limit and format are the values of the ?limit= and
 * ?format= arguments, accept the Accept header; each may be NULL (absent).
 * limit: decimal 1..; above SOCKETS_PAGE_MAX_LIMIT it is clamped; absent
 * SOCKETS_PAGE_DEFAULT_LIMIT. format: "json" or "html"; absent, HTML when
 * Accept prefers text/html (a browser), else JSON. 0, or -EINVAL with q
 * untouched (answer 400). */
int sockets_page_parse_query(const char *limit, const char *format, const char *accept,
			     struct sockets_page_query *q);
/* Whether an Accept header asks for text/html more than for JSON: the q
 * of an explicit text/html against the most specific range matching
 * application/json; a tie goes to JSON. */
bool sockets_page_accepts_html(const char *accept);
/* "application/json; charset=utf-8" or "text/html; charset=utf-8". */
const char *sockets_page_content_type(enum sockets_page_format f);
/* Append the page for the first q->limit rows of snap. snap may be NULL
 * (no collection yet: an empty list saying so). 0 or -ENOMEM. */
int sockets_page_render(const struct suspect_snapshot *snap, const struct sockets_page_query *q,
			struct buf *out);

#endif
