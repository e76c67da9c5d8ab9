/* sock_classes: the socket classes, declared once.
 *
 * Each line is one class the classifier sets (a bit of enum sock_class),
 * counted per service (a field of struct service_counts, summed by
 * service_counts_add/merge (counts.c)) and exposed as the gauge halfopen_<field>_sockets
 * with the HELP text given (the meaning of docs/metrics.md). A class that
 * is also a suspect condition is declared with SUSPECT instead of CLASS,
 * with its severity rank (0 is the worst): the rank is its enum
 * suspect_condition value, the order the page sorts by and the order of
 * the condition label values.
 *
 * A new class is one line here (plus its rule in classify.c and its
 * line in docs/metrics.md).
 *
 *     CLASS(ID, field, help)
 *     SUSPECT(ID, field, rank, help) */
#ifndef HALFOPEN_SOCK_CLASSES_H
#define HALFOPEN_SOCK_CLASSES_H

#define SOCK_CLASSES(CLASS, SUSPECT)                                                               \
	CLASS(ESTABLISHED, established, "ESTABLISHED sockets of the service.")                     \
	SUSPECT(STALE, stale, 3,                                                                   \
		"ESTABLISHED sockets that received nothing, neither data nor an ACK, for at "      \
		"least the service's stale_after. Half-open, or idle and never verified: the "     \
		"kernel cannot tell which.")                                                       \
	SUSPECT(RETRANSMITTING, retransmitting, 0,                                                 \
		"Sockets, in any state, whose retransmission timer is pending with at least one "  \
		"unanswered retransmission. Requests on them are hanging now.")                    \
	SUSPECT(KEEPALIVE_PROBING, keepalive_probing, 1,                                           \
		"Sockets whose keepalive probes go unanswered (keepalive timer pending, at least " \
		"one probe out). The peer is probably gone; the kernel will reset the connection " \
		"after tcp_keepalive_probes probes.")                                              \
	SUSPECT(ZERO_WINDOW, zero_window, 2,                                                       \
		"Sockets probing a peer that advertises a zero receive window (persist timer "     \
		"armed): the peer stopped reading.")                                               \
	SUSPECT(CLOSE_WAIT, close_wait, 4,                                                         \
		"Sockets in CLOSE_WAIT: the peer closed, our application never did. Growing "      \
		"means a leak.")                                                                   \
	CLASS(KEEPALIVE, keepalive,                                                                \
	      "ESTABLISHED sockets with the keepalive timer armed (keepalive is on). Compare "     \
	      "with halfopen_established_sockets for keepalive coverage.")                         \
	CLASS(IDLE_PAST_PATH, idle_past_path_timeout,                                              \
	      "ESTABLISHED sockets silent in both directions (no data sent, no data or ACK "       \
	      "received) for at least the service's path_idle_timeout, with no keepalive "         \
	      "faster than it: the NAT or load balancer on the path has likely forgotten the "     \
	      "flow, and the next request on it will hang. 0 when path_idle_timeout is unset.")    \
	CLASS(KEEPALIVE_SLOWER_THAN_PATH, keepalive_slower_than_path,                              \
	      "ESTABLISHED sockets whose keepalive is armed but whose keepalive idle time "        \
	      "(inferred from the keepalive timer) is at least the service's "                     \
	      "path_idle_timeout: the keepalive cannot keep the flow alive through the path. 0 "   \
	      "when path_idle_timeout is unset.")

/* Helpers for the users of SOCK_CLASSES: a SUSPECT line seen as a class,
 * and a line that expands to nothing. */
#define SOCK_CLASS_AS_CLASS(id, field, rank, help) SOCK_CLASS_X(id, field, help)
#define SOCK_CLASS_NONE(...)

#endif
