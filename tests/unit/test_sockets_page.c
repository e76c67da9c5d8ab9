/* The /sockets page: query parsing and negotiation, the JSON schema and
 * the HTML table, from snapshots of a real tracker. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "collectors/suspects.h"
#include "common/buf.h"
#include "exporter/sockets_page.h"
#include "testing.h"

DEF_TEST(limit)
{
	struct sockets_page_query q;

	CHECK_EQ_INT(0, sockets_page_parse_query(NULL, NULL, NULL, &q));
	CHECK_EQ_UINT(SOCKETS_PAGE_DEFAULT_LIMIT, q.limit);
	CHECK_EQ_UINT(SOCKETS_PAGE_JSON, q.format);
	CHECK_EQ_INT(0, sockets_page_parse_query("1", NULL, NULL, &q));
	CHECK_EQ_UINT(1, q.limit);
	CHECK_EQ_INT(0, sockets_page_parse_query("250", NULL, NULL, &q));
	CHECK_EQ_UINT(250, q.limit);
	CHECK_EQ_INT(0, sockets_page_parse_query("1000", NULL, NULL, &q));
	CHECK_EQ_UINT(1000, q.limit);
	/* Past the maximum, however far: the maximum. */
	CHECK_EQ_INT(0, sockets_page_parse_query("1001", NULL, NULL, &q));
	CHECK_EQ_UINT(SOCKETS_PAGE_MAX_LIMIT, q.limit);
	CHECK_EQ_INT(0, sockets_page_parse_query("99999999999999999999999999", NULL, NULL, &q));
	CHECK_EQ_UINT(SOCKETS_PAGE_MAX_LIMIT, q.limit);
	q.limit = 7;
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query("0", NULL, NULL, &q));
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query("", NULL, NULL, &q));
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query("-5", NULL, NULL, &q));
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query("+5", NULL, NULL, &q));
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query("10x", NULL, NULL, &q));
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query(" 10", NULL, NULL, &q));
	CHECK_EQ_UINT(7, q.limit); /* untouched on error */
	return 0;
}

DEF_TEST(format_and_accept)
{
	static const char firefox[] =
	    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
	static const char chromium[] =
	    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
	    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
	struct sockets_page_query q;

	CHECK(sockets_page_accepts_html(firefox));
	CHECK(sockets_page_accepts_html(chromium));
	CHECK(sockets_page_accepts_html("TEXT/HTML"));
	CHECK(!sockets_page_accepts_html(NULL));
	CHECK(!sockets_page_accepts_html(""));
	CHECK(!sockets_page_accepts_html("*/*"));			  /* curl */
	CHECK(!sockets_page_accepts_html("application/json"));		  /* scripts */
	CHECK(!sockets_page_accepts_html("text/html;q=0"));		  /* refused */
	CHECK(!sockets_page_accepts_html("text/html, application/json")); /* tie: JSON */
	CHECK(sockets_page_accepts_html("application/json;q=0.5, text/html"));
	CHECK(!sockets_page_accepts_html("text/html;q=0.5, application/*"));
	CHECK(sockets_page_accepts_html("text/html ; q=0.9 , */* ; q=0.1"));
	CHECK(!sockets_page_accepts_html("text/htmlx"));

	CHECK_EQ_INT(0, sockets_page_parse_query(NULL, NULL, chromium, &q));
	CHECK_EQ_UINT(SOCKETS_PAGE_HTML, q.format);
	/* ?format= wins over Accept. */
	CHECK_EQ_INT(0, sockets_page_parse_query(NULL, "json", chromium, &q));
	CHECK_EQ_UINT(SOCKETS_PAGE_JSON, q.format);
	CHECK_EQ_INT(0, sockets_page_parse_query(NULL, "html", "*/*", &q));
	CHECK_EQ_UINT(SOCKETS_PAGE_HTML, q.format);
	CHECK_EQ_INT(-EINVAL, sockets_page_parse_query(NULL, "xml", NULL, &q));
	CHECK_EQ_STR("application/json; charset=utf-8",
		     sockets_page_content_type(SOCKETS_PAGE_JSON));
	CHECK_EQ_STR("text/html; charset=utf-8", sockets_page_content_type(SOCKETS_PAGE_HTML));
	return 0;
}

