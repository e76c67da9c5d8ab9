/* The suspect tracker: transitions, closes and recoveries across
 * collections, idempotence under redone dumps, incomplete namespaces,
 * caps and memory, the snapshot order, and the remediation policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collectors/sockdestroy.h"
#include "collectors/suspects.h"
#include "common/buf.h"
#include "common/metric_writer.h"
#include "exporter/metrics/metrics_suspects.h"
#include "testing.h"

static struct service_result service(const char *name, enum direction dir, const char *pod_ns,
				     const char *pod)
{
	struct service_result s;

	memset(&s, 0, sizeof(s));
	s.service_id = SERVICE_ID_NONE;
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.direction = dir;
	snprintf(s.pod_namespace, sizeof(s.pod_namespace), "%s", pod_ns);
	snprintf(s.pod, sizeof(s.pod), "%s", pod);
	return s;
}

static struct service_result A, B; /* "a" outbound, "b" inbound */

static void setup(void)
{
	A = service("a", DIRECTION_OUTBOUND, "", "");
	A.service_id = 1;
	B = service("b", DIRECTION_INBOUND, "", "");
	B.service_id = 2;
}

/* One observation of socket cookie with classification flags. */
static void see_ns(struct suspects *t, uint64_t cookie, unsigned flags, uint32_t unanswered,
		   const struct service_result *svc, uint32_t ns)
{
	struct sock_record r;
	struct classification c;

	memset(&r, 0, sizeof(r));
	r.family = AF_INET;
	r.state = (flags & SC_CLOSE_WAIT) ? TCPS_CLOSE_WAIT : TCPS_ESTABLISHED;
	r.timer = (flags & SC_RETRANSMITTING)	   ? DIAG_TIMER_RETRANS
		  : (flags & SC_KEEPALIVE_PROBING) ? DIAG_TIMER_KEEPALIVE
		  : (flags & SC_ZERO_WINDOW)	   ? DIAG_TIMER_PROBE0
						   : DIAG_TIMER_NONE;
	r.retrans = (flags & (SC_RETRANSMITTING | SC_KEEPALIVE_PROBING)) ? 3 : 0;
	r.sport = (uint16_t)(40000 + cookie % 20000);
	r.dport = 12345;
	r.saddr[0] = 127, r.saddr[3] = 1;
	r.daddr[0] = 10, r.daddr[3] = (uint8_t)cookie;
	r.cookie = cookie;
	r.has_info = true;
	r.info.tcpi_backoff = 2;
	r.info.tcpi_unacked = 1;
	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.idle_ms = 5000;
	c.unanswered_ms = unanswered;
	suspects_observe(t, &r, &c, svc, ns);
}

static void see(struct suspects *t, uint64_t cookie, unsigned flags,
		const struct service_result *svc)
{
	see_ns(t, cookie, flags, (flags & (SC_RETRANSMITTING | SC_KEEPALIVE_PROBING)) ? 1000 : 0,
	       svc, 0);
}

/* A whole collection at now_ms that sees one socket. */
static void collect_one(struct suspects *t, uint64_t now_ms, uint64_t cookie, unsigned flags,
			const struct service_result *svc)
{
	suspects_begin(t, now_ms);
	see(t, cookie, flags, svc);
	suspects_end(t, true, NULL);
}

/* A whole collection at now_ms that sees socket cookie of "a" hung: its
 * retransmits unanswered for 60 s. */
static void collect_hung(struct suspects *t, uint64_t now_ms, uint64_t cookie)
{
	suspects_begin(t, now_ms);
	see_ns(t, cookie, SC_ESTABLISHED | SC_RETRANSMITTING, 60000, &A, 0);
	suspects_end(t, true, NULL);
}

/* The value of the sample whose name and labels are exactly series, or -1. */
static double sample(const struct suspects *t, const char *series)
{
	struct buf b;
	double v = -1;
	size_t len = strlen(series);

	buf_init(&b);
	if (metric_render(metrics_suspects_render, (void *)t, &b) == 0) {
		for (const char *p = b.data; p && *p;) {
			const char *nl = strchr(p, '\n');

			if (strncmp(p, series, len) == 0 && p[len] == ' ') {
				v = strtod(p + len + 1, NULL);
				break;
			}
			p = nl ? nl + 1 : NULL;
		}
	}
	buf_free(&b);
	return v;
}

