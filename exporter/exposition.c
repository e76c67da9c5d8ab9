#include "exposition.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

/* A per-service family whose value is one field of service_counts: a
 * uint64 count, or a uint32 age in ms rendered in seconds. */
struct count_family {
	const char *name;
	const char *help;
	size_t offset;
	bool age_ms;
};

/* HELP texts are the meanings of docs/metrics.md, so dashboards and the
 * docs say the same thing. */
static const struct count_family count_families[] = {
    {"halfopen_established_sockets", "ESTABLISHED sockets of the service.",
     offsetof(struct service_counts, established)},
    {"halfopen_stale_sockets",
     "ESTABLISHED sockets that received nothing, neither data nor an ACK, for at least the "
     "service's stale_after. Half-open, or idle and never verified: the kernel cannot tell "
     "which.",
     offsetof(struct service_counts, stale)},
    {"halfopen_retransmitting_sockets",
     "Sockets, in any state, whose retransmission timer is pending with at least one "
     "unanswered retransmission. Requests on them are hanging now.",
     offsetof(struct service_counts, retransmitting)},
    {"halfopen_keepalive_probing_sockets",
     "Sockets whose keepalive probes go unanswered (keepalive timer pending, at least one "
     "probe out). The peer is probably gone; the kernel will reset the connection after "
     "tcp_keepalive_probes probes.",
     offsetof(struct service_counts, keepalive_probing)},
    {"halfopen_zero_window_sockets",
     "Sockets probing a peer that advertises a zero receive window (persist timer armed): the "
     "peer stopped reading.",
     offsetof(struct service_counts, zero_window)},
    {"halfopen_close_wait_sockets",
     "Sockets in CLOSE_WAIT: the peer closed, our application never did. Growing means a "
     "leak.",
     offsetof(struct service_counts, close_wait)},
    {"halfopen_keepalive_sockets",
     "ESTABLISHED sockets with the keepalive timer armed (keepalive is on). Compare with "
     "halfopen_established_sockets for keepalive coverage.",
     offsetof(struct service_counts, keepalive)},

    {"halfopen_longest_unanswered_seconds",
     "Over the service's retransmitting and keepalive-probing sockets, the longest time since "
     "the peer last acknowledged anything, idle time before the hang included; for a socket "
     "that never received anything (SYN-SENT), since the exporter first saw it hang. 0 when "
     "there are none.",
     offsetof(struct service_counts, longest_unanswered_ms), true},
    {"halfopen_longest_hanging_seconds",
     "Over the service's retransmitting and keepalive-probing sockets, the longest time the "
     "exporter has seen one hang without a break (by socket cookie): how long a request or "
     "probe has waited, short by up to one collection interval. 0 when there are none.",
     offsetof(struct service_counts, longest_hanging_ms), true},
};

/* Rewrite the locale's decimal separator (possibly multibyte) in a printf
 * %g result to '.', so a process that calls setlocale() still emits the
 * text format. Everything else %g produces is ASCII digits, signs and 'e'. */