/* A tracker with two suspects: an IPv4 client retransmitting for 30 s and
 * an IPv6 server socket in CLOSE_WAIT, in a pod with an odd name. */
static int make_snapshot(struct suspect_snapshot **out)
{
	struct suspects *t;
	struct service_result a, b;
	struct sock_record r;
	struct classification c;
	int ret;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "db");
	a.direction = DIRECTION_OUTBOUND;
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "web");
	b.direction = DIRECTION_INBOUND;
	snprintf(b.pod_namespace, sizeof(b.pod_namespace), "shop");
	/* Not valid UTF-8 either (pod names come from the node's files). */
	snprintf(b.pod, sizeof(b.pod), "<script>\"x\"</script>\xff");

	ret = suspects_new(NULL, &t);
	if (ret < 0)
		return ret;
	for (uint64_t now = 10000; now <= 40000; now += 30000) {
		suspects_begin(t, now);
		memset(&r, 0, sizeof(r));
		r.family = AF_INET;
		r.state = TCPS_ESTABLISHED;
		r.timer = DIAG_TIMER_RETRANS;
		r.retrans = 4;
		r.sport = 43210;
		r.dport = 5432;
		inet_pton(AF_INET, "10.0.0.5", r.saddr);
		inet_pton(AF_INET, "10.0.9.9", r.daddr);
		r.wqueue = 100;
		r.cookie = 0xfedcba9876543210ull;
		r.has_info = true;
		r.info.tcpi_backoff = 4;
		r.info.tcpi_unacked = 1;
		r.info.tcpi_total_retrans = 6;
		memset(&c, 0, sizeof(c));
		c.flags = SC_ESTABLISHED | SC_RETRANSMITTING | SC_STALE | SC_KEEPALIVE;
		c.idle_ms = 31000;
		c.unanswered_ms = 31000;
		c.silent_ms = 30500;
		suspects_observe(t, &r, &c, &a, 0);

		memset(&r, 0, sizeof(r));
		r.family = AF_INET6;
		r.state = TCPS_CLOSE_WAIT;
		r.sport = 8080;
		r.dport = 51000;
		inet_pton(AF_INET6, "fd00::1", r.saddr);
		inet_pton(AF_INET6, "fd00::2", r.daddr);
		r.rqueue = 1;
		r.cookie = 42;
		r.has_info = true;
		memset(&c, 0, sizeof(c));
		c.flags = SC_CLOSE_WAIT;
		c.idle_ms = 100;
		suspects_observe(t, &r, &c, &b, 3);
		suspects_end(t, true, NULL);
	}
	ret = suspects_snapshot(t, SOCKETS_PAGE_MAX_LIMIT, out);
	suspects_free(t);
	if (ret == 0)
		(*out)->unix_time = 1764057600.5;
	return ret;
}

static int render(const struct suspect_snapshot *snap, const char *limit, const char *format,
		  struct buf *b)
{
	struct sockets_page_query q;
	int r = sockets_page_parse_query(limit, format, NULL, &q);

	buf_init(b);
	return r < 0 ? r : sockets_page_render(snap, &q, b);
}