/* A halfopen_suspect_<family> sample of service svc, direction dir. */
#define SUSPECT_SAMPLE(family, svc, dir, more)                                                     \
	sample(t, "halfopen_suspect_" family "{tcp_service=\"" svc "\",direction=\"" dir "\"" more \
		  "}")
#define BY_CONDITION(cond)	  ",condition=\"" cond "\""
#define TRANS(svc, dir, cond)	  SUSPECT_SAMPLE("transitions_total", svc, dir, BY_CONDITION(cond))
#define CLOSED(svc, dir, cond)	  SUSPECT_SAMPLE("closed_total", svc, dir, BY_CONDITION(cond))
#define RECOVERED(svc, dir, cond) SUSPECT_SAMPLE("recovered_total", svc, dir, BY_CONDITION(cond))
#define DURATION_BUCKET(svc, dir, le)                                                              \
	SUSPECT_SAMPLE("duration_seconds_bucket", svc, dir, ",le=\"" le "\"")
#define DURATION_SUM(svc, dir)	 SUSPECT_SAMPLE("duration_seconds_sum", svc, dir, "")
#define DURATION_COUNT(svc, dir) SUSPECT_SAMPLE("duration_seconds_count", svc, dir, "")

DEF_TEST(conditions)
{
	CHECK_EQ_UINT(0, suspect_conditions_of(SC_ESTABLISHED | SC_KEEPALIVE));
	CHECK_EQ_UINT((1u << SUSPECT_RETRANSMITTING) | (1u << SUSPECT_STALE),
		      suspect_conditions_of(SC_ESTABLISHED | SC_RETRANSMITTING | SC_STALE));
	CHECK_EQ_UINT(1u << SUSPECT_CLOSE_WAIT, suspect_conditions_of(SC_CLOSE_WAIT));
	CHECK_EQ_UINT(1u << SUSPECT_ZERO_WINDOW, suspect_conditions_of(SC_ZERO_WINDOW));
	CHECK_EQ_UINT(1u << SUSPECT_KEEPALIVE_PROBING,
		      suspect_conditions_of(SC_KEEPALIVE_PROBING | SC_KEEPALIVE));
	CHECK_EQ_STR("retransmitting", suspect_condition_name(SUSPECT_RETRANSMITTING));
	CHECK_EQ_STR("close_wait", suspect_condition_name(SUSPECT_CLOSE_WAIT));
	CHECK(suspect_condition_name(SUSPECT_NCOND) == NULL);
	return 0;
}

DEF_TEST(healthy_sockets_cost_nothing)
{
	struct suspects *t;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	suspects_begin(t, 1000);
	for (uint64_t c = 1; c <= 1000; c++)
		see(t, c, SC_ESTABLISHED | SC_KEEPALIVE, &A);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(0, suspects_count(t));
	/* No series until a service has a suspect. */
	CHECK(TRANS("a", "outbound", "stale") == -1);
	CHECK_EQ_INT(0, (int)sample(t, "halfopen_suspects_tracked"));
	suspects_free(t);
	return 0;
}

