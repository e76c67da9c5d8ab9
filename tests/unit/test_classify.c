/* classify_socket over every timer code and state, then over the
 * recorded dump where each case is known by its port. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collectors/classify.h"
#include "collectors/sock_ages.h"
#include "fixture.h"
#include "testing.h"

static struct sock_record rec(uint8_t state, uint8_t timer, uint8_t retrans, uint32_t lastrcv,
			      uint32_t lastack)
{
	struct sock_record r;

	memset(&r, 0, sizeof(r));
	r.family = AF_INET;
	r.state = state;
	r.timer = timer;
	r.retrans = retrans;
	r.has_info = true;
	r.info.tcpi_state = state;
	r.info.tcpi_last_data_recv = lastrcv;
	r.info.tcpi_last_ack_recv = lastack;
	return r;
}

static unsigned flags_of(struct sock_record r, uint32_t stale_after)
{
	struct classification c;

	classify_socket(&r, stale_after, &c);
	return c.flags;
}

DEF_TEST(established_timers)
{
	/* idle, recent traffic: just established */
	CHECK_EQ_UINT(SC_ESTABLISHED, flags_of(rec(TCPS_ESTABLISHED, 0, 0, 100, 100), 3000));
	/* idle past stale_after: stale */
	CHECK_EQ_UINT(SC_ESTABLISHED | SC_STALE,
		      flags_of(rec(TCPS_ESTABLISHED, 0, 0, 3000, 3000), 3000));
	/* data old but ACKs recent (keepalive answered): not stale */
	CHECK_EQ_UINT(SC_ESTABLISHED | SC_KEEPALIVE,
		      flags_of(rec(TCPS_ESTABLISHED, DIAG_TIMER_KEEPALIVE, 0, 90000, 500), 3000));
	/* stale disabled */
	CHECK_EQ_UINT(SC_ESTABLISHED, flags_of(rec(TCPS_ESTABLISHED, 0, 0, 90000, 90000), 0));
	/* retransmit timer, nothing retransmitted yet: in-flight data */
	CHECK_EQ_UINT(SC_ESTABLISHED, flags_of(rec(TCPS_ESTABLISHED, DIAG_TIMER_RETRANS, 0, 1, 1), 3000));
	/* retransmitting */
	CHECK_EQ_UINT(SC_ESTABLISHED | SC_RETRANSMITTING,
		      flags_of(rec(TCPS_ESTABLISHED, DIAG_TIMER_RETRANS, 2, 10, 10), 3000));
	/* keepalive probes unanswered; keepalive armed too */
	CHECK_EQ_UINT(SC_ESTABLISHED | SC_KEEPALIVE | SC_KEEPALIVE_PROBING | SC_STALE,
		      flags_of(rec(TCPS_ESTABLISHED, DIAG_TIMER_KEEPALIVE, 3, 9000, 9000), 3000));
	/* zero window */
	CHECK_EQ_UINT(SC_ESTABLISHED | SC_ZERO_WINDOW,
		      flags_of(rec(TCPS_ESTABLISHED, DIAG_TIMER_PROBE0, 0, 5000, 200), 3000));
	/* unknown timer code: no verdict from the timer */
	CHECK_EQ_UINT(SC_ESTABLISHED, flags_of(rec(TCPS_ESTABLISHED, 9, 5, 1, 1), 3000));
	return 0;
}

