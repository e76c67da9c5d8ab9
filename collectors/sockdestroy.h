/* sockdestroy: abort one TCP socket with SOCK_DESTROY, as `ss -K` does.
 *
 * The kernel (CONFIG_INET_DIAG_DESTROY) looks the socket up by its exact
 * 4-tuple, checks the cookie, and calls tcp_abort(): the owner's blocked
 * and next calls fail with ECONNABORTED at once, a RST goes to the peer,
 * and an orphan is freed. It needs CAP_NET_ADMIN in the user namespace of
 * the socket's network namespace.
 *
 * Split like sockdiag: building the request is pure and the ACK is read
 * by sockdiag's receive loop (both unit tested); sockdestroy() is the
 * I/O, over the caller's
 * NETLINK_SOCK_DIAG handle (sockdiag_open(), created inside the socket's
 * network namespace: the lookup is per namespace). */
#ifndef HALFOPEN_SOCKDESTROY_H
#define HALFOPEN_SOCKDESTROY_H

#include <stddef.h>
#include <stdint.h>

struct nl_msg;
struct nl_sock;

/* What identifies a socket to inet_diag. */
struct sockdestroy_target {
	uint8_t family;	   /* AF_INET or AF_INET6 */
	uint16_t sport;	   /* local port, host order */
	uint16_t dport;	   /* peer port, host order */
	uint8_t saddr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t daddr[16];
	uint64_t cookie;  /* idiag_cookie; a socket reusing the 4-tuple is not hit */
	uint32_t ifindex; /* idiag_if: 0 unless the socket is bound to a device */
};

/* Bytes of one SOCK_DESTROY request. */
#define SOCKDESTROY_MSG_LEN 72

/* Build the SOCK_DESTROY request (NLM_F_REQUEST | NLM_F_ACK; libnl
 * numbers it when sent) for t into *out, which the caller nlmsg_free()s.
 * 0, -EAFNOSUPPORT for another family, or -ENOMEM. */
int sockdestroy_build(const struct sockdestroy_target *t, struct nl_msg **out);

/* Destroy the socket t in sk's network namespace. 0, or -errno: -ENOENT
 * no such socket (already gone, or the cookie does not match), -EPERM
 * without CAP_NET_ADMIN, -EOPNOTSUPP when the kernel lacks
 * CONFIG_INET_DIAG_DESTROY, -ETIMEDOUT when the kernel does not answer
 * within the handle's receive timeout. */
int sockdestroy(struct nl_sock *sk, const struct sockdestroy_target *t);

#endif