DEF_TEST(transition_close_and_first_increment)
{
	struct suspects *t;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	/* 1: a stale socket appears; its series is born at 0. */
	suspects_begin(t, 1000);
	see(t, 7, SC_ESTABLISHED | SC_STALE, &A);
	see(t, 8, SC_ESTABLISHED, &A);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(1, suspects_count(t));
	CHECK(TRANS("a", "outbound", "stale") == 0);
	CHECK(TRANS("a", "outbound", "retransmitting") == 0);
	CHECK(CLOSED("a", "outbound", "stale") == 0);
	/* 2: still stale, now retransmitting too: the held-back stale
	 * transition is published, the new one counts at once. */
	collect_one(t, 2000, 7, SC_ESTABLISHED | SC_STALE | SC_RETRANSMITTING, &A);
	CHECK(TRANS("a", "outbound", "stale") == 1);
	CHECK(TRANS("a", "outbound", "retransmitting") == 1);
	/* 3: gone (killed by retries): closed under both, 2 s in the
	 * histogram. */
	collect_one(t, 3000, 8, SC_ESTABLISHED, &A);
	CHECK_EQ_UINT(0, suspects_count(t));
	CHECK(CLOSED("a", "outbound", "stale") == 1);
	CHECK(CLOSED("a", "outbound", "retransmitting") == 1);
	CHECK(CLOSED("a", "outbound", "zero_window") == 0);
	CHECK(RECOVERED("a", "outbound", "stale") == 0);
	CHECK(DURATION_BUCKET("a", "outbound", "1") == 0);
	CHECK(DURATION_BUCKET("a", "outbound", "5") == 1);
	CHECK(DURATION_BUCKET("a", "outbound", "+Inf") == 1);
	CHECK(DURATION_SUM("a", "outbound") == 2);
	CHECK(DURATION_COUNT("a", "outbound") == 1);
	suspects_free(t);
	return 0;
}

DEF_TEST(redone_dump_counts_once)
{
	struct suspects *t;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	collect_one(t, 1000, 1, SC_ESTABLISHED, &A);
	collect_one(t, 2000, 2, SC_ESTABLISHED | SC_STALE, &A); /* gives "a" a series */

	suspects_begin(t, 3000);
	see(t, 3, SC_ESTABLISHED | SC_ZERO_WINDOW, &A);
	see(t, 4, SC_ESTABLISHED | SC_RETRANSMITTING, &A);
	/* The kernel interrupted the dump: everything again, and socket 4
	 * recovered in between. */
	see(t, 2, SC_ESTABLISHED | SC_STALE, &A);
	see(t, 3, SC_ESTABLISHED | SC_ZERO_WINDOW, &A);
	see(t, 4, SC_ESTABLISHED, &A);
	suspects_end(t, true, NULL);
	CHECK(TRANS("a", "outbound", "zero_window") == 1);
	CHECK(TRANS("a", "outbound", "retransmitting") == 0);
	CHECK(TRANS("a", "outbound", "stale") == 1);
	CHECK(RECOVERED("a", "outbound", "retransmitting") == 0);
	CHECK(DURATION_COUNT("a", "outbound") == 0);
	CHECK_EQ_UINT(2, suspects_count(t));
	suspects_free(t);
	return 0;
}

DEF_TEST(recovery)
{
	struct suspects *t;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	collect_one(t, 0, 5, SC_ESTABLISHED | SC_RETRANSMITTING | SC_STALE, &A);
	/* The peer ACKs (no data yet): retransmitting clears, stale stays;
	 * then data arrives. The pool hung 40 s and recovered. */
	collect_one(t, 20000, 5, SC_ESTABLISHED | SC_STALE, &A);
	CHECK(RECOVERED("a", "outbound", "retransmitting") == 1);
	CHECK_EQ_UINT(1, suspects_count(t));
	collect_one(t, 40000, 5, SC_ESTABLISHED, &A);
	CHECK_EQ_UINT(0, suspects_count(t));
	CHECK(RECOVERED("a", "outbound", "stale") == 1);
	CHECK(CLOSED("a", "outbound", "stale") == 0);
	CHECK(DURATION_BUCKET("a", "outbound", "30") == 0);
	CHECK(DURATION_BUCKET("a", "outbound", "60") == 1);
	/* A new episode of the same socket is a new transition. */
	collect_one(t, 50000, 5, SC_ESTABLISHED | SC_STALE, &A);
	CHECK(TRANS("a", "outbound", "stale") == 2);
	suspects_free(t);
	return 0;
}