DEF_TEST(other_states)
{
	/* the seed's server: orphan in FIN_WAIT1 retransmitting its FIN */
	CHECK_EQ_UINT(SC_RETRANSMITTING, flags_of(rec(TCPS_FIN_WAIT1, DIAG_TIMER_RETRANS, 4, 5000, 5000), 3000));
	/* SYN_SENT to a black hole */
	CHECK_EQ_UINT(SC_RETRANSMITTING, flags_of(rec(TCPS_SYN_SENT, DIAG_TIMER_RETRANS, 2, 0, 0), 3000));
	/* CLOSE_WAIT is never stale, whatever its age */
	CHECK_EQ_UINT(SC_CLOSE_WAIT, flags_of(rec(TCPS_CLOSE_WAIT, 0, 0, 99999, 99999), 3000));
	CHECK_EQ_UINT(SC_CLOSE_WAIT | SC_KEEPALIVE_PROBING,
		      flags_of(rec(TCPS_CLOSE_WAIT, DIAG_TIMER_KEEPALIVE, 1, 99999, 99999), 3000));
	/* FIN_WAIT2 timer shares sk_timer: not keepalive */
	CHECK_EQ_UINT(0, flags_of(rec(TCPS_FIN_WAIT2, DIAG_TIMER_KEEPALIVE, 1, 99999, 99999), 3000));
	/* TIME_WAIT without tcp_info */
	{
		struct sock_record r = rec(TCPS_TIME_WAIT, DIAG_TIMER_TIME_WAIT, 0, 0, 0);

		r.has_info = false;
		CHECK_EQ_UINT(0, flags_of(r, 3000));
	}
	/* SYN_RECV minisock: SYN-ACK retransmits, no tcp_info */
	{
		struct sock_record r = rec(TCPS_SYN_RECV, DIAG_TIMER_RETRANS, 2, 0, 0);
		struct classification c;

		r.has_info = false;
		classify_socket(&r, 3000, &c);
		CHECK_EQ_UINT(SC_RETRANSMITTING, c.flags);
		CHECK_EQ_UINT(0, c.unanswered_ms);
	}
	/* ESTABLISHED without tcp_info: never stale (we cannot know) */
	{
		struct sock_record r = rec(TCPS_ESTABLISHED, 0, 0, 0, 0);

		r.has_info = false;
		CHECK_EQ_UINT(SC_ESTABLISHED, flags_of(r, 1));
	}
	return 0;
}

DEF_TEST(ages)
{
	struct classification c;
	struct sock_record r = rec(TCPS_ESTABLISHED, DIAG_TIMER_RETRANS, 3, 8000, 6000);

	classify_socket(&r, 3000, &c);
	CHECK_EQ_UINT(6000, c.idle_ms);
	CHECK_EQ_UINT(6000, c.unanswered_ms);
	r = rec(TCPS_ESTABLISHED, 0, 0, 8000, 6000);
	classify_socket(&r, 3000, &c);
	CHECK_EQ_UINT(0, c.unanswered_ms); /* not a suspect: no unanswered age */
	/* tcp_info's retransmit count is used when inet_diag's is 0 */
	r = rec(TCPS_ESTABLISHED, DIAG_TIMER_RETRANS, 0, 10, 10);
	r.info.tcpi_retransmits = 2;
	CHECK_EQ_UINT(SC_ESTABLISHED | SC_RETRANSMITTING, flags_of(r, 3000));
	return 0;
}

/* A socket that never received anything: its receive stamps read as the
 * time since boot. Seen on a SYN-SENT connect to a black hole. */
DEF_TEST(never_received)
{
	const uint32_t boot = 1234567; /* jiffies since boot, in ms */
	struct classification c;
	struct sock_record r = rec(TCPS_SYN_SENT, DIAG_TIMER_RETRANS, 2, boot, boot);

	r.info_len = sizeof(r.info);
	classify_socket(&r, 3000, &c);
	CHECK_EQ_UINT(SC_RETRANSMITTING, c.flags);
	CHECK(!c.received);
	CHECK_EQ_UINT(0, c.unanswered_ms);
	CHECK_EQ_UINT(0, c.idle_ms);
	classify_set_hanging(&c, 4000);
	CHECK_EQ_UINT(4000, c.unanswered_ms);
	CHECK_EQ_UINT(4000, c.hanging_ms);
	CHECK_EQ_UINT(4000, c.idle_ms);
	/* any state: nothing ever came in (tcpi_segs_in == 0) */
	r = rec(TCPS_FIN_WAIT1, DIAG_TIMER_RETRANS, 1, boot, boot);
	r.info_len = sizeof(r.info);
	classify_socket(&r, 3000, &c);
	CHECK(!c.received);
	r.info.tcpi_segs_in = 3;
	classify_socket(&r, 3000, &c);
	CHECK(c.received);
	CHECK_EQ_UINT(boot, c.unanswered_ms);
	/* a kernel too old for tcpi_segs_in: the stamps are trusted */
	r.info.tcpi_segs_in = 0;
	r.info_len = 100;
	classify_socket(&r, 3000, &c);
	CHECK(c.received);
	return 0;
}

