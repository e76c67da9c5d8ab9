/* sockets_page: rendering. Every string that came from outside (service
 * and pod names) is escaped for its context; numbers are printed with
 * plain integer formats, so the output is locale-independent. */
#include "sockets_page.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "common/buf.h"
#include "common/endpoint.h"
#include "common/escape.h"
#include "common/metric_writer.h"
#include "exporter/http/http_negotiate.h"

/* Longest "[v6-address]:port" plus NUL. */
#define ENDPOINT_LEN (INET6_ADDRSTRLEN + 9)

int sockets_page_parse_query(const char *limit, const char *format, const char *accept,
			     struct sockets_page_query *q)
{
	struct sockets_page_query r = {.limit = SOCKETS_PAGE_DEFAULT_LIMIT};

	if (limit) {
		size_t v = 0;

		if (!*limit)
			return -EINVAL;
		for (const char *p = limit; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			/* Saturate: anything past the maximum is the maximum. */
			if (v <= SOCKETS_PAGE_MAX_LIMIT)
				v = v * 10 + (size_t)(*p - '0');
		}
		if (v == 0)
			return -EINVAL;
		r.limit = v > SOCKETS_PAGE_MAX_LIMIT ? SOCKETS_PAGE_MAX_LIMIT : v;
	}
	if (format) {
		if (strcmp(format, "json") == 0)
			r.format = SOCKETS_PAGE_JSON;
		else if (strcmp(format, "html") == 0)
			r.format = SOCKETS_PAGE_HTML;
		else
			return -EINVAL;
	} else {
		r.format =
		    sockets_page_accepts_html(accept) ? SOCKETS_PAGE_HTML : SOCKETS_PAGE_JSON;
	}
	*q = r;
	return 0;
}

/* q of one media range's parameters ("; q=0.8; level=1"), 1000ths; a
 * malformed q counts as 0 (RFC 9110: the range is then not acceptable). */
static unsigned parse_q(const char *p, const char *end)
{
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;

		while (p < stop && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		if (stop - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			int v;

			p += 2;
			while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
				stop--;
			v = http_qvalue(p, (size_t)(stop - p));
			return v < 0 ? 0 : (unsigned)v;
		}
		p = semi ? semi + 1 : end;
	}
	return 1000;
}

/* Contract: walk the comma-separated media ranges once; text/html counts
 * only when named, JSON takes the q of the most specific range that
 * matches it (application/json, then application/any, then any/any). */
bool sockets_page_accepts_html(const char *accept)
{
	unsigned html = 0, json[3] = {0, 0, 0};
	bool json_seen[3] = {false, false, false};
	const char *p = accept;

	if (!accept)
		return false;
	while (*p) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *tend = semi ? semi : end;
		size_t len;
		unsigned qv;

		while (p < tend && (*p == ' ' || *p == '\t'))
			p++;
		while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
			tend--;
		len = (size_t)(tend - p);
		qv = parse_q(semi ? semi : end, end);
		if (len == 9 && strncasecmp(p, "text/html", 9) == 0) {
			if (qv > html)
				html = qv;
		} else if (len == 16 && strncasecmp(p, "application/json", 16) == 0) {
			json[0] = qv, json_seen[0] = true;
		} else if (len == 13 && strncasecmp(p, "application/*", 13) == 0) {
			json[1] = qv, json_seen[1] = true;
		} else if (len == 3 && strncmp(p, "*/*", 3) == 0) {
			json[2] = qv, json_seen[2] = true;
		}
		p = comma ? comma + 1 : end;
	}
	for (int i = 0; i < 3; i++)
		if (json_seen[i])
			return html > json[i];
	return html > 0;
}

const char *sockets_page_content_type(enum sockets_page_format f)
{
	return f == SOCKETS_PAGE_HTML ? "text/html; charset=utf-8"
				      : "application/json; charset=utf-8";
}

/* ----------------------------------------------------------- helpers */

