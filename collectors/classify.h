/* classify: what one socket says about the health of its connection.
 * Pure: a sock_record and a threshold in, flags out. */
#ifndef HALFOPEN_CLASSIFY_H
#define HALFOPEN_CLASSIFY_H

#include <stdbool.h>
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

#define SC_HANGING (SC_RETRANSMITTING | SC_KEEPALIVE_PROBING)

struct classification {
	unsigned flags; /* enum sock_class bits */
	/* tcp_info's receive stamps are set: the socket received something.
	 * False for SYN-SENT, for a socket with tcpi_segs_in == 0 and without
	 * tcp_info (request sockets): their stamps would read as the time
	 * since boot. */
	bool received;
	/* Since anything (data or ACK) was last received. Not received:
	 * hanging_ms when hanging, else 0 (unknown). */
	uint32_t idle_ms;
	/* SC_HANGING: since the peer last acknowledged anything (ss lastack),
	 * idle time before the hang included. Not received: hanging_ms.
	 * Else 0. */
	uint32_t unanswered_ms;
	/* SC_HANGING: since the exporter first saw the socket hang, without a
	 * break, capped by unanswered_ms. A lower bound of how long a request
	 * (or probe) has waited: short by up to one collection interval plus
	 * the time before the first retransmission. Else 0. */
	uint32_t hanging_ms;
};

/* Classify rec from the kernel's fields alone. stale_after_ms is the
 * service's threshold (0 disables stale). Sockets without tcp_info
 * (TIME_WAIT, SYN_RECV minisocks) get only the flags their state and
 * timer give. hanging_ms is left 0: see classify_set_hanging(). Always
 * succeeds. */
void classify_socket(const struct sock_record *rec, uint32_t stale_after_ms,
		     struct classification *out);

/* Fill the ages that need history: seen_hanging_ms is how long the
 * exporter has seen this socket hang (sock_ages). No-op unless hanging. */
void classify_set_hanging(struct classification *cls, uint32_t seen_hanging_ms);

#endif
