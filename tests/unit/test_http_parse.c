#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "exporter/http/http.h"
#include "http_client.h"
#include "testing.h"

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* ---- listen address parsing ------------------------------------------ */

struct addr_case {
	const char *in;
	int family;	  /* 0: must be rejected */
	const char *host; /* numeric form expected */
	unsigned port;
};

static const struct addr_case addr_cases[] = {
    {":19100", AF_INET6, "::", 19100},
    {":1", AF_INET6, "::", 1},
    {":65535", AF_INET6, "::", 65535},
    {":00080", AF_INET6, "::", 80},
    {"0.0.0.0:9100", AF_INET, "0.0.0.0", 9100},
    {"127.0.0.1:19100", AF_INET, "127.0.0.1", 19100},
    {"10.1.2.3:443", AF_INET, "10.1.2.3", 443},
    {"localhost:19100", AF_INET, "127.0.0.1", 19100},
    {"LOCALHOST:8080", AF_INET, "127.0.0.1", 8080},
    {"[::1]:19100", AF_INET6, "::1", 19100},
    {"[::]:80", AF_INET6, "::", 80},
    {"[fe80::1]:80", AF_INET6, "fe80::1", 80},
    {"[::ffff:127.0.0.1]:80", AF_INET6, "::ffff:127.0.0.1", 80},
    /* bad ports */
    {":0", 0, NULL, 0},
    {":65536", 0, NULL, 0},
    {":99999", 0, NULL, 0},
    {":100000", 0, NULL, 0},
    {":000001", 0, NULL, 0},
    {":", 0, NULL, 0},
    {"127.0.0.1:", 0, NULL, 0},
    {":-1", 0, NULL, 0},
    {":+80", 0, NULL, 0},
    {": 80", 0, NULL, 0},
    {":80 ", 0, NULL, 0},
    {":8o", 0, NULL, 0},
    {":0x50", 0, NULL, 0},
    {"[::1]:0", 0, NULL, 0},
    {"localhost:65536", 0, NULL, 0},
    /* bad shapes and hosts */
    {"", 0, NULL, 0},
    {"19100", 0, NULL, 0},
    {"127.0.0.1", 0, NULL, 0},
    {"::1:19100", 0, NULL, 0},
    {"[::1]", 0, NULL, 0},
    {"[::1]19100", 0, NULL, 0},
    {"[::1:19100", 0, NULL, 0},
    {"[]:80", 0, NULL, 0},
    {"[127.0.0.1]:80", 0, NULL, 0},
    {"[fe80::1%eth0]:80", 0, NULL, 0},
    {"[::1]:80:80", 0, NULL, 0},
    {"127.0.0.1:80:80", 0, NULL, 0},
    {"example.com:80", 0, NULL, 0},
    {"256.1.1.1:80", 0, NULL, 0},
    {"1.2.3:80", 0, NULL, 0},
    {" :80", 0, NULL, 0},
    {"localhost :80", 0, NULL, 0},
    {"0.0.0.0.0:80", 0, NULL, 0},
    {"[0123456789abcdef0123456789abcdef0123456789abcdef]:80", 0, NULL, 0},
    /* what getaddrinfo alone would take (inet_aton forms, scope ids,
     * strtoul ports) */
    {"0x7f.1:80", 0, NULL, 0},
    {"127.1:80", 0, NULL, 0},
    {"010.1.2.3:80", 0, NULL, 0},
    {"[fe80::1%1]:80", 0, NULL, 0},
    {"[::1]:+80", 0, NULL, 0},
    {"[::1]: 80", 0, NULL, 0},
    {"127.0.0.1:65536", 0, NULL, 0},
};

DEF_TEST(parse_listen_address)
{
	size_t i;

	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct sockaddr_storage ss;
		char host[INET6_ADDRSTRLEN];
		unsigned len = 0;
		int ret;

		memset(&ss, 0xa5, sizeof(ss));
		ret = http_parse_listen_address(c->in, &ss, &len);
		if (!c->family) {
			if (ret != -EINVAL)
				printf("accepted \"%s\"\n", c->in);
			CHECK_EQ_INT(-EINVAL, ret);
			continue;
		}
		if (ret != 0)
			printf("rejected \"%s\"\n", c->in);
		CHECK_EQ_INT(0, ret);
		CHECK_EQ_INT(c->family, ss.ss_family);
		if (c->family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

			CHECK_EQ_UINT(sizeof(*sin), len);
			CHECK_EQ_UINT(c->port, ntohs(sin->sin_port));
			CHECK(inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)));
		} else {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

			CHECK_EQ_UINT(sizeof(*sin6), len);
			CHECK_EQ_UINT(c->port, ntohs(sin6->sin6_port));
			CHECK_EQ_UINT(0, sin6->sin6_flowinfo);
			CHECK_EQ_UINT(0, sin6->sin6_scope_id);
			CHECK(inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)));
		}
		CHECK_EQ_STR(c->host, host);
	}
	return 0;
}