DEF_TEST(incomplete_collections_close_nothing)
{
	struct suspects *t;
	struct collection_result res;
	struct service_result only_b = service("b", DIRECTION_INBOUND, "", "");

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	suspects_begin(t, 0);
	see_ns(t, 1, SC_ESTABLISHED | SC_STALE, 0, &A, 0);
	see_ns(t, 2, SC_ESTABLISHED | SC_STALE, 0, &A, 1);
	see_ns(t, 3, SC_ESTABLISHED | SC_STALE, 0, &B, 2);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(3, suspects_count(t));

	/* The whole collection failed. */
	suspects_begin(t, 1000);
	suspects_end(t, false, NULL);
	CHECK_EQ_UINT(3, suspects_count(t));

	/* Namespace 1 failed: its suspect is kept, the others close. */
	suspects_begin(t, 2000);
	suspects_ns_incomplete(t, 1);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(1, suspects_count(t));
	CHECK(CLOSED("a", "outbound", "stale") == 1);
	CHECK(CLOSED("b", "inbound", "stale") == 1);

	/* Kept ones are listed as not current. */
	{
		struct suspect_snapshot *snap;

		CHECK_EQ_INT(0, suspects_snapshot(t, 10, &snap));
		CHECK_EQ_UINT(1, snap->n_rows);
		CHECK_EQ_UINT(2, snap->rows[0].cookie);
		CHECK(!snap->rows[0].current);
		suspect_snapshot_unref(snap);
	}

	/* A reload dropped service "a": its unseen suspect is forgotten,
	 * not counted as closed. */
	memset(&res, 0, sizeof(res));
	res.services = &only_b;
	res.n_services = 1;
	suspects_begin(t, 3000);
	suspects_end(t, true, &res);
	CHECK_EQ_UINT(0, suspects_count(t));
	CHECK(CLOSED("a", "outbound", "stale") == 1);
	suspects_free(t);
	return 0;
}

DEF_TEST(cap_and_dropped)
{
	struct suspects_options opt = {.max_suspects = 3, .max_series = 1};
	struct suspects *t;

	CHECK_EQ_INT(0, suspects_new(&opt, &t));
	suspects_begin(t, 0);
	for (uint64_t c = 1; c <= 5; c++)
		see(t, c, SC_ESTABLISHED | SC_STALE, &A);
	see(t, 6, SC_ESTABLISHED | SC_STALE, &B); /* a second series: over max_series */
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(3, suspects_count(t));
	CHECK_EQ_INT(3, (int)sample(t, "halfopen_suspects_dropped_total"));
	CHECK_EQ_INT(3, (int)sample(t, "halfopen_suspects_tracked"));
	CHECK_EQ_INT(3, (int)sample(t, "halfopen_suspects_tracked_max"));
	/* Tracked ones keep being tracked; the table never grows past 3. */
	suspects_begin(t, 1000);
	for (uint64_t c = 1; c <= 5; c++)
		see(t, c, SC_ESTABLISHED | SC_STALE, &A);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(3, suspects_count(t));
	CHECK_EQ_INT(5, (int)sample(t, "halfopen_suspects_dropped_total"));
	CHECK(TRANS("a", "outbound", "stale") == 3);
	suspects_free(t);
	return 0;
}

DEF_TEST(grow_shrink_and_memory)
{
	struct suspects *t;
	size_t empty, at10k, after;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	empty = suspects_memory_bytes(t);
	suspects_begin(t, 0);
	for (uint64_t c = 1; c <= 10000; c++)
		see(t, c * 7919, SC_ESTABLISHED | SC_RETRANSMITTING, &A);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(10000, suspects_count(t));
	at10k = suspects_memory_bytes(t);
	printf("memory: empty %zu B, 10k suspects %zu B (%.1f B per suspect)\n", empty, at10k,
	       (double)(at10k - empty) / 10000);
	CHECK(at10k < 4u * 1024 * 1024);

	/* Half go away; the rest are still found (the index survived the
	 * compaction): no new transitions for them. */
	suspects_begin(t, 1000);
	for (uint64_t c = 1; c <= 10000; c += 2)
		see(t, c * 7919, SC_ESTABLISHED | SC_RETRANSMITTING, &A);
	suspects_end(t, true, NULL);
	CHECK_EQ_UINT(5000, suspects_count(t));
	CHECK(TRANS("a", "outbound", "retransmitting") == 10000);
	CHECK(CLOSED("a", "outbound", "retransmitting") == 5000);

	/* All go: the memory shrinks back towards empty. */
	for (int i = 0; i < 8; i++) {
		suspects_begin(t, 2000 + (uint64_t)i);
		suspects_end(t, true, NULL);
	}
	after = suspects_memory_bytes(t);
	CHECK_EQ_UINT(0, suspects_count(t));
	CHECK(after < empty + 64 * 1024);
	suspects_free(t);
	return 0;
}

