/* classify: what one socket says about the health of its connection.
 * Pure: a sock_record and a threshold in, flags out. */
#ifndef HALFOPEN_CLASSIFY_H
#define HALFOPEN_CLASSIFY_H

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