DEF_TEST(json)
{
	struct suspect_snapshot *snap;
	struct buf b;

	CHECK_EQ_INT(0, make_snapshot(&snap));
	CHECK_EQ_INT(0, render(snap, NULL, "json", &b));
	CHECK_CONTAINS("{\"schema\":\"halfopen.sockets.v1\",\"collected\":true,"
		       "\"collection_time\":1764057600.5,\"total\":2,\"shown\":2,\"limit\":100,"
		       "\"truncated\":false,\"dropped_total\":0,\"sockets\":[\n",
		       b.data);
	/* The worst first, every field. */
	CHECK_CONTAINS(
	    "[\n{\"service\":\"db\",\"direction\":\"outbound\",\"family\":\"ipv4\","
	    "\"local_address\":\"10.0.0.5\",\"local_port\":43210,"
	    "\"peer_address\":\"10.0.9.9\",\"peer_port\":5432,\"state\":\"ESTAB\","
	    "\"class\":[\"retransmitting\",\"stale\"],\"keepalive\":true,\"timer\":\"on\","
	    "\"idle_ms\":31000,\"unanswered_ms\":31000,\"suspect_ms\":30000,"
	    "\"condition_ms\":{\"retransmitting\":30000,\"stale\":30000},"
	    "\"retransmits\":4,\"total_retransmits\":6,\"backoff\":4,\"unacked\":1,"
	    "\"recv_q\":0,\"send_q\":100,\"netns\":0,\"pod_namespace\":null,\"pod\":null,"
	    "\"cookie\":\"18364758544493064720\",\"current\":true,\"remediated\":false,"
	    "\"silent_ms\":30500,\"path\":[],\"keepalive_effective\":{\"idle_ms\":null,"
	    "\"idle_known\":\"unknown\",\"interval_ms\":null,\"interval_known\":\"unknown\","
	    "\"count\":null,\"count_known\":\"unknown\",\"probes_out\":0,\"next_timer_ms\":0},"
	    "\"user_timeout\":{\"ms\":null,\"known\":\"unknown\"}},\n",
	    b.data);
	CHECK_CONTAINS("{\"service\":\"web\",\"direction\":\"inbound\",\"family\":\"ipv6\","
		       "\"local_address\":\"fd00::1\",\"local_port\":8080,"
		       "\"peer_address\":\"fd00::2\",\"peer_port\":51000,\"state\":\"CLOSE-WAIT\","
		       "\"class\":[\"close_wait\"],\"keepalive\":false,\"timer\":\"off\"",
		       b.data);
	CHECK_CONTAINS("\"netns\":3,\"pod_namespace\":\"shop\","
		       "\"pod\":\"<script>\\\"x\\\"</script>\\ufffd\"",
		       b.data);
	CHECK_CONTAINS("}\n]}\n", b.data);
	buf_free(&b);

	CHECK_EQ_INT(0, render(snap, "1", NULL, &b));
	CHECK_CONTAINS("\"total\":2,\"shown\":1,\"limit\":1,\"truncated\":true", b.data);
	CHECK(strstr(b.data, "\"web\"") == NULL);
	buf_free(&b);
	suspect_snapshot_unref(snap);

	CHECK_EQ_INT(0, render(NULL, NULL, NULL, &b));
	CHECK_EQ_STR("{\"schema\":\"halfopen.sockets.v1\",\"collected\":false,"
		     "\"collection_time\":null,\"total\":0,\"shown\":0,\"limit\":100,"
		     "\"truncated\":false,\"dropped_total\":0,\"sockets\":[\n]}\n",
		     b.data);
	buf_free(&b);
	return 0;
}

/* A stale keepalive socket past the path (keepalive idle 20 s read from
 * the timer), then the same socket probing: what is known and how. */