DEF_TEST(owners_and_pods)
{
	struct suspects *t;
	struct service_result p1 = service("a", DIRECTION_OUTBOUND, "shop", "cart-7d9f"),
			      p2 = service("a", DIRECTION_OUTBOUND, "shop", "cart-abcd");
	struct suspect_snapshot *snap;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	suspects_begin(t, 0);
	see(t, 1, SC_ESTABLISHED | SC_STALE, &p1);
	see(t, 2, SC_ESTABLISHED | SC_STALE, &p2);
	see(t, 3, SC_ESTABLISHED | SC_STALE, &p1);
	suspects_end(t, true, NULL);
	/* Socket 3 moves to another pod's attribution. */
	suspects_begin(t, 1000);
	see(t, 1, SC_ESTABLISHED | SC_STALE, &p1);
	see(t, 2, SC_ESTABLISHED | SC_STALE, &p2);
	see(t, 3, SC_ESTABLISHED | SC_STALE, &p2);
	suspects_end(t, true, NULL);
	CHECK_EQ_INT(0, suspects_snapshot(t, 10, &snap));
	CHECK_EQ_UINT(3, snap->n_rows);
	suspects_free(t); /* the snapshot owns its strings */
	for (size_t i = 0; i < snap->n_rows; i++) {
		CHECK_EQ_STR("a", snap->rows[i].service);
		CHECK_EQ_STR("shop", snap->rows[i].pod_namespace);
		CHECK_EQ_STR(snap->rows[i].cookie == 1 ? "cart-7d9f" : "cart-abcd",
			     snap->rows[i].pod);
	}
	CHECK(suspect_snapshot_ref(snap) == snap);
	suspect_snapshot_unref(snap);
	suspect_snapshot_unref(snap);
	suspect_snapshot_unref(NULL);
	return 0;
}

DEF_TEST(snapshot_worst_first)
{
	struct suspects *t;
	struct suspect_snapshot *snap;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	suspects_begin(t, 100000);
	see_ns(t, 10, SC_ESTABLISHED | SC_STALE, 0, &A, 0);
	see_ns(t, 11, SC_CLOSE_WAIT, 0, &A, 0);
	see_ns(t, 12, SC_ESTABLISHED | SC_RETRANSMITTING, 5000, &A, 0);
	see_ns(t, 13, SC_ESTABLISHED | SC_KEEPALIVE_PROBING, 5000, &A, 0);
	see_ns(t, 14, SC_ESTABLISHED | SC_RETRANSMITTING, 9000, &B, 0);
	see_ns(t, 15, SC_ESTABLISHED | SC_ZERO_WINDOW, 0, &A, 0);
	suspects_end(t, true, NULL);
	CHECK_EQ_INT(0, suspects_snapshot(t, 4, &snap));
	CHECK_EQ_UINT(6, snap->total);
	CHECK_EQ_UINT(4, snap->n_rows);
	CHECK_EQ_UINT(100000, snap->now_ms);
	CHECK_EQ_UINT(14, snap->rows[0].cookie); /* longest unanswered */
	CHECK_EQ_UINT(12, snap->rows[1].cookie); /* tie: retransmitting beats probing */
	CHECK_EQ_UINT(13, snap->rows[2].cookie);
	CHECK_EQ_UINT(15, snap->rows[3].cookie); /* zero window, then stale, close_wait */
	CHECK_EQ_STR("b", snap->rows[0].service);
	CHECK_EQ_UINT(DIRECTION_INBOUND, snap->rows[0].direction);
	CHECK_EQ_UINT(12345, snap->rows[0].dport);
	CHECK_EQ_UINT(2, snap->rows[0].backoff);
	CHECK_EQ_UINT(1, snap->rows[0].unacked);
	CHECK_EQ_UINT(100000, snap->rows[0].since_ms[SUSPECT_RETRANSMITTING]);
	CHECK_EQ_UINT(0, snap->rows[0].since_ms[SUSPECT_STALE]);
	suspect_snapshot_unref(snap);
	suspects_free(t);
	return 0;
}