static void normalize_decimal_point(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	int in_sep = 0;

	for (; *in && o + 1 < outlen; in++) {
		char c = *in;
		int plain = (c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E';

		if (plain) {
			out[o++] = c;
			in_sep = 0;
		} else if (!in_sep) {
			out[o++] = '.';
			in_sep = 1;
		}
	}
	out[o] = '\0';
}

/* Contract: rewrite a %e rendering ("-1.2345e+02") in positional
 * notation with exactly its digits ("-123.45"), zeros added only to
 * reach the decimal point. Built from the digits alone, so it is the same
 * decimal number and needs no locale. 0, or -ERANGE when exp10 is outside
 * [-5, 20] (the positional form would be long). */
static int positional(const char *e_form, char *out, size_t outlen)
{
	char digits[32];
	const char *p, *e = strchr(e_form, 'e');
	size_t nd = 0, o = 0;
	long exp10, i;

	if (!e)
		return -EINVAL;
	exp10 = strtol(e + 1, NULL, 10);
	if (exp10 < -5 || exp10 > 20)
		return -ERANGE;
	for (p = e_form; p < e && nd < sizeof(digits); p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	/* A trailing fractional zero adds nothing. */
	while (nd > 1 && (long)nd - 1 > exp10 && digits[nd - 1] == '0')
		nd--;
	/* Worst case: sign, "0.", 4 zeros, 17 digits; or 21 integer digits. */
	if (outlen < 32)
		return -ENOSPC;
	if (e_form[0] == '-')
		out[o++] = '-';
	if (exp10 < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = -1; i > exp10; i--)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
	} else {
		for (i = 0; i <= exp10 || i < (long)nd; i++) {
			if (i == exp10 + 1)
				out[o++] = '.';
			out[o++] = i < (long)nd ? digits[i] : '0';
		}
	}
	out[o] = '\0';
	return 0;
}

/* Contract: the fewest significant digits that strtod() maps back to
 * exactly v (17 always suffice for a double), found as %.1g..%.17g; then,
 * of that %g string and the positional form of the same digits, the
 * shorter one, so 100 reads "100" rather than "1e+02" while 1e6 stays
 * "1e+06". Non-finite values use the spellings of the text format. */
int exposition_append_double(struct buf *out, double v)
{
	char tmp[64], g[64], f[64];
	int prec;

	if (isnan(v))
		return buf_puts(out, "NaN");
	if (isinf(v))
		return buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	for (prec = 1;; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (prec == 17 || strtod(tmp, NULL) == v)
			break;
	}
	normalize_decimal_point(tmp, g, sizeof(g));
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
	if (positional(tmp, f, sizeof(f)) == 0 && strlen(f) <= strlen(g))
		return buf_puts(out, f);
	return buf_puts(out, g);
}

int exposition_escape_label(struct buf *out, const char *value)
{
	const char *p = value, *run = value;

	for (; *p; p++) {
		const char *esc;

		switch (*p) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\n':
			esc = "\\n";
			break;
		default:
			continue;
		}
		buf_append(out, run, (size_t)(p - run));
		buf_puts(out, esc);
		run = p + 1;
	}
	buf_append(out, run, (size_t)(p - run));
	return buf_error(out);
}