DEF_TEST(parse_listen_address_null)
{
	struct sockaddr_storage ss;
	unsigned len;

	CHECK_EQ_INT(-EINVAL, http_parse_listen_address(NULL, &ss, &len));
	CHECK_EQ_INT(-EINVAL, http_parse_listen_address(":80", NULL, &len));
	CHECK_EQ_INT(-EINVAL, http_parse_listen_address(":80", &ss, NULL));
	return 0;
}

/* ---- a raw HTTP client ----------------------------------------------- */

/* Send raw to 127.0.0.1:port and read until the server closes; with
 * half_close, shut our side after sending, so an incomplete request ends
 * now instead of at the server's idle timeout. 0 or -1. */
static int http_raw_ex(uint16_t port, const char *raw, int half_close, struct reply *r)
{
	struct buf in;
	char chunk[4096];
	int fd, ret = -1;
	ssize_t n;

	buf_init(&in);
	buf_init(&r->body);
	r->status = 0;
	r->head[0] = '\0';
	fd = http_connect(port);
	if (fd < 0)
		return -1;
	if (send(fd, raw, strlen(raw), MSG_NOSIGNAL) != (ssize_t)strlen(raw))
		goto out;
	if (half_close)
		shutdown(fd, SHUT_WR);
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		buf_append(&in, chunk, (size_t)n);
	if (n < 0 && errno != ECONNRESET)
		goto out;
	if (reply_parse(&in, r) < 0 || buf_error(&r->body))
		goto out;
	ret = 0;
out:
	close(fd);
	buf_free(&in);
	return ret;
}

static int http_raw(uint16_t port, const char *raw, struct reply *r)
{
	return http_raw_ex(port, raw, 0, r);
}

static int http_get(uint16_t port, const char *method, const char *path, const char *extra,
		    struct reply *r)
{
	char req[2048];

	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n", method, path,
		 extra ? extra : "");
	return http_raw(port, req, r);
}

static const char *body_str(struct reply *r)
{
	return r->body.data ? r->body.data : "";
}

static int gunzip(const struct buf *in, struct buf *out)
{
	unsigned char chunk[16384];
	z_stream zs;
	int zret, ret = -1;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)in->data;
	zs.avail_in = (uInt)in->len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zret = inflate(&zs, Z_NO_FLUSH);
		if (zret != Z_OK && zret != Z_STREAM_END)
			goto out;
		buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
	} while (zret != Z_STREAM_END);
	/* Exactly one member, nothing after it. */
	ret = zs.avail_in == 0 && buf_error(out) == 0 ? 0 : -1;
out:
	inflateEnd(&zs);
	return ret;
}

/* ---- server ------------------------------------------------------------ */

static struct http_server *srv;
static uint16_t port;
static char listen_addr[32];

/* The status of a bodiless method path request to the test server, or
 * -1 when no HTTP reply came. */
static int status_of(const char *method, const char *path)
{
	struct reply r;
	int status;

	buf_init(&r.body); /* freed below even when the request fails early */
	status = http_get(port, method, path, NULL, &r) == 0 ? r.status : -1;
	buf_free(&r.body);
	return status;
}

static const char body1[] = "# HELP a_metric A metric.\n# TYPE a_metric gauge\na_metric 1\n";

/* On a port the kernel picked (http_client.h): a fixed one failed when
 * test runs overlapped. start_errors checks the bind error's message. */
static int start_server(void)
{
	struct http_options opt = {
	    .telemetry_path = "/metrics",
	    .version = "1.2.3<b>",
	    .max_connections = 0,
	};
	char err[256] = "no free port";
	int holder, ret = -EADDRINUSE;

	port = http_hold_free_port(0, &holder);
	if (port) {
		snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%u", port);
		opt.listen_address = listen_addr;
		ret = http_server_start(&opt, &srv, err, sizeof(err));
		close(holder);
	}
	if (ret)
		printf("start: %s\n", err);
	return ret;
}

