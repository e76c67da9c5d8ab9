/* endpoint: a socket address as people and `ss` write it. */
#ifndef HALFOPEN_ENDPOINT_H
#define HALFOPEN_ENDPOINT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Room for "[<IPv6>]:65535" and its NUL. */
#define ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 8)

/* addr (network order; AF_INET: its first 4 bytes) as text: "198.18.0.1",
 * "fd00::1"; "?" when it cannot be written. Any family but AF_INET6 is
 * taken as AF_INET. Always NUL-terminates out (len > 0). */
void format_addr(uint8_t family, const uint8_t *addr, char *out, size_t len);
/* "198.18.0.1:443", "[fd00::1]:443"; truncated to len like snprintf. */
void format_endpoint(uint8_t family, const uint8_t *addr, uint16_t port, char *out, size_t len);

#endif