/* Hanging age: the exporter's sighting, capped by the peer's silence. */
DEF_TEST(hanging)
{
	struct classification c;
	struct sock_record r = rec(TCPS_ESTABLISHED, DIAG_TIMER_RETRANS, 3, 600000, 600000);

	classify_socket(&r, 0, &c);
	classify_set_hanging(&c, 5000);
	CHECK_EQ_UINT(600000, c.unanswered_ms); /* idle 10 min, then a request */
	CHECK_EQ_UINT(5000, c.hanging_ms);      /* ...that waits 5 s */
	classify_set_hanging(&c, 700000);
	CHECK_EQ_UINT(600000, c.hanging_ms);
	/* not hanging: no ages at all */
	r = rec(TCPS_ESTABLISHED, DIAG_TIMER_PROBE0, 1, 10, 10);
	classify_socket(&r, 0, &c);
	classify_set_hanging(&c, 5000);
	CHECK_EQ_UINT(0, c.hanging_ms);
	CHECK_EQ_UINT(0, c.unanswered_ms);
	return 0;
}

/* A socket silent for silent ms both ways (sent and received), with the
 * keepalive timer due in due ms when due is not NO_TIMER. */
#define NO_TIMER UINT32_MAX
static struct classification judged(uint32_t sent, uint32_t recv, uint32_t due, uint8_t probes,
				    uint32_t path)
{
	struct sock_record r =
	    rec(TCPS_ESTABLISHED, due == NO_TIMER ? 0 : DIAG_TIMER_KEEPALIVE, probes, recv, recv);
	struct classification c;

	r.info.tcpi_last_data_sent = sent;
	r.expires_ms = due == NO_TIMER ? 0 : due;
	classify_socket(&r, 0, &c);
	classify_set_path(&c, path);
	return c;
}

#define PATH_FLAGS (SC_IDLE_PAST_PATH | SC_KEEPALIVE_SLOWER_THAN_PATH)