DEF_TEST(before_publish)
{
	struct reply r;
	char v[256];

	CHECK_EQ_INT(0, start_server());
	CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", NULL, &r));
	CHECK_EQ_INT(503, r.status);
	CHECK_EQ_STR("no collection yet", body_str(&r));
	buf_free(&r.body);

	CHECK_EQ_INT(503, status_of("GET", "/-/ready"));

	CHECK_EQ_INT(0, http_get(port, "GET", "/-/healthy", NULL, &r));
	CHECK_EQ_INT(200, r.status);
	CHECK_EQ_STR("OK", body_str(&r));
	buf_free(&r.body);

	CHECK_EQ_INT(0, http_get(port, "GET", "/", NULL, &r));
	CHECK_EQ_INT(200, r.status);
	CHECK(header(&r, "Content-Type", v, sizeof(v)));
	CHECK_EQ_STR("text/html; charset=utf-8", v);
	CHECK_CONTAINS("<title>halfopen_exporter</title>", body_str(&r));
	CHECK_CONTAINS("1.2.3&lt;b&gt;", body_str(&r));
	CHECK_CONTAINS("<a href=\"/metrics\">", body_str(&r));
	buf_free(&r.body);
	return 0;
}

DEF_TEST(not_found_and_methods)
{
	static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get"};
	struct reply r;
	char v[256];
	size_t i;

	CHECK_EQ_INT(404, status_of("GET", "/nope"));
	CHECK_EQ_INT(404, status_of("GET", "/metrics/"));
	/* The query string is not part of the path. */
	CHECK_EQ_INT(200, status_of("GET", "/-/healthy?x=1"));

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		CHECK_EQ_INT(0, http_get(port, methods[i], "/metrics", NULL, &r));
		CHECK_EQ_INT(405, r.status);
		CHECK(header(&r, "Allow", v, sizeof(v)));
		CHECK_EQ_STR("GET, HEAD", v);
		buf_free(&r.body);
	}
	/* No request here takes a body: refused before anything else, so a
	 * slot never waits for one. */
	CHECK_EQ_INT(0, http_raw(port,
				 "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
				 "Connection: close\r\n\r\nhello",
				 &r));
	CHECK_EQ_INT(413, r.status);
	buf_free(&r.body);
	return 0;
}

