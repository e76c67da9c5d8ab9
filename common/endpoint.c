/* endpoint: addresses of sock_records and suspects for logs and pages. */
#include "endpoint.h"

#include <stdio.h>
#include <sys/socket.h>
#include <arpa/inet.h>

void format_addr(uint8_t family, const uint8_t *addr, char *out, size_t len)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, out, (socklen_t)len))
		snprintf(out, len, "?");
}

void format_endpoint(uint8_t family, const uint8_t *addr, uint16_t port, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	format_addr(family, addr, a, sizeof(a));
	snprintf(out, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, (unsigned)port);
}
