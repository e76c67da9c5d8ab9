#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>

#include "common/buf.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define CONTENT_TYPE_HTML    "text/html; charset=utf-8"

#define DEFAULT_TELEMETRY_PATH	"/metrics"
#define DEFAULT_MAX_CONNECTIONS 64u
/* Two workers, so one connection that keeps a worker busy (a large
 * send to a slow reader) does not delay every scrape; handlers only take
 * a reference to a prebuilt response, so more would buy nothing. */
#define THREAD_POOL_SIZE     2u
#define CONNECTION_TIMEOUT_S 10u
/* Request line plus headers must fit; MHD answers 431/414 beyond. */
#define CONNECTION_MEMORY_LIMIT ((size_t)32 * 1024)
/* Compressed once per publish and served many times: a mid level pays. */
#define GZIP_LEVEL     6
#define LISTEN_BACKLOG 128

/* The responses that never change, built once at start. */
enum fixed_response {
	R_LANDING,
	R_HEALTHY,
	R_READY,
	R_NOT_READY,
	R_NO_COLLECTION,
	R_NOT_FOUND,
	R_BAD_METHOD,
	R_COUNT,
};

struct http_server {
	struct MHD_Daemon *daemon;
	char *telemetry_path;
	struct MHD_Response *fixed[R_COUNT];
	int lock_ok;
	/* Guards plain and gzip. Handlers queue the current response while
	 * holding it, so MHD's own reference is taken before a concurrent
	 * publish can drop ours. */
	pthread_mutex_t lock;
	struct MHD_Response *plain; /* NULL until the first publish */
	struct MHD_Response *gzip;
};

/* ---- listen address ------------------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i >= 5 || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* Contract: "host:port" where host is empty (all addresses: the IPv6
 * wildcard, which the server makes dual-stack), "localhost"
 * (127.0.0.1), a numeric IPv4 address, or a bracketed numeric IPv6
 * address. No name resolution, so it stays pure. Port 1..65535, digits
 * only. 0 or -EINVAL; *ss is written only on success. */
