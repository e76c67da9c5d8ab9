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
 * since boot minus five minutes. Such sockets get no stamp-based age.
 *
 * The keepalive timer (net/ipv4/tcp_timer.c: tcp_keepalive_timer) is not
 * moved by traffic. When it runs with nothing in flight it computes
 * elapsed = min(now - lrcvtime, now - rcv_tstamp), i.e. our idle_ms,
 * and either sends a probe (elapsed >= keepalive time) or re-arms itself
 * at keepalive time - elapsed, i.e. at the last receive plus the
 * keepalive time. Connecting and TCP_KEEPIDLE arm it the same way. So
 * while nothing was received since it last ran, idle_ms + idiag_expires
 * is the keepalive idle time, to within the two stamps' jiffy rounding.
 * It reads short when something was received after the timer last ran
 * (by that gap: on a busy socket anything from 0 up), and for one
 * interval after an answered probe (then it reads about the interval);
 * it reads long when SO_KEEPALIVE was switched on after the last receive
 * (by that gap, until the timer first runs), and while the timer is
 * overdue (idiag_expires 0: the timer wheel may run a long timer up to
 * 1/8 of it late). */
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
	out->quiet = rec->timer != DIAG_TIMER_RETRANS && rec->timer != DIAG_TIMER_PROBE0;
	if (received)
		out->silent_ms = min_u32(idle, ti->tcpi_last_data_sent);
	if (flags & SC_KEEPALIVE) {
		out->keepalive_due_ms = rec->expires_ms;
		if (received && !(flags & SC_KEEPALIVE_PROBING))
			out->keepalive_idle_ms = rec->expires_ms > UINT32_MAX - idle
						     ? UINT32_MAX
						     : idle + rec->expires_ms;
	}
	if ((flags & SC_HANGING) && received)
		out->unanswered_ms = ti->tcpi_last_ack_recv;
}

void classify_set_path(struct classification *cls, uint32_t path_idle_ms)
{
	unsigned f = cls->flags;

	if (!path_idle_ms || !(f & SC_ESTABLISHED) || !cls->received || !cls->quiet)
		return;
	/* A probe out: keepalive is acting and keepalive_probing says how
	 * it goes; its silence no longer tells the keepalive's idle time. */
	if (f & SC_KEEPALIVE_PROBING)
		return;
	/* Silent past the path with keepalive armed means no probe went out
	 * within the path's timeout (an answered one resets idle_ms): the
	 * keepalive is slower whatever the timer reads. keepalive_idle_ms
	 * >= idle_ms, so past-path with keepalive implies slower. */
	if ((f & SC_KEEPALIVE) &&
	    (cls->keepalive_idle_ms >= path_idle_ms || cls->idle_ms >= path_idle_ms))
		cls->flags |= SC_KEEPALIVE_SLOWER_THAN_PATH;
	if (cls->silent_ms >= path_idle_ms)
		cls->flags |= SC_IDLE_PAST_PATH;
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