DEF_TEST(odd_requests)
{
	static const char *const odd[] = {
	    "GARBAGE\r\n\r\n",
	    "GET\r\n\r\n",
	    "GET /metrics HTTP/9.9\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nNo-Colon-Header\r\n\r\n",
	    "\r\n\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	};
	struct reply r;
	struct buf big;
	size_t i;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		http_raw_ex(port, odd[i], 1, &r);
		buf_free(&r.body);
	}
	/* Headers beyond the connection memory limit. */
	buf_init(&big);
	buf_puts(&big, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
	for (i = 0; i < 100000; i++)
		buf_putc(&big, 'a');
	buf_puts(&big, "\r\nConnection: close\r\n\r\n");
	CHECK_EQ_INT(0, buf_error(&big));
	if (http_raw(port, big.data, &r) == 0)
		CHECK(r.status >= 400);
	buf_free(&r.body);
	buf_free(&big);

	/* Still serving. */
	CHECK_EQ_INT(200, status_of("GET", "/-/healthy"));
	return 0;
}

DEF_TEST(publish_and_serve)
{
	struct reply r;
	char v[256];

	CHECK_EQ_INT(0, http_server_publish(srv, body1, strlen(body1)));

	CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", NULL, &r));
	CHECK_EQ_INT(200, r.status);
	CHECK(header(&r, "Content-Type", v, sizeof(v)));
	CHECK_EQ_STR(CT_METRICS, v);
	CHECK(header(&r, "Vary", v, sizeof(v)));
	CHECK_EQ_STR("Accept-Encoding", v);
	CHECK(header(&r, "Content-Encoding", v, sizeof(v)) == NULL);
	CHECK_EQ_STR(body1, body_str(&r));
	buf_free(&r.body);

	CHECK_EQ_INT(0, http_get(port, "GET", "/-/ready", NULL, &r));
	CHECK_EQ_INT(200, r.status);
	CHECK_EQ_STR("OK", body_str(&r));
	buf_free(&r.body);
	return 0;
}

DEF_TEST(gzip)
{
	struct reply r;
	struct buf plain;
	char v[256];

	CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", "Accept-Encoding: gzip\r\n", &r));
	CHECK_EQ_INT(200, r.status);
	CHECK(header(&r, "Content-Encoding", v, sizeof(v)));
	CHECK_EQ_STR("gzip", v);
	CHECK(header(&r, "Content-Type", v, sizeof(v)));
	CHECK_EQ_STR(CT_METRICS, v);
	CHECK(header(&r, "Vary", v, sizeof(v)));
	CHECK_EQ_STR("Accept-Encoding", v);
	CHECK(r.body.len > 2 && (unsigned char)r.body.data[0] == 0x1f &&
	      (unsigned char)r.body.data[1] == 0x8b);
	buf_init(&plain);
	CHECK_EQ_INT(0, gunzip(&r.body, &plain));
	CHECK_EQ_STR(body1, plain.data);
	buf_free(&plain);
	buf_free(&r.body);
	return 0;
}

struct ae_case {
	const char *headers;
	int gzip;
};

static const struct ae_case ae_cases[] = {
    {"Accept-Encoding: gzip\r\n", 1},
    {"Accept-Encoding: GZIP\r\n", 1},
    {"accept-encoding: gzip\r\n", 1},
    {"Accept-Encoding: x-gzip\r\n", 1},
    {"Accept-Encoding: deflate, gzip;q=0.5, br\r\n", 1},
    {"Accept-Encoding: gzip;q=1.0\r\n", 1},
    {"Accept-Encoding: gzip; q=0.001\r\n", 1},
    {"Accept-Encoding: gzip;Q=0.1\r\n", 1},
    {"Accept-Encoding:   gzip  ,  identity\r\n", 1},
    {"Accept-Encoding: *\r\n", 1},
    {"Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n", 1},
    {"Accept-Encoding: gzip;q=0, gzip\r\n", 1},
    {"", 0},
    {"Accept-Encoding: \r\n", 0},
    {"Accept-Encoding: identity\r\n", 0},
    {"Accept-Encoding: deflate, br\r\n", 0},
    {"Accept-Encoding: gzip;q=0\r\n", 0},
    {"Accept-Encoding: gzip;q=0.0\r\n", 0},
    {"Accept-Encoding: gzip;q=0.000\r\n", 0},
    {"Accept-Encoding: gzip ; q = 0\r\n", 0},
    {"Accept-Encoding: *;q=0\r\n", 0},
    {"Accept-Encoding: gzip;q=0, *\r\n", 0},
    {"Accept-Encoding: gzipx\r\n", 0},
    {"Accept-Encoding: xgzip\r\n", 0},
    {"Accept-Encoding: gzip;q=abc\r\n", 0},
    {"Accept-Encoding: gzip;q=2\r\n", 0},
    {"Accept-Encoding: gzip;q\r\n", 0},
    {"Accept-Encoding: gzip x\r\n", 0},
    {"Accept-Encoding: ;;;,,=,;q=1\r\n", 0},
    {"Accept-Encoding: ,,,gzip,,,\r\n", 1},
    {"Accept-Encoding: br;level=\"1\", gzip\r\n", 1},
};

DEF_TEST(accept_encoding)
{
	size_t i;

	for (i = 0; i < sizeof(ae_cases) / sizeof(ae_cases[0]); i++) {
		struct reply r;
		char v[64];
		int got;

		CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", ae_cases[i].headers, &r));
		CHECK_EQ_INT(200, r.status);
		got = header(&r, "Content-Encoding", v, sizeof(v)) != NULL;
		if (got != ae_cases[i].gzip)
			printf("Accept-Encoding case %zu: %s", i, ae_cases[i].headers);
		CHECK_EQ_INT(ae_cases[i].gzip, got);
		buf_free(&r.body);
	}
	return 0;
}

DEF_TEST(head)
{
	struct reply r;
	char v[256], want[32];

	CHECK_EQ_INT(0, http_get(port, "HEAD", "/metrics", NULL, &r));
	CHECK_EQ_INT(200, r.status);
	CHECK(header(&r, "Content-Type", v, sizeof(v)));
	CHECK_EQ_STR(CT_METRICS, v);
	CHECK(header(&r, "Vary", v, sizeof(v)));
	CHECK(header(&r, "Content-Length", v, sizeof(v)));
	snprintf(want, sizeof(want), "%zu", strlen(body1));
	CHECK_EQ_STR(want, v);
	CHECK_EQ_UINT(0, r.body.len);
	buf_free(&r.body);

	CHECK_EQ_INT(0, http_get(port, "HEAD", "/metrics", "Accept-Encoding: gzip\r\n", &r));
	CHECK_EQ_INT(200, r.status);
	CHECK(header(&r, "Content-Encoding", v, sizeof(v)));
	CHECK_EQ_UINT(0, r.body.len);
	buf_free(&r.body);

	CHECK_EQ_INT(0, http_get(port, "HEAD", "/nope", NULL, &r));
	CHECK_EQ_INT(404, r.status);
	CHECK_EQ_UINT(0, r.body.len);
	buf_free(&r.body);
	return 0;
}

DEF_TEST(republish_large)
{
	struct buf big, plain;
	struct reply r;
	size_t i;

	buf_init(&big);
	buf_puts(&big, "# HELP big A big family.\n# TYPE big gauge\n");
	for (i = 0; i < 20000; i++)
		buf_printf(&big, "big{i=\"%zu\"} %zu\n", i, i * 7);
	CHECK_EQ_INT(0, buf_error(&big));
	CHECK_EQ_INT(0, http_server_publish(srv, big.data, big.len));

	CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", NULL, &r));
	CHECK_EQ_INT(200, r.status);
	CHECK_EQ_UINT(big.len, r.body.len);
	CHECK(memcmp(big.data, r.body.data, big.len) == 0);
	buf_free(&r.body);

	CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", "Accept-Encoding: gzip\r\n", &r));
	CHECK_EQ_INT(200, r.status);
	CHECK(r.body.len < big.len / 3);
	buf_init(&plain);
	CHECK_EQ_INT(0, gunzip(&r.body, &plain));
	CHECK_EQ_UINT(big.len, plain.len);
	CHECK(memcmp(big.data, plain.data, big.len) == 0);
	buf_free(&plain);
	buf_free(&r.body);

	/* An empty body is a legal publish. */
	CHECK_EQ_INT(0, http_server_publish(srv, "", 0));
	CHECK_EQ_INT(0, http_get(port, "GET", "/metrics", "Accept-Encoding: gzip\r\n", &r));
	CHECK_EQ_INT(200, r.status);
	buf_init(&plain);
	CHECK_EQ_INT(0, gunzip(&r.body, &plain));
	CHECK_EQ_UINT(0, plain.len);
	buf_free(&plain);
	buf_free(&r.body);
	buf_free(&big);
	return 0;
}

/* Two requests on one kept-alive connection get two answers. */
DEF_TEST(keep_alive)
{
	struct reply r;
	const char *second;

	CHECK_EQ_INT(0, http_raw(port,
				 "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
				 "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
				 &r));
	CHECK_EQ_INT(200, r.status);
	second = strstr(body_str(&r), "HTTP/1.1 200 OK\r\n");
	CHECK(second != NULL);
	CHECK_CONTAINS("Content-Type: " CT_METRICS "\r\n", second);
	buf_free(&r.body);
	return 0;
}

/* ":port" listens on every address, IPv4 included (dual-stack, or IPv4
 * only where the host has no IPv6). */
DEF_TEST(any_address)
{
	struct http_options opt = {.telemetry_path = "/metrics", .version = "x"};
	struct http_server *s2 = NULL;
	char addr[16], err[256] = "no free port";
	struct reply r;
	int holder, ret = -EADDRINUSE;
	uint16_t p2 = http_hold_free_port(1, &holder);

	snprintf(addr, sizeof(addr), ":%u", p2);
	if (p2) {
		opt.listen_address = addr;
		ret = http_server_start(&opt, &s2, err, sizeof(err));
		close(holder);
	}
	if (ret)
		printf("start %s: %s\n", addr, err);
	CHECK_EQ_INT(0, ret);
	ret = http_get(p2, "GET", "/-/healthy", NULL, &r);
	http_server_stop(s2);
	CHECK_EQ_INT(0, ret);
	CHECK_EQ_INT(200, r.status);
	buf_free(&r.body);
	return 0;
}

/* A client that sends half a request and stalls must not delay a scrape. */
DEF_TEST(slow_client)
{
	struct sockaddr_in sin;
	struct timeval t0, t1;
	struct reply r;
	int fd, ret;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	if (ret == 0)
		ret = send(fd, "GET /metr", 9, MSG_NOSIGNAL) == 9 ? 0 : -1;
	gettimeofday(&t0, NULL);
	if (ret == 0)
		ret = http_get(port, "GET", "/metrics", NULL, &r);
	gettimeofday(&t1, NULL);
	close(fd);
	CHECK_EQ_INT(0, ret);
	CHECK_EQ_INT(200, r.status);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_usec - t0.tv_usec) < 2000000);
	buf_free(&r.body);
	return 0;
}

