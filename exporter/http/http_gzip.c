/* gzip: the published body compressed once per publish, and whether a
 * request asked for it (its Accept-Encoding lines; the parser itself is
 * http_negotiate.c). */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#define ZLIB_CONST
#include <zlib.h>

#include "http_internal.h"
#include "http_negotiate.h"

/* Compressed once per publish and served many times: a mid level pays. */
#define GZIP_LEVEL 6

/* Contract: the gzip member (RFC 1952) of len bytes of data into a new
 * shared body. 0, -ENOMEM, or -EFBIG past zlib's 32-bit lengths. */
int http_gzip_body(const char *data, size_t len, struct shared_body **out)
{
	struct shared_body *dst = NULL;
	z_stream zs;
	uLong bound;
	int zret, ret;

	memset(&zs, 0, sizeof(zs));
	if (len > UINT_MAX / 2)
		return -EFBIG;
	zret = deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zret != Z_OK)
		return -ENOMEM;
	/* deflateBound covers the gzip wrapper too, so one Z_FINISH call
	 * always completes. */
	bound = deflateBound(&zs, (uLong)len);
	dst = http_body_new(bound);
	if (!dst) {
		ret = -ENOMEM;
		goto out;
	}
	zs.next_in = (const Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = dst->data;
	zs.avail_out = (uInt)bound;
	zret = deflate(&zs, Z_FINISH);
	if (zret != Z_STREAM_END) {
		ret = -ENOMEM;
		goto out;
	}
	dst->len = zs.total_out;
	*out = dst;
	dst = NULL;
	ret = 0;
out:
	http_body_unref(dst);
	deflateEnd(&zs);
	return ret;
}

static enum MHD_Result accept_encoding_header(void *cls, enum MHD_ValueKind kind, const char *key,
					      const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, MHD_HTTP_HEADER_ACCEPT_ENCODING) == 0)
		http_parse_accept_encoding(value, cls);
	return MHD_YES;
}

/* Contract: whether the request on mc accepts gzip. Every Accept-Encoding
 * line counts (a client may split the list); "*" stands in for an
 * unmentioned gzip. */
int http_wants_gzip(struct MHD_Connection *mc)
{
	struct accept_gzip st = {-1, -1};

	MHD_get_connection_values(mc, MHD_HEADER_KIND, accept_encoding_header, &st);
	if (st.gzip >= 0)
		return st.gzip;
	return st.star > 0;
}