static const char *state_name(uint8_t s)
{
	/* The names ss prints, so the page reads like `ss -tnoi`. */
	static const char *const names[] = {
	    [TCPS_ESTABLISHED] = "ESTAB",
	    [TCPS_SYN_SENT] = "SYN-SENT",
	    [TCPS_SYN_RECV] = "SYN-RECV",
	    [TCPS_FIN_WAIT1] = "FIN-WAIT-1",
	    [TCPS_FIN_WAIT2] = "FIN-WAIT-2",
	    [TCPS_TIME_WAIT] = "TIME-WAIT",
	    [TCPS_CLOSE] = "UNCONN",
	    [TCPS_CLOSE_WAIT] = "CLOSE-WAIT",
	    [TCPS_LAST_ACK] = "LAST-ACK",
	    [TCPS_LISTEN] = "LISTEN",
	    [TCPS_CLOSING] = "CLOSING",
	    [TCPS_NEW_SYN_RECV] = "NEW-SYN-RECV",
	    [TCPS_BOUND_INACTIVE] = "BOUND-INACTIVE",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "UNKNOWN";
}

static const char *timer_name(uint8_t t)
{
	switch (t) {
	case DIAG_TIMER_NONE:
		return "off";
	case DIAG_TIMER_RETRANS:
		return "on";
	case DIAG_TIMER_KEEPALIVE:
		return "keepalive";
	case DIAG_TIMER_TIME_WAIT:
		return "timewait";
	case DIAG_TIMER_PROBE0:
		return "persist";
	default:
		return "unknown";
	}
}

static uint64_t age_ms(const struct suspect_snapshot *snap, uint64_t since)
{
	return snap->now_ms > since ? snap->now_ms - since : 0;
}

static size_t rows_shown(const struct suspect_snapshot *snap, const struct sockets_page_query *q)
{
	if (!snap)
		return 0;
	return snap->n_rows < q->limit ? snap->n_rows : q->limit;
}

/* -------------------------------------------------------------- JSON */

static void json_string_or_null(struct buf *out, const char *s)
{
	if (s && *s)
		json_string(out, s);
	else
		buf_puts(out, "null");
}

/* The path classes, the keepalive as it takes effect and the user timeout,
 * each with how it is known (docs/suspects.md): sock_diag shows the
 * keepalive timer and the socket's silence, not its socket options. */
static void json_timeouts(struct buf *out, const struct suspect_info *s)
{
	bool probing = s->flags & SC_KEEPALIVE_PROBING;

	buf_printf(out, ",\"silent_ms\":%u,\"path\":[", s->silent_ms);
	if (s->flags & SC_IDLE_PAST_PATH)
		buf_printf(out, "\"idle_past_path_timeout\"%s",
			   s->flags & SC_KEEPALIVE_SLOWER_THAN_PATH ? "," : "");
	if (s->flags & SC_KEEPALIVE_SLOWER_THAN_PATH)
		buf_puts(out, "\"keepalive_slower_than_path\"");
	buf_puts(out, "],\"keepalive_effective\":");
	if (!s->keepalive) {
		buf_puts(out, "null");
	} else {
		if (s->keepalive_idle_ms)
			buf_printf(out, "{\"idle_ms\":%u,\"idle_known\":\"inferred\"",
				   s->keepalive_idle_ms);
		else
			buf_puts(out, "{\"idle_ms\":null,\"idle_known\":\"unknown\"");
		if (probing)
			buf_printf(out, ",\"interval_ms\":%u,\"interval_known\":\"at_least\"",
				   s->keepalive_due_ms);
		else
			buf_puts(out, ",\"interval_ms\":null,\"interval_known\":\"unknown\"");
		buf_printf(out,
			   ",\"count\":null,\"count_known\":\"unknown\",\"probes_out\":%u"
			   ",\"next_timer_ms\":%u}",
			   probing ? (unsigned)s->retrans : 0u, s->keepalive_due_ms);
	}
	buf_puts(out, ",\"user_timeout\":{\"ms\":null,\"known\":\"unknown\"}");
}

static void json_socket(struct buf *out, const struct suspect_snapshot *snap,
			const struct suspect_info *s)
{
	char a[INET6_ADDRSTRLEN];
	bool first = true;

	buf_puts(out, "{\"service\":");
	json_string(out, s->service);
	buf_printf(out, ",\"direction\":\"%s\",\"family\":\"%s\"", direction_name(s->direction),
		   s->family == AF_INET6 ? "ipv6" : "ipv4");
	format_addr(s->family, s->saddr, a, sizeof(a));
	buf_printf(out, ",\"local_address\":\"%s\",\"local_port\":%u", a, (unsigned)s->sport);
	format_addr(s->family, s->daddr, a, sizeof(a));
	buf_printf(out, ",\"peer_address\":\"%s\",\"peer_port\":%u", a, (unsigned)s->dport);
	buf_printf(out, ",\"state\":\"%s\",\"class\":[", state_name(s->state));
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if (s->conditions & (1u << c)) {
			buf_printf(out, "%s\"%s\"", first ? "" : ",", suspect_condition_name(c));
			first = false;
		}
	buf_printf(out, "],\"keepalive\":%s,\"timer\":\"%s\"", s->keepalive ? "true" : "false",
		   timer_name(s->timer));
	buf_printf(out, ",\"idle_ms\":%u,\"unanswered_ms\":%u,\"suspect_ms\":%llu", s->idle_ms,
		   s->unanswered_ms, (unsigned long long)age_ms(snap, s->suspect_since_ms));
	buf_puts(out, ",\"condition_ms\":{");
	first = true;
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if (s->conditions & (1u << c)) {
			buf_printf(out, "%s\"%s\":%llu", first ? "" : ",",
				   suspect_condition_name(c),
				   (unsigned long long)age_ms(snap, s->since_ms[c]));
			first = false;
		}
	buf_printf(out,
		   "},\"retransmits\":%u,\"total_retransmits\":%u,\"backoff\":%u,\"unacked\":%u"
		   ",\"recv_q\":%u,\"send_q\":%u,\"netns\":%u",
		   (unsigned)s->retrans, s->total_retrans, (unsigned)s->backoff, s->unacked,
		   s->rqueue, s->wqueue, s->ns_index);
	buf_puts(out, ",\"pod_namespace\":");
	json_string_or_null(out, s->pod_namespace);
	buf_puts(out, ",\"pod\":");
	json_string_or_null(out, s->pod);
	buf_printf(out, ",\"cookie\":\"%llu\",\"current\":%s,\"remediated\":%s",
		   (unsigned long long)s->cookie, s->current ? "true" : "false",
		   s->remediated ? "true" : "false");
	json_timeouts(out, s);
	buf_putc(out, '}');
}

static void render_json(const struct suspect_snapshot *snap, const struct sockets_page_query *q,
			struct buf *out)
{
	size_t n = rows_shown(snap, q);

	buf_printf(out,
		   "{\"schema\":\"%s\",\"collected\":%s,\"collection_time\":", SOCKETS_PAGE_SCHEMA,
		   snap ? "true" : "false");
	if (snap && snap->unix_time > 0)
		metric_append_double(out, snap->unix_time);
	else
		buf_puts(out, "null");
	buf_printf(out, ",\"total\":%zu,\"shown\":%zu,\"limit\":%zu,\"truncated\":%s",
		   snap ? snap->total : 0, n, q->limit, snap && snap->total > n ? "true" : "false");
	buf_printf(out, ",\"dropped_total\":%llu,\"sockets\":[",
		   (unsigned long long)(snap ? snap->dropped : 0));
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		buf_puts(out, "\n");
		json_socket(out, snap, &snap->rows[i]);
	}
	buf_puts(out, "\n]}\n");
}

