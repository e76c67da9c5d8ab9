/* sock_record: one socket of an inet_diag dump, decoded into host order.
 * The unit every collector stage passes on: sockdiag_parse() fills it,
 * classify_socket() and service_match() read it. It lives on the stack of
 * the dump loop; nothing keeps it past the callback. */
#ifndef HALFOPEN_SOCK_RECORD_H
#define HALFOPEN_SOCK_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp_info.h"

/* The kernel's TCP states (include/net/tcp_states.h). */
enum tcp_state {
	TCPS_ESTABLISHED = 1,
	TCPS_SYN_SENT,
	TCPS_SYN_RECV,
	TCPS_FIN_WAIT1,
	TCPS_FIN_WAIT2,
	TCPS_TIME_WAIT,
	TCPS_CLOSE,
	TCPS_CLOSE_WAIT,
	TCPS_LAST_ACK,
	TCPS_LISTEN,
	TCPS_CLOSING,
	TCPS_NEW_SYN_RECV,
	TCPS_BOUND_INACTIVE,
	TCPS_MAX_STATES,
};

/* idiag_timer: which timer the kernel reports as pending
 * (net/ipv4/inet_diag.c: inet_sk_diag_fill and friends). */
enum diag_timer {
	DIAG_TIMER_NONE = 0,
	DIAG_TIMER_RETRANS = 1,   /* RTO, also RACK reorder and loss probe */
	DIAG_TIMER_KEEPALIVE = 2, /* sk_timer: keepalive, or FIN_WAIT2 / SYN-ACK timers */
	DIAG_TIMER_TIME_WAIT = 3,
	DIAG_TIMER_PROBE0 = 4,    /* zero window probe */
};

struct sock_record {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t state;  /* enum tcp_state */
	uint8_t timer;  /* enum diag_timer; other codes kept as-is */
	uint8_t retrans; /* idiag_retrans: retransmits (timer 1) or probes out (2, 4) */
	uint16_t sport;  /* host order */
	uint16_t dport;  /* host order */
	uint8_t saddr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t daddr[16];
	uint32_t expires_ms;
	uint32_t rqueue;
	uint32_t wqueue;
	uint32_t uid;
	uint32_t inode;
	uint64_t cookie;
	uint64_t cgroup_id; /* INET_DIAG_CGROUP_ID, 0 when absent */
	bool has_info;      /* INET_DIAG_INFO present */
	uint16_t info_len;  /* bytes the kernel sent, before clamping */
	struct ho_tcp_info info; /* zeroed beyond info_len; all zero when !has_info */
};

#endif
