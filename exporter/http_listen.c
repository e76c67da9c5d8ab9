#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"

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
int http_open_listener_any(const char *listen_addr, struct sockaddr_storage *ss, unsigned sslen,
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
int http_still_our_socket(int fd, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}