static struct suspect_info due_base(void)
{
	struct suspect_info s;

	memset(&s, 0, sizeof(s));
	s.current = true;
	s.has_info = true;
	s.conditions = 1u << SUSPECT_RETRANSMITTING;
	s.since_ms[SUSPECT_RETRANSMITTING] = 10000;
	s.unanswered_ms = 95000;
	return s;
}

DEF_TEST(remediation_policy)
{
	struct suspect_info s = due_base();

	/* Retransmitting, seen for 90 s, unanswered 95 s: due at 90 s. */
	CHECK(suspect_remediation_due(&s, 90000, 100000));
	/* A collection starting a few ms early relative to the first one is
	 * the same slot of the cadence; a whole interval early is not. */
	CHECK(suspect_remediation_due(&s, 90000, 99990));
	CHECK(!suspect_remediation_due(&s, 90000, 99000));
	/* Not opted in. */
	CHECK(!suspect_remediation_due(&s, 0, 100000));
	/* A loss after a long quiet spell: the kernel's age is old, ours
	 * young. */
	s.since_ms[SUSPECT_RETRANSMITTING] = 99000;
	CHECK(!suspect_remediation_due(&s, 90000, 100000));
	/* Progressing: we have seen it long, but the peer ACKed recently. */
	s = due_base();
	s.unanswered_ms = 2000;
	CHECK(!suspect_remediation_due(&s, 90000, 100000));
	/* Keepalive probing counts the same. */
	s = due_base();
	s.conditions = 1u << SUSPECT_KEEPALIVE_PROBING;
	s.since_ms[SUSPECT_RETRANSMITTING] = 0;
	s.since_ms[SUSPECT_KEEPALIVE_PROBING] = 10000;
	CHECK(suspect_remediation_due(&s, 90000, 100000));
	/* Stale, zero window, CLOSE_WAIT never. */
	s = due_base();
	s.conditions =
	    (1u << SUSPECT_STALE) | (1u << SUSPECT_ZERO_WINDOW) | (1u << SUSPECT_CLOSE_WAIT);
	s.since_ms[SUSPECT_STALE] = s.since_ms[SUSPECT_ZERO_WINDOW] =
	    s.since_ms[SUSPECT_CLOSE_WAIT] = 1;
	CHECK(!suspect_remediation_due(&s, 90000, 100000));
	/* Not seen by the last collection (namespace failed), or no
	 * tcp_info. */
	s = due_base();
	s.current = false;
	CHECK(!suspect_remediation_due(&s, 90000, 100000));
	s = due_base();
	s.has_info = false;
	CHECK(!suspect_remediation_due(&s, 90000, 100000));
	return 0;
}

struct fake_ops {
	int result;
	int calls;
	bool saw_dry_run;
	uint64_t last_cookie;
	struct sockdestroy_target target;
};

/* Service A ("a" outbound, id 1) opted in. */
static uint32_t fake_destroy_after(void *ctx, uint32_t service_id)
{
	(void)ctx;
	return service_id == 1 ? 2000 : 0;
}

static int fake_destroy(void *ctx, const struct suspect_info *s, bool dry_run)
{
	struct fake_ops *f = ctx;

	f->calls++;
	f->saw_dry_run = dry_run;
	f->last_cookie = s->cookie;
	suspect_destroy_target(s, &f->target);
	return f->result;
}

