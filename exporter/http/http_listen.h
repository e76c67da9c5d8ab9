/* The listening socket: parsing the listen address, binding it ourselves
 * (so errors carry the real errno), dual-stack for ":port". Internal to
 * the HTTP server (http_parse_listen_address() is in http.h). */
#ifndef HALFOPEN_HTTP_LISTEN_H
#define HALFOPEN_HTTP_LISTEN_H

#include <sys/socket.h>
#include <sys/types.h>

/* Room for a burst of connects while the workers accept: a flood of
 * thousands of connects at once must not fill the queue, or a scraper's
 * SYN is dropped and retried a second later. The kernel caps it at
 * net.core.somaxconn (4096 by default since Linux 5.4). */
#define LISTEN_BACKLOG 4096

/* Contract: a bound, listening, non-blocking socket for ss (parsed from
 * listen_addr); ":port" falls back to IPv4 only where the host has no
 * IPv6 (*ss is then rewritten). On failure *op names the failing step.
 * fd or -errno. */
int http_open_listener_any(const char *listen_addr, struct sockaddr_storage *ss, unsigned sslen,
			   const char **op);
/* Whether fd still is the socket with inode ino (MHD closes a listen
 * socket it was handed on some start failures and not on others). */
int http_still_our_socket(int fd, ino_t ino);

#endif
