/* libFuzzer: the HTTP request handling that is ours. The first byte picks:
 *   0  http_accept_encoding_gzip() on the rest (the Accept-Encoding parser)
 *   1  http_parse_listen_address() on the rest
 *   *  the rest as raw bytes on a TCP connection to an in-process server
 *      (libmicrohttpd parses, our handler answers): Basic auth with a bcrypt
 *      user, web config headers, POST /-/reload (a helper thread answers
 *      reloads), the metrics body, gzip negotiation, 405/404/401.
 * Invariant for the raw case: whatever was sent, the server answers with an
 * HTTP status line or closes, and stays up (accepts the next connection). */
#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config/web_config.h"
#include "exporter/http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_server *srv;
static uint16_t port;

static void *reload_answerer(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(5000);
		http_server_reload_done(srv, 0);
	}
	return NULL;
}

static int start(void)
{
	static char yaml[512];
	struct crypt_data cd;
	struct web_config *wc = NULL;
	struct config_error err;
	struct http_options opt = {
	    .telemetry_path = "/metrics", .version = "fuzz", .enable_lifecycle = true};
	const char *salt, *h;
	char addr[32], msg[256];
	pthread_t t;
	int rc = -1;

	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	memset(&cd, 0, sizeof(cd));
	/* Cost 4: the fuzzer should spend its time in parsers, not bcrypt;
	 * "user:pass" in a seed hits the cache after the first check. */
	salt = crypt_gensalt_rn("$2y$", 4, NULL, 0, cd.setting, (int)sizeof(cd.setting));
	h = salt ? crypt_rn("pass", salt, &cd, (int)sizeof(cd)) : NULL;
	if (!h)
		abort();
	snprintf(yaml, sizeof(yaml),
		 "basic_auth_users:\n  user: '%s'\nhttp_server_config:\n  headers:\n"
		 "    X-Frame-Options: deny\n",
		 h);
	if (web_config_load_buffer("fuzz", NULL, yaml, strlen(yaml), &wc, &err))
		abort();
	for (port = 41000; port < 41100 && rc; port++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		opt.listen_address = addr;
		opt.web = wc;
		wc = NULL;
		rc = http_server_start(&opt, &srv, msg, sizeof(msg));
		if (rc)
			web_config_load_buffer("fuzz", NULL, yaml, strlen(yaml), &wc, &err);
	}
	port--;
	if (rc) {
		fprintf(stderr, "fuzz_http: %s\n", msg);
		abort();
	}
	if (http_server_publish(srv, "# TYPE m gauge\nm 1\n", 19))
		abort();
	pthread_create(&t, NULL, reload_answerer, NULL);
	pthread_detach(t);
	return 0;
}

static void raw_request(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	/* libmicrohttpd 0.9.75 keeps a connection whose client half-closed
	 * inside the request line until our header deadline (10 s): wait for
	 * an answer briefly, then reset the connection. */
	struct timeval tv = {0, 50000};
	struct linger rst = {1, 0};
	char reply[4096];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		abort(); /* the server must stay up */
	if (size)
		(void)send(fd, data, size, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	/* The status line is the answer; a kept-alive connection would
	 * otherwise be read until the server's idle timeout. */
	while (got < 12 && (n = recv(fd, reply + got, sizeof(reply) - got, 0)) > 0)
		got += (size_t)n;
	if (got >= 8 && memcmp(reply, "HTTP/1.", 7) != 0)
		abort();
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (!srv)
		start();
	if (size == 0)
		return 0;
	if (data[0] <= 1) {
		struct sockaddr_storage ss;
		unsigned len;

		s = malloc(size);
		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		if (data[0] == 0) {
			int g = http_accept_encoding_gzip(s);

			if (g < -1 || g > 1)
				abort();
		} else {
			(void)http_parse_listen_address(s, &ss, &len);
		}
		free(s);
		return 0;
	}
	raw_request(data + 1, size - 1);
	return 0;
}