int http_parse_listen_address(const char *addr, struct sockaddr_storage *ss, unsigned *sslen)
{
	char host[INET6_ADDRSTRLEN];
	const char *hs, *he, *colon;
	struct sockaddr_storage tmp;
	struct sockaddr_in *sin = (struct sockaddr_in *)&tmp;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp;
	uint16_t port;
	size_t hlen;
	int bracketed = 0;

	if (!addr || !ss || !sslen)
		return -EINVAL;
	if (addr[0] == '[') {
		he = strchr(addr, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		hs = addr + 1;
		colon = he + 1;
		bracketed = 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hs = addr;
		he = colon;
		/* An unbracketed IPv6 address is ambiguous with its port. */
		if (memchr(hs, ':', (size_t)(he - hs)))
			return -EINVAL;
	}
	if (parse_port(colon + 1, &port))
		return -EINVAL;
	hlen = (size_t)(he - hs);
	if (hlen >= sizeof(host) || (bracketed && hlen == 0))
		return -EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';

	memset(&tmp, 0, sizeof(tmp));
	if (bracketed || hlen == 0) {
		/* The zeroed address is already in6addr_any. */
		if (bracketed && inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(struct sockaddr_in6);
	} else {
		if (strcasecmp(host, "localhost") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(struct sockaddr_in);
	}
	*ss = tmp;
	return 0;
}

/* ---- listening socket ----------------------------------------------- */

/* Contract: a bound, listening, non-blocking socket for ss. We bind it
 * ourselves (not MHD) to report the real errno. On failure *op names
 * the failing step for the error message. fd or -errno. */
static int open_listener(const struct sockaddr_storage *ss, unsigned sslen, const char **op)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	int one = 1, zero = 0, fd, ret;

	*op = "socket";
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*op = "setsockopt SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* Best effort: without v4-mapped support the wildcard still serves
	 * IPv6, which beats refusing to start. */
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	*op = "bind";
	if (bind(fd, (const struct sockaddr *)ss, sslen) < 0)
		goto fail;
	*op = "listen";
	if (listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* ":port" means every address: IPv6 dual-stack where the host has IPv6,
 * else IPv4 only. */
static int open_listener_any(const char *listen_addr, struct sockaddr_storage *ss, unsigned sslen,
			     const char **op)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	uint16_t port = ((struct sockaddr_in6 *)ss)->sin6_port;
	int fd = open_listener(ss, sslen, op);

	if (listen_addr[0] != ':' || fd >= 0)
		return fd;
	if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
		return fd;
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = port;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	return open_listener(ss, sizeof(*sin), op);
}

/* Whether fd still is the socket with inode ino. MHD closes a listen
 * socket it was handed on some start failures and not on others; a
 * descriptor number reused by another thread has a different inode. */
static int still_our_socket(int fd, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}

/* ---- responses ------------------------------------------------------ */

static struct MHD_Response *make_response(const void *data, size_t len, const char *ctype,
					  enum MHD_ResponseMemoryMode mode)
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
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static struct MHD_Response *static_text(const char *body, const char *ctype)
{
	return make_response(body, strlen(body), ctype, MHD_RESPMEM_PERSISTENT);
}

/* The body of one publish, plain or gzip-encoded. Both carry Vary so
 * caches never hand a gzip body to a client that did not ask for it. */
static struct MHD_Response *body_response(const void *data, size_t len, int gzip)
{
	struct MHD_Response *r;

	r = make_response(data, len, CONTENT_TYPE_METRICS, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return NULL;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING) !=
		MHD_YES ||
	    (gzip &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") != MHD_YES)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static void html_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		default:
			buf_putc(b, *s);
		}
	}
}

static struct MHD_Response *landing_page(const char *version, const char *path)
{
	struct MHD_Response *r = NULL;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\">"
		     "<title>halfopen_exporter</title></head>\n<body>\n"
		     "<h1>halfopen_exporter</h1>\n<p>Version: ");
	html_escaped(&b, version);
	buf_puts(&b, "</p>\n<p><a href=\"");
	html_escaped(&b, path);
	buf_puts(&b, "\">Metrics</a></p>\n</body>\n</html>\n");
	if (buf_error(&b) == 0)
		r = make_response(b.data, b.len, CONTENT_TYPE_HTML, MHD_RESPMEM_MUST_COPY);
	buf_free(&b);
	return r;
}

static int build_fixed_responses(struct http_server *srv, const char *version)
{
	struct MHD_Response **f = srv->fixed;
	int i;

	f[R_LANDING] = landing_page(version, srv->telemetry_path);
	f[R_HEALTHY] = static_text("OK", CONTENT_TYPE_TEXT);
	f[R_READY] = static_text("OK", CONTENT_TYPE_TEXT);
	f[R_NOT_READY] = static_text("not ready: no collection yet", CONTENT_TYPE_TEXT);
	f[R_NO_COLLECTION] = static_text("no collection yet", CONTENT_TYPE_TEXT);
	f[R_NOT_FOUND] = static_text("404 page not found", CONTENT_TYPE_TEXT);
	f[R_BAD_METHOD] = static_text("method not allowed", CONTENT_TYPE_TEXT);
	for (i = 0; i < R_COUNT; i++)
		if (!f[i])
			return -ENOMEM;
	if (MHD_add_response_header(f[R_BAD_METHOD], MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
		return -ENOMEM;
	return 0;
}

/* ---- gzip ----------------------------------------------------------- */

/* Contract: the gzip member (RFC 1952) of len bytes of data into a new
 * malloc()ed buffer. 0, -ENOMEM, or -EFBIG past zlib's 32-bit lengths. */
static int gzip_compress(const char *data, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *dst = NULL;
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
	dst = malloc(bound);
	if (!dst) {
		ret = -ENOMEM;
		goto out;
	}
	zs.next_in = (const Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = dst;
	zs.avail_out = (uInt)bound;
	zret = deflate(&zs, Z_FINISH);
	if (zret != Z_STREAM_END) {
		ret = -ENOMEM;
		goto out;
	}
	*out = dst;
	*outlen = zs.total_out;
	dst = NULL;
	ret = 0;
out:
	free(dst);
	deflateEnd(&zs);
	return ret;
}

/* ---- Accept-Encoding ------------------------------------------------ */

struct accept_gzip {
	int gzip; /* -1 unmentioned, 0 refused (q=0), 1 accepted */
	int star; /* same for "*" */
};

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *token_end(const char *p)
{
	while (*p && *p != ',' && *p != ';' && *p != '=' && *p != ' ' && *p != '\t')
		p++;
	return p;
}

/* RFC 9110 qvalue: "0", "0.xyz", "1", "1.000". Anything else is treated
 * as a refusal: serving plain text is always safe. 1 when q > 0. */
static int qvalue_positive(const char *s, size_t n)
{
	size_t i;
	int nonzero = 0;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return 0;
	if (n > 1 && (s[1] != '.' || n > 5))
		return 0;
	for (i = 2; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		if (s[i] != '0')
			nonzero = 1;
	}
	if (s[0] == '1')
		return !nonzero;
	return nonzero;
}

/* Contract: fold one Accept-Encoding field value into st. Elements are
 * "coding *( OWS ; OWS param )" separated by commas; only the q param
 * matters. Garbage elements are skipped up to the next comma. */
static void parse_accept_encoding(const char *v, struct accept_gzip *st)
{
	const char *p = v;

	while (*p) {
		const char *tok, *tend;
		int q = 1;

		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		tok = p;
		tend = token_end(p);
		p = skip_ows(tend);
		while (*p == ';') {
			const char *name, *nend, *val = NULL, *vend = NULL;

			p = skip_ows(p + 1);
			name = p;
			nend = token_end(p);
			p = skip_ows(nend);
			if (*p == '=') {
				p = skip_ows(p + 1);
				val = p;
				vend = token_end(p);
				p = skip_ows(vend);
			}
			if (nend - name == 1 && (*name == 'q' || *name == 'Q'))
				q = val ? qvalue_positive(val, (size_t)(vend - val)) : 0;
		}
		if (*p != ',' && *p != '\0') {
			/* Malformed element: ignore it entirely. */
			while (*p && *p != ',')
				p++;
			continue;
		}
		if ((tend - tok == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
		    (tend - tok == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
			st->gzip = st->gzip > q ? st->gzip : q;
		else if (tend - tok == 1 && *tok == '*')
			st->star = st->star > q ? st->star : q;
	}
}

static enum MHD_Result accept_encoding_header(void *cls, enum MHD_ValueKind kind, const char *key,
					      const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, MHD_HTTP_HEADER_ACCEPT_ENCODING) == 0)
		parse_accept_encoding(value, cls);
	return MHD_YES;
}

/* Every Accept-Encoding line counts (a client may split the list). */
static int wants_gzip(struct MHD_Connection *conn)
{
	struct accept_gzip st = {-1, -1};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, accept_encoding_header, &st);
	if (st.gzip >= 0)
		return st.gzip;
	return st.star > 0;
}

/* ---- request handling ----------------------------------------------- */

static enum MHD_Result serve_metrics(struct http_server *srv, struct MHD_Connection *conn)
{
	int gzip = wants_gzip(conn);
	struct MHD_Response *r;
	enum MHD_Result ret = MHD_NO;

	pthread_mutex_lock(&srv->lock);
	r = gzip && srv->gzip ? srv->gzip : srv->plain;
	if (r)
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	pthread_mutex_unlock(&srv->lock);
	if (!r)
		ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					 srv->fixed[R_NO_COLLECTION]);
	return ret;
}

/* Contract (MHD access handler): GET and HEAD are answered on the
 * second call, once MHD has the whole request: MHD 0.9.75 closes the
 * connection after a response queued on the first call, which would
 * defeat keep-alive between scrapes. A body sent with them is drained
 * and ignored. Other methods get 405 at once (and the connection is
 * closed, so their body is never read). No per-request state is
 * allocated: *con_cls only marks the first call. HEAD gets GET's
 * headers; MHD drops the body itself. */
static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct http_server *srv = cls;
	int ready;

	(void)version;
	(void)upload_data;
	if (!*con_cls) {
		*con_cls = srv;
		if (!method || (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
				strcmp(method, MHD_HTTP_METHOD_HEAD) != 0))
			return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
						  srv->fixed[R_BAD_METHOD]);
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (!url)
		url = "";
	if (strcmp(url, srv->telemetry_path) == 0)
		return serve_metrics(srv, conn);
	if (strcmp(url, "/") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, srv->fixed[R_LANDING]);
	if (strcmp(url, "/-/healthy") == 0)
		return MHD_queue_response(conn, MHD_HTTP_OK, srv->fixed[R_HEALTHY]);
	if (strcmp(url, "/-/ready") == 0) {
		pthread_mutex_lock(&srv->lock);
		ready = srv->plain != NULL;
		pthread_mutex_unlock(&srv->lock);
		return ready ? MHD_queue_response(conn, MHD_HTTP_OK, srv->fixed[R_READY])
			     : MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						  srv->fixed[R_NOT_READY]);
	}
	return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, srv->fixed[R_NOT_FOUND]);
}