DEF_TEST(timeouts)
{
	struct suspects *t = NULL;
	struct suspect_snapshot *snap = NULL;
	struct service_result a;
	struct sock_record r;
	struct classification c;
	struct sockets_page_query q;
	struct buf b;

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "cache");
	a.direction = DIRECTION_OUTBOUND;
	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	CHECK_EQ_INT(0, sockets_page_parse_query(NULL, "json", NULL, &q));
	for (int probing = 0; probing <= 1; probing++) {
		memset(&r, 0, sizeof(r));
		r.family = AF_INET;
		r.state = TCPS_ESTABLISHED;
		r.timer = DIAG_TIMER_KEEPALIVE;
		r.retrans = (uint8_t)(probing ? 2 : 0);
		r.expires_ms = probing ? 700 : 8000;
		r.cookie = 7;
		r.has_info = true;
		r.info.tcpi_segs_in = 5;
		r.info_len = sizeof(r.info);
		r.info.tcpi_last_data_recv = r.info.tcpi_last_ack_recv = 12000;
		r.info.tcpi_last_data_sent = 12000;
		classify_socket(&r, 10000, &c);
		classify_set_path(&c, 10000);
		suspects_begin(t, 1000u + 1000u * (unsigned)probing);
		suspects_observe(t, &r, &c, &a, 0);
		suspects_end(t, true, NULL);
		CHECK_EQ_INT(0, suspects_snapshot(t, 10, &snap));
		buf_init(&b);
		CHECK_EQ_INT(0, sockets_page_render(snap, &q, &b));
		if (!probing)
			CHECK_CONTAINS("\"silent_ms\":12000,\"path\":[\"idle_past_path_timeout\","
				       "\"keepalive_slower_than_path\"],\"keepalive_effective\":{"
				       "\"idle_ms\":20000,\"idle_known\":\"inferred\","
				       "\"interval_ms\":null,\"interval_known\":\"unknown\","
				       "\"count\":null,\"count_known\":\"unknown\",\"probes_out\":0,"
				       "\"next_timer_ms\":8000},\"user_timeout\":{\"ms\":null,"
				       "\"known\":\"unknown\"}}",
				       b.data);
		else
			CHECK_CONTAINS("\"path\":[],\"keepalive_effective\":{\"idle_ms\":null,"
				       "\"idle_known\":\"unknown\",\"interval_ms\":700,"
				       "\"interval_known\":\"at_least\",\"count\":null,"
				       "\"count_known\":\"unknown\",\"probes_out\":2,"
				       "\"next_timer_ms\":700}",
				       b.data);
		buf_free(&b);
		q.format = SOCKETS_PAGE_HTML;
		buf_init(&b);
		CHECK_EQ_INT(0, sockets_page_render(snap, &q, &b));
		CHECK_CONTAINS(probing ? ">idle ?, intvl &ge; 700ms, 2 out</td>"
				       : ">idle 20s <span class=\"d\">slower than path</span></td>",
			       b.data);
		CHECK_CONTAINS(probing ? ">12s</td>" : ">12s <span class=\"d\">past path</span></td>",
			       b.data);
		q.format = SOCKETS_PAGE_JSON;
		buf_free(&b);
		suspect_snapshot_unref(snap);
	}
	suspects_free(t);
	return 0;
}

DEF_TEST(html)
{
	struct suspect_snapshot *snap;
	struct buf b;

	CHECK_EQ_INT(0, make_snapshot(&snap));
	CHECK_EQ_INT(0, render(snap, NULL, "html", &b));
	CHECK_CONTAINS("<!DOCTYPE html>", b.data);
	CHECK_CONTAINS("<p>2 suspect sockets, showing 2, worst first", b.data);
	CHECK_CONTAINS("<td>db <span class=\"d\">out</span></td><td class=\"a\">10.0.0.5:43210</td>"
		       "<td class=\"a\">10.0.9.9:5432</td><td><span class=\"c retransmitting\">"
		       "retransmitting</span><span class=\"c stale\">stale</span></td>"
		       "<td>ESTAB</td><td class=\"n\">31s</td><td class=\"n\">31s</td>"
		       "<td class=\"n\">30s</td>"
		       "<td class=\"n\">30s</td><td class=\"n\">4</td><td class=\"n\">4</td>"
		       "<td class=\"n\">1</td><td class=\"n\">100</td><td title=\"idle inferred"
		       " from the keepalive timer (docs/suspects.md); interval: at least the time "
		       "to the next probe while probing; count and user timeout are not visible "
		       "to sock_diag\">idle ?</td>"
		       "<td class=\"n\">0</td><td>-</td></tr>",
		       b.data);
	CHECK_CONTAINS("<td class=\"a\">[fd00::1]:8080</td>", b.data);
	/* Names are text, never markup. */
	CHECK_CONTAINS("<td>shop/&lt;script&gt;&quot;x&quot;&lt;/script&gt;&#xfffd;</td>", b.data);
	CHECK(strstr(b.data, "<script") == NULL);
	/* Self-contained: nothing loaded from elsewhere. */
	CHECK(strstr(b.data, "src=") == NULL);
	CHECK(strstr(b.data, "http") == NULL);
	CHECK(strstr(b.data, "<link") == NULL);
	buf_free(&b);
	suspect_snapshot_unref(snap);

	CHECK_EQ_INT(0, render(NULL, NULL, "html", &b));
	CHECK_CONTAINS("No collection yet.", b.data);
	buf_free(&b);
	return 0;
}

int main(void)
{
	RUN_TEST(limit);
	RUN_TEST(format_and_accept);
	RUN_TEST(json);
	RUN_TEST(html);
	RUN_TEST(timeouts);
	END_TEST;
}
