/* sockdiag: TCP socket dumps over NETLINK_SOCK_DIAG (inet_diag).
 *
 * Split in two: sockdiag_parse() is pure (bytes in, sock_record out) and is
 * unit tested on recorded dumps; sockdiag_dump() is the I/O loop. The
 * netlink handle belongs to the caller, so one handle per network
 * namespace can be opened (created inside the namespace) and reused.
 *
 * The dump streams: each socket is parsed into one stack sock_record and
 * handed to the callback; no per-socket memory is kept. */
#ifndef HALFOPEN_SOCKDIAG_H
#define HALFOPEN_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sock_record.h"

struct nl_msg;
struct nl_sock;
struct nlmsghdr;

/* Receive buffer per recv(): large enough for ~100 sockets with tcp_info. */
#define SOCKDIAG_RECV_BUF (32 * 1024)

/* Bit for state s in a state mask. */
#define SOCKDIAG_STATE(s) (1u << (s))
/* Every state but LISTEN, TIME_WAIT and CLOSE: the ones that carry data. */
#define SOCKDIAG_STATES_CONNECTED                                                                  \
	(SOCKDIAG_STATE(TCPS_ESTABLISHED) | SOCKDIAG_STATE(TCPS_SYN_SENT) |                        \
	 SOCKDIAG_STATE(TCPS_SYN_RECV) | SOCKDIAG_STATE(TCPS_FIN_WAIT1) |                          \
	 SOCKDIAG_STATE(TCPS_FIN_WAIT2) | SOCKDIAG_STATE(TCPS_CLOSE_WAIT) |                        \
	 SOCKDIAG_STATE(TCPS_LAST_ACK) | SOCKDIAG_STATE(TCPS_CLOSING))

/* Decode one SOCK_DIAG_BY_FAMILY reply message (nlmsg_type must be
 * SOCK_DIAG_BY_FAMILY). Returns 0, or -EBADMSG when the message or one of
 * its attributes is truncated or malformed. Unknown attributes are skipped;
 * a tcp_info shorter or longer than ours is clamped. */
int sockdiag_parse(const struct nlmsghdr *nlh, struct sock_record *out);

/* Called once per socket. A negative return aborts the dump with it. */
typedef int (*sockdiag_cb)(const struct sock_record *rec, void *ctx);

struct sockdiag_stats {
	uint64_t sockets;  /* records handed to the callback */
	uint64_t messages; /* recv() calls */
	uint64_t bytes;	   /* bytes received */
};

/* Open a NETLINK_SOCK_DIAG handle in the caller's current network
 * namespace. 0 or -errno. */
int sockdiag_open(struct nl_sock **out);
/* The same for another netlink protocol (NETLINK_NETFILTER for
 * ctnetlink), with the same receive settings; closed by sockdiag_close. */
int sockdiag_open_protocol(int protocol, struct nl_sock **out);
/* Accepts NULL. */
void sockdiag_close(struct nl_sock *sk);

struct sockdiag_request {
	uint8_t family;	      /* AF_INET or AF_INET6 */
	uint32_t states;      /* SOCKDIAG_STATE() mask */
	uint8_t ext;	      /* idiag_ext bits, e.g. 1 << (INET_DIAG_INFO - 1) */
	const void *bytecode; /* INET_DIAG_REQ_BYTECODE filter, or NULL */
	size_t bytecode_len;
	/* Optional: sees every datagram of this dump as received, before it
	 * is parsed (recording fixtures, debugging). */
	void (*tap)(const void *data, size_t len, void *tap_ctx);
	void *tap_ctx;
};

/* Run one dump and feed every socket to cb. Returns 0; -EAGAIN when the
 * kernel flagged the dump NLM_F_DUMP_INTR (sockets changed under it: the
 * callback saw a possibly inconsistent set, so the caller restarts its
 * whole collection); the kernel's -errno from NLMSG_ERROR; -ENOBUFS when
 * the socket overran; -EBADMSG on a malformed reply; or cb's negative
 * return. EINTR is retried internally. buf is the caller's receive buffer
 * (>= SOCKDIAG_RECV_BUF bytes), so a long-lived collector allocates none.
 * stats may be NULL; it is added to, not reset. */
int sockdiag_dump(struct nl_sock *sk, const struct sockdiag_request *req, void *buf, size_t buf_len,
		  sockdiag_cb cb, void *ctx, struct sockdiag_stats *stats);

/* Send one non-dump request built with libnl (e.g. SOCK_DESTROY with
 * NLM_F_ACK; libnl numbers it) and wait for its answer through the same
 * receive loop as the dumps. buf as for sockdiag_dump(). Returns the
 * kernel's verdict (0 for the ACK, or its -errno), -ETIMEDOUT when the
 * kernel does not answer within the handle's receive timeout, or another
 * -errno of send/receive. msg stays the caller's. */
int sockdiag_request(struct nl_sock *sk, struct nl_msg *msg, void *buf, size_t buf_len);

/* Send msg (a dump request of any netlink protocol, built with libnl)
 * and hand every reply message but NLMSG_DONE/NLMSG_ERROR to msg_cb,
 * through the same receive loop as sockdiag_dump(), with the same
 * returns. msg stays the caller's. */
int sockdiag_dump_raw(struct nl_sock *sk, struct nl_msg *msg, void *buf, size_t buf_len,
		      int (*msg_cb)(const struct nlmsghdr *h, void *ctx), void *ctx,
		      struct sockdiag_stats *stats);

/* One received datagram read for request seq: the pure part of the
 * receive loop (exposed for unit tests). */
struct sockdiag_walk {
	sockdiag_cb cb; /* each SOCK_DIAG_BY_FAMILY reply; NULL: ignore them */
	/* Instead of cb: every message of the reply but DONE/ERROR, raw */
	int (*msg_cb)(const struct nlmsghdr *h, void *ctx);
	void *ctx;
	struct sockdiag_stats *stats; /* may be NULL */
	bool intr;		      /* out: NLM_F_DUMP_INTR seen */
	int verdict;		      /* out, when the walk returns 1 */
	/* out, after a negative return: the rest of the reply to read and
	 * drop (NULL: nothing) */
	const struct nlmsghdr *rest;
	int rest_len;
};
/* Returns 1 when the datagram ends the reply to seq (NLMSG_DONE, or
 * NLMSG_ERROR, which is also the ACK) with w->verdict 0, -EAGAIN
 * (NLM_F_DUMP_INTR) or the kernel's -errno; 0 when more is to come
 * (messages of other sequence numbers are skipped); -EBADMSG when a
 * message for seq is malformed, or cb's negative return. */
int sockdiag_walk(const void *buf, size_t len, uint32_t seq, struct sockdiag_walk *w);

#endif