/* ---- lifecycle ------------------------------------------------------ */

static void set_err(char *errmsg, size_t errlen, const char *what, const char *addr, int err)
{
	char eb[128];

	if (!errmsg || errlen == 0)
		return;
	if (err)
		snprintf(errmsg, errlen, "%s %s: %s", what, addr, strerror_r(err, eb, sizeof(eb)));
	else
		snprintf(errmsg, errlen, "%s %s", what, addr);
}

/* Contract: see http.h. The listen socket is created here and handed to
 * MHD, which owns (and closes) it from a successful start on. */
int http_server_start(const struct http_options *opt, struct http_server **out, char *errmsg,
		      size_t errlen)
{
	const char *listen_addr, *path;
	unsigned max_conn;
	struct http_server *srv = NULL;
	struct sockaddr_storage ss;
	const char *op = "";
	unsigned sslen;
	struct stat st;
	int fd = -1, ret;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (!opt || !out)
		return -EINVAL;
	listen_addr = opt->listen_address ? opt->listen_address : HTTP_DEFAULT_LISTEN;
	path = opt->telemetry_path ? opt->telemetry_path : DEFAULT_TELEMETRY_PATH;
	max_conn = opt->max_connections ? opt->max_connections : DEFAULT_MAX_CONNECTIONS;
	if (path[0] != '/') {
		set_err(errmsg, errlen, "telemetry path must start with '/':", path, 0);
		return -EINVAL;
	}
	ret = http_parse_listen_address(listen_addr, &ss, &sslen);
	if (ret) {
		set_err(errmsg, errlen, "invalid listen address", listen_addr, 0);
		return ret;
	}
	/* MHD splits the limit over the workers; each needs at least one. */
	if (max_conn < THREAD_POOL_SIZE)
		max_conn = THREAD_POOL_SIZE;

	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		ret = -ENOMEM;
		goto out;
	}
	ret = -pthread_mutex_init(&srv->lock, NULL);
	if (ret)
		goto out;
	srv->lock_ok = 1;
	srv->telemetry_path = strdup(path);
	if (!srv->telemetry_path) {
		ret = -ENOMEM;
		goto out;
	}
	ret = build_fixed_responses(srv, opt->version ? opt->version : "");
	if (ret)
		goto out;

	fd = open_listener_any(listen_addr, &ss, sslen, &op);
	if (fd < 0) {
		ret = fd;
		set_err(errmsg, errlen, op, listen_addr, -ret);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		set_err(errmsg, errlen, "fstat listen socket", listen_addr, -ret);
		goto out;
	}
	errno = 0;
	srv->daemon = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, handle_request, srv,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned int)THREAD_POOL_SIZE, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)max_conn,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_LIMIT, MHD_OPTION_END);
	if (!srv->daemon) {
		ret = errno ? -errno : -EIO;
		set_err(errmsg, errlen, "start HTTP server on", listen_addr, -ret);
		if (!still_our_socket(fd, st.st_ino))
			fd = -1;
		goto out;
	}
	fd = -1;
	*out = srv;
	srv = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	http_server_stop(srv);
	return ret;
}