static const char body_a[] = "# HELP a A.\n# TYPE a gauge\na 1\n";
static const char body_b[] = "# HELP b B.\n# TYPE b gauge\nb 2\nb2 3\n";
static atomic_int publisher_stop;

static void *publisher(void *arg)
{
	long i;

	(void)arg;
	for (i = 0; !publisher_stop; i++) {
		const char *b = (i & 1) ? body_a : body_b;

		if (http_server_publish(srv, b, strlen(b)))
			return (void *)1;
		/* Under valgrind a tight loop would starve the server threads. */
		usleep(100);
	}
	return NULL;
}

/* Publishes racing scrapes: every reply is one whole body, never a mix
 * or a freed one. */
DEF_TEST(concurrent_publish)
{
	pthread_t th;
	int i, ret = 0;

	/* The previous test left an empty body. */
	CHECK_EQ_INT(0, http_server_publish(srv, body_a, strlen(body_a)));
	publisher_stop = 0;
	CHECK_EQ_INT(0, pthread_create(&th, NULL, publisher, NULL));
	for (i = 0; i < 200 && ret == 0; i++) {
		struct reply r;

		ret = http_get(port, "GET", "/metrics",
			       (i & 1) ? "Accept-Encoding: gzip\r\n" : NULL, &r);
		if (ret == 0 && (i & 1)) {
			struct buf plain;

			buf_init(&plain);
			ret = gunzip(&r.body, &plain);
			buf_free(&r.body);
			r.body = plain;
		}
		if (ret == 0 && (r.status != 200 || (strcmp(body_str(&r), body_a) != 0 &&
						     strcmp(body_str(&r), body_b) != 0)))
			ret = -1;
		if (ret)
			printf("request %d: status %d, %zu bytes\n", i, r.status, r.body.len);
		buf_free(&r.body);
	}
	publisher_stop = 1;
	CHECK_EQ_INT(0, pthread_join(th, NULL));
	CHECK_EQ_INT(0, ret);
	return 0;
}

