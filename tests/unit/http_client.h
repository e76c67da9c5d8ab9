/* http_client.h: the raw HTTP/1.1 client of the in-process server tests
 * (test_http_parse.c, test_http_hardening.c): connect to 127.0.0.1, split
 * a whole reply into status, head and body, look up a header. How long
 * each test reads, and what a read error means, stays the test's own. */
#ifndef HALFOPEN_TEST_HTTP_CLIENT_H
#define HALFOPEN_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/buf.h"

struct reply {
	int status;
	char head[8192]; /* status line and headers, CRLF-separated */
	struct buf body;
};

/* A socket connected to 127.0.0.1:port with a 10 s receive timeout, or -1. */
static inline int http_connect(uint16_t port)
{
	struct sockaddr_in sin;
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A port the kernel picked, for an in-process server, so that test runs
 * that overlap never race for a fixed one: *holder keeps it bound (with
 * SO_REUSEADDR, not listening) until the caller's server has bound it
 * too, so neither another process's bind() nor its connect()'s own port
 * takes it meanwhile; then the caller closes *holder. any: the IPv6
 * wildcard, dual-stack (what the server's ":port" binds), or 0.0.0.0
 * where the host has no IPv6; else 127.0.0.1. The port, or 0 (*holder
 * -1) on failure. */
static inline uint16_t http_hold_free_port(int any, int *holder)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int one = 1, zero = 0, fd = -1;

	memset(&ss, 0, sizeof(ss));
	if (any)
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		len = sizeof(*sin6);
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
		len = sizeof(*sin);
	}
	*holder = -1;
	if (fd < 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return 0;
	}
	*holder = fd;
	return ntohs(ss.ss_family == AF_INET6 ? sin6->sin6_port : sin->sin_port);
}

/* Split the bytes of a whole reply (in) into r; r->body must be
 * initialised. 0, or -1 when it is not an HTTP reply. */
static inline int reply_parse(const struct buf *in, struct reply *r)
{
	const char *sep;

	if (buf_error(in) || !in->data)
		return -1;
	sep = strstr(in->data, "\r\n\r\n");
	if (!sep || (size_t)(sep - in->data) + 3 >= sizeof(r->head))
		return -1;
	memcpy(r->head, in->data, (size_t)(sep - in->data) + 2);
	r->head[sep - in->data + 2] = '\0';
	if (sscanf(r->head, "HTTP/1.%*c %d", &r->status) != 1)
		return -1;
	buf_append(&r->body, sep + 4, in->len - (size_t)(sep + 4 - in->data));
	return 0;
}

/* The value of header name (case-insensitive) into out, or NULL. */
static inline const char *header(const struct reply *r, const char *name, char *out, size_t len)
{
	const char *p = strstr(r->head, "\r\n");
	size_t nlen = strlen(name);

	while (p && p[2]) {
		const char *line = p + 2, *eol = strstr(line, "\r\n");

		if (!eol)
			break;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ')
				v++;
			snprintf(out, len, "%.*s", (int)(eol - v), v);
			return out;
		}
		p = eol;
	}
	return NULL;
}

#endif