/* Contract: see http.h. The swap happens under the lock; the old
 * responses lose only our reference, so requests that already queued
 * them finish sending the old body. */
int http_server_publish(struct http_server *srv, const char *body, size_t len)
{
	struct MHD_Response *plain = NULL, *gzip = NULL, *old;
	unsigned char *z = NULL;
	size_t zlen = 0;
	int ret;

	if (!srv || (!body && len))
		return -EINVAL;
	plain = body_response(body, len, 0);
	if (!plain) {
		ret = -ENOMEM;
		goto out;
	}
	ret = gzip_compress(body, len, &z, &zlen);
	if (ret)
		goto out;
	gzip = body_response(z, zlen, 1);
	if (!gzip) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&srv->lock);
	old = srv->plain;
	srv->plain = plain;
	plain = old;
	old = srv->gzip;
	srv->gzip = gzip;
	gzip = old;
	pthread_mutex_unlock(&srv->lock);
	ret = 0;
out:
	if (plain)
		MHD_destroy_response(plain);
	if (gzip)
		MHD_destroy_response(gzip);
	free(z);
	return ret;
}

void http_server_stop(struct http_server *srv)
{
	int i;

	if (!srv)
		return;
	/* Joins the workers first, so no handler can touch what follows. */
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	for (i = 0; i < R_COUNT; i++)
		if (srv->fixed[i])
			MHD_destroy_response(srv->fixed[i]);
	if (srv->plain)
		MHD_destroy_response(srv->plain);
	if (srv->gzip)
		MHD_destroy_response(srv->gzip);
	if (srv->lock_ok)
		pthread_mutex_destroy(&srv->lock);
	free(srv->telemetry_path);
	free(srv);
}