DEF_TEST(start_errors)
{
	struct http_options opt = {.telemetry_path = "/metrics", .version = "x"};
	struct http_server *s2 = NULL;
	char err[256];

	opt.listen_address = listen_addr;
	CHECK_EQ_INT(-EADDRINUSE, http_server_start(&opt, &s2, err, sizeof(err)));
	CHECK(s2 == NULL);
	{
		char want[128];

		snprintf(want, sizeof(want), "bind %s: Address already in use", listen_addr);
		CHECK_EQ_STR(want, err);
	}
	opt.listen_address = "example.com:80";
	CHECK_EQ_INT(-EINVAL, http_server_start(&opt, &s2, err, sizeof(err)));
	CHECK_CONTAINS("example.com:80", err);
	opt.listen_address = ":0";
	CHECK_EQ_INT(-EINVAL, http_server_start(&opt, &s2, NULL, 0));
	opt.listen_address = listen_addr;
	opt.telemetry_path = "metrics";
	CHECK_EQ_INT(-EINVAL, http_server_start(&opt, &s2, err, sizeof(err)));
	CHECK(s2 == NULL);
	http_server_stop(NULL);
	return 0;
}

DEF_TEST(stop)
{
	struct reply r;

	http_server_stop(srv);
	srv = NULL;
	/* The port is free again. */
	CHECK(http_get(port, "GET", "/metrics", NULL, &r) != 0);
	buf_free(&r.body);
	CHECK_EQ_INT(0, start_server());
	http_server_stop(srv);
	srv = NULL;
	return 0;
}

int main(void)
{
	RUN_TEST(parse_listen_address);
	RUN_TEST(parse_listen_address_null);
	RUN_TEST(before_publish);
	if (!srv)
		END_TEST;
	RUN_TEST(not_found_and_methods);
	RUN_TEST(odd_requests);
	RUN_TEST(publish_and_serve);
	RUN_TEST(gzip);
	RUN_TEST(accept_encoding);
	RUN_TEST(head);
	RUN_TEST(republish_large);
	RUN_TEST(keep_alive);
	RUN_TEST(any_address);
	RUN_TEST(slow_client);
	RUN_TEST(concurrent_publish);
	RUN_TEST(start_errors);
	RUN_TEST(stop);
	http_server_stop(srv);
	END_TEST;
}
