#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"

/* ---- listen address ------------------------------------------------- */

/* Digits only, 1..65535, at most five characters: getaddrinfo's numeric
 * service is strtoul's, which also takes " 80", "+80" and "0", and wraps
 * 65536 to 0. */
static int check_port(const char *s)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (i >= 5 || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return i == 0 || v == 0 || v > 65535 ? -EINVAL : 0;
}

/* Contract: the one address getaddrinfo gives for node (NULL: the
 * wildcard with AI_PASSIVE, else loopback) and the decimal port in
 * family, numeric forms only (no resolver, so it stays pure). 0, -EINVAL
 * for what it rejects, -ENOMEM; *ss is written only on success. */
static int resolve(const char *node, const char *port, int family, int flags,
		   struct sockaddr_storage *ss, unsigned *sslen)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags | AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(node, port, &hints, &res);
	if (rc == EAI_MEMORY)
		return -ENOMEM;
	if (rc != 0)
		return -EINVAL;
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (unsigned)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Contract: "host:port" where host is empty (all addresses: the IPv6
 * wildcard, which the server makes dual-stack), "localhost"
 * (127.0.0.1), a numeric IPv4 address, or a bracketed numeric IPv6
 * address. Port 1..65535, digits only. getaddrinfo builds the address;
 * what it would take beyond these forms (inet_aton's "1.2.3" and
 * "0x7f.1", octal "010.1.2.3", a "%scope") is refused first, so a typo
 * never binds somewhere unexpected. 0 or -EINVAL (-ENOMEM); *ss is
 * written only on success. */
int http_parse_listen_address(const char *addr, struct sockaddr_storage *ss, unsigned *sslen)
{
	char host[INET6_ADDRSTRLEN];
	const char *hs, *he, *colon;
	struct in_addr probe;
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
	if (check_port(colon + 1))
		return -EINVAL;
	hlen = (size_t)(he - hs);
	if (hlen >= sizeof(host) || (bracketed && hlen == 0))
		return -EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';

	if (bracketed)
		return strchr(host, '%') ? -EINVAL
					 : resolve(host, colon + 1, AF_INET6, 0, ss, sslen);
	if (hlen == 0)
		return resolve(NULL, colon + 1, AF_INET6, AI_PASSIVE, ss, sslen);
	if (strcasecmp(host, "localhost") == 0)
		return resolve(NULL, colon + 1, AF_INET, 0, ss, sslen);
	if (inet_pton(AF_INET, host, &probe) != 1)
		return -EINVAL;
	return resolve(host, colon + 1, AF_INET, 0, ss, sslen);
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
	int fd = open_listener(ss, sslen, op), ret;

	if (listen_addr[0] != ':' || fd >= 0)
		return fd;
	if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
		return fd;
	*op = "resolve";
	ret = resolve(NULL, listen_addr + 1, AF_INET, AI_PASSIVE, ss, &sslen);
	if (ret)
		return ret;
	return open_listener(ss, sslen, op);
}

/* Whether fd still is the socket with inode ino. MHD closes a listen
 * socket it was handed on some start failures and not on others; a
 * descriptor number reused by another thread has a different inode. */
int http_still_our_socket(int fd, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}