/* The path's idle timeout against silence and the inferred keepalive. */
DEF_TEST(path_idle)
{
	struct classification c;
	struct sock_record r;

	/* unset: nothing judged, whatever the silence */
	CHECK_EQ_UINT(0, judged(900000, 900000, NO_TIMER, 0, 0).flags & PATH_FLAGS);
	/* no keepalive, silent both ways past the path */
	c = judged(6000, 6000, NO_TIMER, 0, 5000);
	CHECK_EQ_UINT(SC_IDLE_PAST_PATH, c.flags & PATH_FLAGS);
	CHECK_EQ_UINT(6000, c.silent_ms);
	CHECK_EQ_UINT(0, c.keepalive_idle_ms);
	/* just under: not yet */
	CHECK_EQ_UINT(0, judged(4999, 4999, NO_TIMER, 0, 5000).flags & PATH_FLAGS);
	/* we sent data recently: the flow is not idle (its ACK will come) */
	CHECK_EQ_UINT(0, judged(100, 6000, NO_TIMER, 0, 5000).flags & PATH_FLAGS);
	/* received recently, sent long ago: not idle either */
	CHECK_EQ_UINT(0, judged(6000, 100, NO_TIMER, 0, 5000).flags & PATH_FLAGS);
	/* keepalive idle 5 s (2 s silent, next probe in 3 s) vs path 5 s:
	 * slower (equal cannot keep it alive), not yet past the path */
	c = judged(2000, 2000, 3000, 0, 5000);
	CHECK_EQ_UINT(5000, c.keepalive_idle_ms);
	CHECK_EQ_UINT(3000, c.keepalive_due_ms);
	CHECK_EQ_UINT(SC_KEEPALIVE_SLOWER_THAN_PATH, c.flags & PATH_FLAGS);
	/* the same keepalive against a 6 s path: fine */
	CHECK_EQ_UINT(0, judged(2000, 2000, 3000, 0, 6000).flags & PATH_FLAGS);
	/* a healthy keepalive pool: idle 1 s, silence never grows past it */
	CHECK_EQ_UINT(0, judged(600000, 400, 600, 0, 5000).flags & PATH_FLAGS);
	/* timer overdue (expires 0) and silent past the path: both */
	c = judged(6000, 6000, 0, 0, 5000);
	CHECK_EQ_UINT(PATH_FLAGS, c.flags & PATH_FLAGS);
	/* a busy socket's timer reads short (traffic since it last ran),
	 * but silence past the path proves no probe went out in time */
	c = judged(5200, 5200, 100, 0, 5000);
	CHECK_EQ_UINT(PATH_FLAGS, c.flags & PATH_FLAGS);
	/* keepalive probing: keepalive_probing's case, not these */
	c = judged(9000, 9000, 1000, 2, 5000);
	CHECK_EQ_UINT(0, c.flags & PATH_FLAGS);
	CHECK_EQ_UINT(0, c.keepalive_idle_ms);
	CHECK(c.flags & SC_KEEPALIVE_PROBING);
	/* a hanging request: retransmitting's case */
	r = rec(TCPS_ESTABLISHED, DIAG_TIMER_RETRANS, 2, 9000, 9000);
	r.info.tcpi_last_data_sent = 9000;
	classify_socket(&r, 0, &c);
	classify_set_path(&c, 5000);
	CHECK_EQ_UINT(0, c.flags & PATH_FLAGS);
	/* never received anything (stamps would read the uptime) */
	r = rec(TCPS_ESTABLISHED, 0, 0, 900000, 900000);
	r.info.tcpi_last_data_sent = 900000;
	r.info_len = sizeof(r.info);
	classify_socket(&r, 0, &c);
	classify_set_path(&c, 5000);
	CHECK_EQ_UINT(0, c.flags & PATH_FLAGS);
	/* CLOSE_WAIT: not an idle pool member */
	r = rec(TCPS_CLOSE_WAIT, 0, 0, 9000, 9000);
	r.info.tcpi_last_data_sent = 9000;
	classify_socket(&r, 0, &c);
	classify_set_path(&c, 5000);
	CHECK_EQ_UINT(0, c.flags & PATH_FLAGS);
	/* the sum saturates */
	c = judged(10, UINT32_MAX - 5, 100, 0, 5000);
	CHECK_EQ_UINT(UINT32_MAX, c.keepalive_idle_ms);
	return 0;
}

/* sock_ages: first sighting kept across consecutive collections only. */
DEF_TEST(sock_ages)
{
	struct sock_ages *a = NULL;

	CHECK_EQ_INT(0, sock_ages_new(&a));
	sock_ages_next(a);
	CHECK_EQ_UINT(1000, sock_ages_since(a, 7, 1000));
	CHECK_EQ_UINT(1000, sock_ages_since(a, 7, 1500)); /* dump redone */
	CHECK_EQ_UINT(1500, sock_ages_since(a, 0, 1500)); /* no cookie: age 0 */
	for (uint64_t k = 100; k < 1100; k++) /* forces growth */
		CHECK_EQ_UINT(1000, sock_ages_since(a, k, 1000));
	sock_ages_next(a);
	CHECK_EQ_UINT(1000, sock_ages_since(a, 7, 2000));
	CHECK_EQ_UINT(1, sock_ages_count(a));
	sock_ages_next(a); /* 7 not seen hanging in this one */
	sock_ages_next(a);
	CHECK_EQ_UINT(4000, sock_ages_since(a, 7, 4000));
	CHECK_EQ_UINT(4000, sock_ages_since(a, 100, 4000));
	sock_ages_free(a);
	sock_ages_free(NULL);
	return 0;
}