DEF_TEST(remediate)
{
	struct suspects *t;
	struct fake_ops f = {0};
	struct remediation_ops ops = {fake_destroy_after, fake_destroy, &f};

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	for (uint64_t now = 0; now <= 4000; now += 1000) {
		suspects_begin(t, now);
		see_ns(t, 1, SC_ESTABLISHED | SC_RETRANSMITTING, 60000, &A, 0); /* opted in */
		see_ns(t, 2, SC_ESTABLISHED | SC_RETRANSMITTING, 60000, &B, 0); /* not */
		see_ns(t, 3, SC_ESTABLISHED | SC_STALE, 0, &A, 0);		/* not hung */
		suspects_end(t, true, NULL);
		suspects_remediate(t, now, false, &ops);
		if (now < 2000)
			CHECK_EQ_INT(0, f.calls);
	}
	/* Due at 2 s; once only, though still retransmitting at 3 and 4 s. */
	CHECK_EQ_INT(1, f.calls);
	CHECK_EQ_UINT(1, f.last_cookie);
	CHECK(!f.saw_dry_run);
	CHECK_EQ_UINT(AF_INET, f.target.family);
	CHECK_EQ_UINT(12345, f.target.dport);
	CHECK_EQ_UINT(1, f.target.cookie);
	CHECK(
	    sample(t,
		   "halfopen_destroyed_sockets_total{tcp_service=\"a\",direction=\"outbound\"}") ==
	    1);
	/* Only services that opted in get remediation series. */
	CHECK(sample(t,
		     "halfopen_destroyed_sockets_total{tcp_service=\"b\",direction=\"inbound\"}") ==
	      -1);
	{
		struct suspect_snapshot *snap;

		CHECK_EQ_INT(0, suspects_snapshot(t, 10, &snap));
		for (size_t i = 0; i < snap->n_rows; i++)
			CHECK(snap->rows[i].remediated == (snap->rows[i].cookie == 1));
		suspect_snapshot_unref(snap);
	}
	suspects_free(t);

	/* Dry run, and a failing destroy. */
	memset(&f, 0, sizeof(f));
	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	for (uint64_t now = 0; now <= 3000; now += 1000) {
		collect_hung(t, now, 1);
		suspects_remediate(t, now, true, &ops);
	}
	CHECK_EQ_INT(1, f.calls);
	CHECK(f.saw_dry_run);
	CHECK(
	    sample(t, "halfopen_destroy_dry_run_total{tcp_service=\"a\",direction=\"outbound\"}") ==
	    1);
	CHECK(
	    sample(t,
		   "halfopen_destroyed_sockets_total{tcp_service=\"a\",direction=\"outbound\"}") ==
	    0);
	f.result = -EPERM;
	collect_hung(t, 4000, 9);
	for (uint64_t now = 5000; now <= 7000; now += 1000) {
		collect_hung(t, now, 9);
		suspects_remediate(t, now, false, &ops);
	}
	CHECK_EQ_INT(2, f.calls);
	CHECK(
	    sample(t, "halfopen_destroy_errors_total{tcp_service=\"a\",direction=\"outbound\"}") ==
	    1);
	suspects_free(t);
	return 0;
}

DEF_TEST(render_escapes_and_types)
{
	struct suspects *t;
	struct service_result odd = service("we\"ird\\name", DIRECTION_INBOUND, "", "");
	struct buf b;

	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	collect_one(t, 0, 1, SC_ESTABLISHED | SC_STALE, &odd);
	buf_init(&b);
	CHECK_EQ_INT(0, metric_render(metrics_suspects_render, t, &b));
	CHECK_CONTAINS("tcp_service=\"we\\\"ird\\\\name\"", b.data);
	CHECK_CONTAINS("# TYPE halfopen_suspect_transitions_total counter\n", b.data);
	CHECK_CONTAINS("# TYPE halfopen_suspect_duration_seconds histogram\n", b.data);
	CHECK_CONTAINS("# TYPE halfopen_suspects_tracked gauge\n", b.data);
	/* No remediation families without a service that opted in. */
	CHECK(strstr(b.data, "halfopen_destroyed_sockets_total") == NULL);
	buf_free(&b);
	suspects_free(t);
	suspects_free(NULL);
	return 0;
}

int main(void)
{
	setup();
	RUN_TEST(conditions);
	RUN_TEST(healthy_sockets_cost_nothing);
	RUN_TEST(transition_close_and_first_increment);
	RUN_TEST(redone_dump_counts_once);
	RUN_TEST(recovery);
	RUN_TEST(incomplete_collections_close_nothing);
	RUN_TEST(cap_and_dropped);
	RUN_TEST(grow_shrink_and_memory);
	RUN_TEST(owners_and_pods);
	RUN_TEST(snapshot_worst_first);
	RUN_TEST(remediation_policy);
	RUN_TEST(remediate);
	RUN_TEST(render_escapes_and_types);
	END_TEST;
}