/* HELP text escaping differs from label escaping: quotes stay literal. */
static void append_help(struct buf *out, const char *name, const char *help, const char *type)
{
	const char *p;

	buf_printf(out, "# HELP %s ", name);
	for (p = help; *p; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
	buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

static const char *direction_label(enum direction d)
{
	return d == DIRECTION_OUTBOUND ? "outbound" : "inbound";
}

/* namespace/pod only on series that have a pod: an empty label value
 * means an absent label to Prometheus anyway, and this keeps host series
 * identical whether pod labels are on or not. */
static void append_service_labels(struct buf *out, const char *name, const struct service_result *s)
{
	buf_printf(out, "%s{tcp_service=\"", name);
	exposition_escape_label(out, s->name);
	buf_printf(out, "\",direction=\"%s\"", direction_label(s->direction));
	if (s->pod[0]) {
		buf_puts(out, ",namespace=\"");
		exposition_escape_label(out, s->pod_namespace);
		buf_puts(out, "\",pod=\"");
		exposition_escape_label(out, s->pod);
		buf_putc(out, '"');
	}
	buf_puts(out, "} ");
}

static void render_services(const struct collection_result *res, struct buf *out)
{
	size_t f, i;

	/* Like client_golang: a family without samples is left out. */
	if (res->n_services == 0)
		return;
	for (f = 0; f < sizeof(count_families) / sizeof(count_families[0]); f++) {
		const struct count_family *fam = &count_families[f];

		append_help(out, fam->name, fam->help, "gauge");
		for (i = 0; i < res->n_services; i++) {
			const struct service_result *s = &res->services[i];
			const char *field = (const char *)&s->counts + fam->offset;

			append_service_labels(out, fam->name, s);
			if (fam->age_ms) {
				uint32_t ms;

				memcpy(&ms, field, sizeof(ms));
				exposition_append_double(out, (double)ms / 1000.0);
				buf_putc(out, '\n');
			} else {
				uint64_t v;

				memcpy(&v, field, sizeof(v));
				buf_printf(out, "%" PRIu64 "\n", v);
			}
		}
	}
}

static void self_uint(struct buf *out, const char *name, const char *help, const char *type,
		      uint64_t v);

/* What the last good collection saw beyond the per-service counts. */
static void render_collection(const struct collection_result *res, struct buf *out)
{
	self_uint(out, "halfopen_collection_matched_sockets",
		  "Sockets of the last successful collection that a service claimed.", "gauge",
		  res->sockets_matched);
	self_uint(out, "halfopen_collection_namespaces",
		  "Network namespaces the last successful collection covered.", "gauge",
		  res->namespaces);
	self_uint(out, "halfopen_collection_namespace_errors",
		  "Network namespaces whose dump failed in the last successful collection; their "
		  "sockets are missing from it.",
		  "gauge", res->namespace_errors);
	self_uint(out, "halfopen_collection_kernel_filter",
		  "1 when the kernel filtered sockets by port (inet_diag bytecode) in the last "
		  "successful collection.",
		  "gauge", res->kernel_filter ? 1 : 0);
	self_uint(out, "halfopen_auto_services_dropped",
		  "Listening ports left without a listen_<port> service by max_listening_services.",
		  "gauge", res->auto_services_dropped);
	self_uint(out, "halfopen_series_dropped",
		  "Service series over the series cap in the last successful collection; their "
		  "sockets are counted without pod labels, or not at all.",
		  "gauge", res->series_dropped);
}

static void self_double(struct buf *out, const char *name, const char *help, double v)
{
	append_help(out, name, help, "gauge");
	buf_printf(out, "%s ", name);
	exposition_append_double(out, v);
	buf_putc(out, '\n');
}

static void self_uint(struct buf *out, const char *name, const char *help, const char *type,
		      uint64_t v)
{
	append_help(out, name, help, type);
	buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* Contract: per-service families in docs/metrics.md order, one sample per
 * service in res order; then the self metrics, always. Appends to out (the
 * caller resets it); 0 or -ENOMEM. */
int exposition_render(const struct collection_result *res, const struct exporter_stats *st,
		      struct buf *out)
{
	if (res) {
		render_services(res, out);
		render_collection(res, out);
	}

	self_double(out, "halfopen_collection_duration_seconds",
		    "Wall time of the last successful collection.", st->last_duration_seconds);
	self_double(out, "halfopen_collection_interval_seconds",
		    "The configured --collector.interval.", st->interval_seconds);
	self_uint(out, "halfopen_collection_sockets",
		  "Sockets (connected states) seen by the last successful collection.", "gauge",
		  st->last_sockets);
	self_uint(out, "halfopen_collections_total", "Collections attempted.", "counter",
		  st->collections_total);
	self_uint(out, "halfopen_collection_errors_total",
		  "Collections that failed (the last good counts stay served).", "counter",
		  st->collection_errors_total);
	self_uint(out, "halfopen_collection_retries_total",
		  "Dumps redone because the kernel flagged them inconsistent (NLM_F_DUMP_INTR).",
		  "counter", st->dump_retries_total);
	self_uint(out, "halfopen_collection_overruns_total",
		  "Collections that took longer than half of --collector.interval.", "counter",
		  st->collection_overruns_total);
	self_double(out, "halfopen_last_collection_timestamp_seconds",
		    "Unix time of the last successful collection.", st->last_timestamp_seconds);
	self_uint(out, "halfopen_config_last_reload_successful",
		  "1 when the last config load or reload succeeded.", "gauge",
		  st->config_last_reload_successful ? 1 : 0);
	self_double(out, "halfopen_config_last_reload_success_timestamp_seconds",
		    "Unix time of the last successful config load.",
		    st->config_last_reload_success_timestamp);

	append_help(out, "halfopen_build_info", "Always 1; labels version and revision.", "gauge");
	buf_puts(out, "halfopen_build_info{version=\"");
	exposition_escape_label(out, st->version ? st->version : "");
	buf_puts(out, "\",revision=\"");
	exposition_escape_label(out, st->revision ? st->revision : "");
	buf_puts(out, "\"} 1\n");
	return buf_error(out);
}
