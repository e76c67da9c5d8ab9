/* classify: the verdict on one socket, from the kernel's own fields.
 *
 * Which timer inet_diag reports is the key: the kernel shows one pending
 * timer per socket, in this order (net/ipv4/inet_diag.c): retransmit
 * (also RACK reorder and tail loss probe), zero-window probe, then
 * sk_timer (keepalive, or the FIN_WAIT2/SYN-ACK timers that share it).
 * idiag_retrans is icsk_retransmits for the retransmit timer and
 * icsk_probes_out for the other two, i.e. "sent and not answered": the
 * kernel resets both when an ACK arrives.
 *
 * The receive stamps (tcpi_last_data_recv, tcpi_last_ack_recv) are
 * "jiffies now minus a stamp" and the stamps start at 0: on a socket that
 * never received anything they read as the jiffies counter, i.e. the time
 * since boot minus five minutes. Such sockets get no stamp-based age. */
#include "classify.h"

#include <stddef.h>
#include <string.h>

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Whether the socket's receive stamps were ever set. */
static bool received_anything(const struct sock_record *rec)
{
	const size_t segs_in_end =
		offsetof(struct ho_tcp_info, tcpi_segs_in) + sizeof(rec->info.tcpi_segs_in);

	if (!rec->has_info || rec->state == TCPS_SYN_SENT)
		return false;
	/* tcpi_segs_in: Linux 4.2. Older kernels: trust the stamps. */
	if (rec->info_len >= segs_in_end)
		return rec->info.tcpi_segs_in > 0;
	return true;
}

void classify_socket(const struct sock_record *rec, uint32_t stale_after_ms,
		     struct classification *out)
{
	const struct ho_tcp_info *ti = &rec->info;
	unsigned flags = 0;
	/* "Nothing received": neither data nor a bare ACK. A keepalive
	 * probe's answer is a bare ACK, so a verified idle connection is
	 * never stale while keepalive runs more often than stale_after. */
	bool received = received_anything(rec);
	uint32_t idle = received ? min_u32(ti->tcpi_last_data_recv, ti->tcpi_last_ack_recv) : 0;
	/* The retransmit counters are u8 in inet_diag and tcp_info; either
	 * may be the one a given kernel fills, so take the larger. */
	unsigned unanswered = rec->retrans;

	if (rec->has_info && ti->tcpi_retransmits > unanswered && rec->timer == DIAG_TIMER_RETRANS)
		unanswered = ti->tcpi_retransmits;

	memset(out, 0, sizeof(*out));

	switch (rec->state) {
	case TCPS_ESTABLISHED:
		flags |= SC_ESTABLISHED;
		if (received && stale_after_ms && idle >= stale_after_ms)
			flags |= SC_STALE;
		if (rec->timer == DIAG_TIMER_KEEPALIVE)
			flags |= SC_KEEPALIVE;
		break;
	case TCPS_CLOSE_WAIT:
		flags |= SC_CLOSE_WAIT;
		break;
	default:
		break;
	}

	switch (rec->timer) {
	case DIAG_TIMER_RETRANS:
		/* Zero retransmits with the timer pending is a loss probe or
		 * an RTO not yet expired: normal in-flight data. */
		if (unanswered >= 1)
			flags |= SC_RETRANSMITTING;
		break;
	case DIAG_TIMER_KEEPALIVE:
		/* sk_timer also runs the FIN_WAIT2 and SYN-ACK timers; only
		 * keepalive counts probes, so probes_out >= 1 means keepalive
		 * probes are going unanswered. */
		if (rec->retrans >= 1 && rec->state != TCPS_FIN_WAIT2 && rec->state != TCPS_SYN_RECV)
			flags |= SC_KEEPALIVE_PROBING;
		break;
	case DIAG_TIMER_PROBE0:
		flags |= SC_ZERO_WINDOW;
		break;
	default:
		/* NONE, TIME_WAIT and codes newer than this code: no verdict. */
		break;
	}

	out->flags = flags;
	out->received = received;
	out->idle_ms = idle;
	if ((flags & SC_HANGING) && received)
		out->unanswered_ms = ti->tcpi_last_ack_recv;
}

void classify_set_hanging(struct classification *cls, uint32_t seen_hanging_ms)
{
	if (!(cls->flags & SC_HANGING))
		return;
	if (!cls->received) {
		/* No stamp: the exporter's own sighting is all there is. */
		cls->idle_ms = cls->unanswered_ms = cls->hanging_ms = seen_hanging_ms;
		return;
	}
	/* A request cannot have waited longer than the peer has been
	 * silent; and the exporter may have started mid-hang. */
	cls->hanging_ms = min_u32(seen_hanging_ms, cls->unanswered_ms);
}
