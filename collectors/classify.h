/* classify: what one socket says about the health of its connection.
 * Pure: a sock_record and a threshold in, flags out. */
#ifndef HALFOPEN_CLASSIFY_H
#define HALFOPEN_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "sock_classes.h"
#include "sock_record.h"

/* Bit positions and bits of the classes of sock_classes.h, in its order
 * (the rule of each is in classify.c). */
enum sock_class_bit {
#define SOCK_CLASS_X(id, field, help) SCB_##id,
	SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X
	SCB_COUNT
};

enum sock_class {
#define SOCK_CLASS_X(id, field, help) SC_##id = 1u << SCB_##id,
	SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X
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
	/* Since the socket last sent data or received anything (data or
	 * ACK): the flow's silence as a middlebox sees it, give or take our
	 * own bare ACKs, which tcp_info does not stamp. 0 unless received. */
	uint32_t silent_ms;
	/* ESTABLISHED with the keepalive timer pending: when its next run is
	 * due (idiag_expires; 0 when overdue). Else 0. */
	uint32_t keepalive_due_ms;
	/* The effective keepalive idle time (TCP_KEEPIDLE, or the kernel's
	 * tcp_keepalive_time), inferred from the timer: the kernel arms it
	 * at the last receive plus the idle time, so idle_ms + due reads it
	 * back (classify.c says when it reads short or long). ESTABLISHED,
	 * keepalive timer pending, no probe out; else 0 (unknown). */
	uint32_t keepalive_idle_ms;
	/* Nothing in flight: no retransmit or zero-window timer pending. */
	bool quiet;
};

/* Classify rec from the kernel's fields alone. stale_after_ms is the
 * service's threshold (0 disables stale). Sockets without tcp_info
 * (TIME_WAIT, SYN_RECV minisocks) get only the flags their state and
 * timer give. hanging_ms is left 0: see classify_set_hanging(). Always
 * succeeds. */
void classify_socket(const struct sock_record *rec, uint32_t stale_after_ms,
		     struct classification *out);

/* Judge the socket against the path's idle timeout (path_idle_ms, the
 * service's path_idle_timeout as resolved for its namespace; 0: unknown,
 * nothing judged): sets SC_IDLE_PAST_PATH and SC_KEEPALIVE_SLOWER_THAN_PATH.
 * Pure; call after classify_socket(). */
void classify_set_path(struct classification *cls, uint32_t path_idle_ms);

/* Fill the ages that need history: seen_hanging_ms is how long the
 * exporter has seen this socket hang (sock_ages). No-op unless hanging. */
void classify_set_hanging(struct classification *cls, uint32_t seen_hanging_ms);

#endif