/* Expected verdicts of tests/fixtures/states.nldump (see record.py),
 * keyed by the socket's own port pair; stale_after 3s. */
struct expect_ctx {
	int checked, wrong;
};

static void check_recorded(const struct sock_record *r, void *p)
{
	struct expect_ctx *e = p;
	unsigned want;
	struct classification c;

	if (r->state == TCPS_LISTEN)
		return;
	classify_socket(r, 3000, &c);
	switch (r->dport) { /* client sides */
	case 12345: want = SC_ESTABLISHED | SC_STALE; break;             /* seed client */
	case 12346: want = SC_ESTABLISHED | SC_STALE | SC_RETRANSMITTING; break;
	case 12347: want = SC_ESTABLISHED | SC_STALE | SC_KEEPALIVE | SC_KEEPALIVE_PROBING; break;
	case 12348: want = SC_ESTABLISHED | SC_KEEPALIVE; break;         /* verified idle */
	case 12349: want = SC_ESTABLISHED | SC_ZERO_WINDOW; break;
	case 12350: want = SC_CLOSE_WAIT; break;
	case 12351: want = SC_ESTABLISHED | SC_STALE; break;             /* seed v6 client */
	default:
		switch (r->sport) { /* server sides */
		case 12345: want = SC_RETRANSMITTING; break;      /* FIN_WAIT1 orphan */
		case 12351: want = SC_RETRANSMITTING; break;
		case 12346: case 12347: case 12348: case 12349:
			want = SC_ESTABLISHED | SC_STALE; break;  /* silent servers, idle 4.5s */
		case 12350: want = 0; break;                      /* FIN_WAIT2 timewait */
		default: return;
		}
	}
	e->checked++;
	if (c.flags != want) {
		e->wrong++;
		printf("  port %u->%u state %u timer %u: flags 0x%x, want 0x%x\n", r->sport, r->dport,
		       r->state, r->timer, c.flags, want);
	}
	/* 12348's client runs keepalive idle 1 s, interval 1 s; the timer
	 * reads it back to within the probe's round trip and the jiffies */
	if (r->dport == 12348 && (c.keepalive_idle_ms < 900 || c.keepalive_idle_ms > 1100)) {
		e->wrong++;
		printf("  port %u->%u: keepalive idle %u ms, want ~1000\n", r->sport, r->dport,
		       c.keepalive_idle_ms);
	}
	/* ...so a 3 s path is safe for it; its server side stays silent
	 * (the client's probes are out of window and never stamp it): past
	 * the path, as docs/metrics.md warns for inbound sockets */
	classify_set_path(&c, 3000);
	if ((r->dport == 12348 && (c.flags & PATH_FLAGS)) ||
	    (r->sport == 12348 && (c.flags & PATH_FLAGS) != SC_IDLE_PAST_PATH)) {
		e->wrong++;
		printf("  port %u->%u: path flags 0x%x\n", r->sport, r->dport,
		       c.flags & PATH_FLAGS);
	}
	if ((c.flags & (SC_RETRANSMITTING | SC_KEEPALIVE_PROBING)) && c.unanswered_ms < 3000) {
		e->wrong++;
		printf("  port %u->%u: unanswered %u ms\n", r->sport, r->dport, c.unanswered_ms);
	}
}

DEF_TEST(recorded_dump)
{
	size_t len = 0;
	char *data = fixture_read("states.nldump", &len);
	struct expect_ctx e = {0};

	CHECK(data != NULL);
	CHECK(fixture_each(data, len, check_recorded, &e) > 0);
	free(data);
	CHECK_EQ_INT(14, e.checked);
	CHECK_EQ_INT(0, e.wrong);
	return 0;
}

int main(void)
{
	RUN_TEST(established_timers);
	RUN_TEST(other_states);
	RUN_TEST(ages);
	RUN_TEST(never_received);
	RUN_TEST(hanging);
	RUN_TEST(path_idle);
	RUN_TEST(sock_ages);
	RUN_TEST(recorded_dump);
	END_TEST;
}