/* -------------------------------------------------------------- HTML */

/* "850ms", "4.2s", "42s", "3m07s", "2h05m": short, and sorts by eye. */
static void html_duration(struct buf *out, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		buf_printf(out, "%llums", (unsigned long long)ms);
	else if (ms < 10000)
		buf_printf(out, "%llu.%llus", (unsigned long long)s,
			   (unsigned long long)(ms % 1000 / 100));
	else if (s < 60)
		buf_printf(out, "%llus", (unsigned long long)s);
	else if (s < 3600)
		buf_printf(out, "%llum%02llus", (unsigned long long)(s / 60),
			   (unsigned long long)(s % 60));
	else
		buf_printf(out, "%lluh%02llum", (unsigned long long)(s / 3600),
			   (unsigned long long)(s % 3600 / 60));
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>halfopen_exporter: suspect sockets</title>\n<style>\n"
    "body{font-family:system-ui,sans-serif;margin:1em;color:#222}\n"
    "h1{font-size:1.3em;margin:0 0 .3em}p{margin:.3em 0 1em;color:#555}\n"
    "table{border-collapse:collapse;font-size:12px}\n"
    "th,td{padding:3px 4px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}\n"
    "th{background:#f3f3f3;position:sticky;top:0}td.n{text-align:right}\n"
    "td.a{font-family:ui-monospace,monospace}\n"
    ".c{display:inline-block;padding:1px 6px;margin-right:3px;border-radius:3px;"
    "font-size:11px;color:#fff}\n"
    ".retransmitting{background:#c62828}.keepalive_probing{background:#ef6c00}"
    ".zero_window{background:#6a1b9a}.stale{background:#757575}"
    ".close_wait{background:#1565c0}\n"
    "tr.old td{color:#999}.empty{padding:1em;color:#555}.d{color:#888;font-size:11px}\n"
    "</style></head><body>\n<h1>Suspect sockets</h1>\n";

/* The Keepalive cell (after "<td"): what is known, with how in its title. */
static void html_keepalive(struct buf *out, const struct suspect_info *s)
{
	if (!s->keepalive) {
		buf_puts(out, " title=\"keepalive off (or another timer pending); user timeout "
			      "unknown\">-");
		return;
	}
	buf_puts(out, " title=\"idle inferred from the keepalive timer (docs/suspects.md); "
		      "interval: at least the time to the next probe while probing; count and "
		      "user timeout are not visible to sock_diag\">idle ");
	if (s->keepalive_idle_ms)
		html_duration(out, s->keepalive_idle_ms);
	else
		buf_putc(out, '?');
	if (s->flags & SC_KEEPALIVE_PROBING) {
		buf_puts(out, ", intvl &ge; ");
		html_duration(out, s->keepalive_due_ms);
		buf_printf(out, ", %u out", (unsigned)s->retrans);
	}
	if (s->flags & SC_KEEPALIVE_SLOWER_THAN_PATH)
		buf_puts(out, " <span class=\"d\">slower than path</span>");
}

static void html_row(struct buf *out, const struct suspect_snapshot *snap,
		     const struct suspect_info *s)
{
	char ep[ENDPOINT_LEN];

	buf_printf(out, "<tr%s><td>", s->current ? "" : " class=\"old\"");
	html_escape(out, s->service);
	buf_printf(out, " <span class=\"d\">%s</span></td><td class=\"a\">",
		   s->direction == DIRECTION_OUTBOUND ? "out" : "in");
	format_endpoint(s->family, s->saddr, s->sport, ep, sizeof(ep));
	html_escape(out, ep);
	buf_puts(out, "</td><td class=\"a\">");
	format_endpoint(s->family, s->daddr, s->dport, ep, sizeof(ep));
	html_escape(out, ep);
	buf_puts(out, "</td><td>");
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if (s->conditions & (1u << c))
			buf_printf(out, "<span class=\"c %s\">%s</span>", suspect_condition_name(c),
				   suspect_condition_name(c));
	buf_printf(out, "</td><td>%s</td><td class=\"n\">", state_name(s->state));
	if (s->unanswered_ms)
		html_duration(out, s->unanswered_ms);
	else
		buf_putc(out, '-');
	buf_puts(out, "</td><td class=\"n\">");
	html_duration(out, s->idle_ms);
	buf_puts(out, "</td><td class=\"n\">");
	html_duration(out, s->silent_ms);
	if (s->flags & SC_IDLE_PAST_PATH)
		buf_puts(out, " <span class=\"d\">past path</span>");
	buf_puts(out, "</td><td class=\"n\">");
	html_duration(out, age_ms(snap, s->suspect_since_ms));
	buf_printf(out,
		   "</td><td class=\"n\">%u</td><td class=\"n\">%u</td><td class=\"n\">%u</td>"
		   "<td class=\"n\">%u</td><td",
		   (unsigned)s->retrans, (unsigned)s->backoff, s->unacked, s->wqueue);
	html_keepalive(out, s);
	buf_printf(out, "</td><td class=\"n\">%u</td><td>", s->ns_index);
	if (s->pod[0]) {
		html_escape(out, s->pod_namespace);
		buf_putc(out, '/');
		html_escape(out, s->pod);
	} else {
		buf_putc(out, '-');
	}
	buf_puts(out, "</td></tr>\n");
}

static void render_html(const struct suspect_snapshot *snap, const struct sockets_page_query *q,
			struct buf *out)
{
	size_t n = rows_shown(snap, q);

	buf_puts(out, html_head);
	if (!snap) {
		buf_puts(out, "<p>No collection yet.</p>\n</body></html>\n");
		return;
	}
	buf_printf(out,
		   "<p>%zu suspect socket%s, showing %zu, worst first (longest unanswered, "
		   "then condition). <a href=\"?format=json&amp;limit=%zu\">JSON</a></p>\n",
		   snap->total, snap->total == 1 ? "" : "s", n, q->limit);
	if (!n) {
		buf_puts(out, "<p class=\"empty\">No suspect sockets.</p>\n</body></html>\n");
		return;
	}
	buf_puts(out, "<table>\n<thead><tr><th>Service</th><th>Local</th>"
		      "<th>Peer</th><th>Class</th><th>State</th><th>Unanswered</th><th>Idle</th>"
		      "<th>Silent</th><th>Suspect</th><th>Retrans</th><th>Backoff</th><th>Unacked</th>"
		      "<th>Send-Q</th><th>Keepalive</th><th>Netns</th><th>Pod</th></tr></thead>\n"
		      "<tbody>\n");
	for (size_t i = 0; i < n; i++)
		html_row(out, snap, &snap->rows[i]);
	buf_puts(out, "</tbody></table>\n</body></html>\n");
}

int sockets_page_render(const struct suspect_snapshot *snap, const struct sockets_page_query *q,
			struct buf *out)
{
	if (q->format == SOCKETS_PAGE_HTML)
		render_html(snap, q, out);
	else
		render_json(snap, q, out);
	return buf_error(out);
}
