/* classify: what one socket says about the health of its connection.
 * Pure: a sock_record and a threshold in, flags out. */
#ifndef HALFOPEN_CLASSIFY_H
#define HALFOPEN_CLASSIFY_H

#include <stdint.h>

#include "sock_record.h"

enum sock_class {
	SC_ESTABLISHED = 1u << 0,       /* state ESTABLISHED */
	SC_STALE = 1u << 1,             /* ESTABLISHED, nothing received for >= stale_after */
	SC_RETRANSMITTING = 1u << 2,    /* RTO timer with >= 1 unanswered retransmission */
	SC_KEEPALIVE_PROBING = 1u << 3, /* keepalive timer with >= 1 unanswered probe */
	SC_ZERO_WINDOW = 1u << 4,       /* zero-window probe timer armed */
	SC_CLOSE_WAIT = 1u << 5,        /* peer closed, application did not */
	SC_KEEPALIVE = 1u << 6,         /* ESTABLISHED with keepalive timer pending */
};

struct classification {
	unsigned flags;        /* enum sock_class bits */
	uint32_t idle_ms;      /* since anything (data or ACK) was last received */
	uint32_t unanswered_ms; /* RETRANSMITTING/KEEPALIVE_PROBING: since the peer last ACKed; else 0 */
};

/* Classify rec. stale_after_ms is the service's threshold (0 disables
 * stale). Sockets without tcp_info (TIME_WAIT, SYN_RECV minisocks) get
 * only the flags their state and timer give. Always succeeds. */
void classify_socket(const struct sock_record *rec, uint32_t stale_after_ms,
		     struct classification *out);

#endif
