#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/suspects.h"
#include "common/buf.h"
#include "common/metric_writer.h"
#include "exporter/metrics/metrics_suspects.h"
#include "exporter/metrics/exposition.h"
#include "exporter/metrics/process_metrics.h"
#include "testing.h"

/* ---- a small validator for the text format --------------------------- */

#define MAX_FAMILIES 64

struct family_seen {
	char name[128];
};

static int valid_name_char(char c, int first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

/* Parse "{k="v",...}" at *p; 0 or -1. */
static int parse_labels(const char **p)
{
	const char *s = *p;

	if (*s != '{')
		return 0;
	s++;
	while (*s != '}') {
		if (!valid_name_char(*s, 1))
			return -1;
		while (valid_name_char(*s, 0))
			s++;
		if (*s++ != '=' || *s++ != '"')
			return -1;
		while (*s != '"') {
			if (*s == '\0' || *s == '\n')
				return -1;
			if (*s == '\\') {
				s++;
				if (*s != '\\' && *s != '"' && *s != 'n')
					return -1;
			}
			s++;
		}
		s++;
		if (*s == ',')
			s++;
		else if (*s != '}')
			return -1;
	}
	*p = s + 1;
	return 0;
}

static int parse_value(const char *s)
{
	char *end;

	if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0)
		return 0;
	if (*s == '\0')
		return -1;
	strtod(s, &end);
	return *end == '\0' ? 0 : -1;
}

/* Does sample name l (nlen bytes) belong to family (of type
 * histogram or not)? A histogram's samples are its _bucket (with an le
 * label), _sum and _count. */
static bool sample_of(const char *family, bool histogram, const char *l, size_t nlen)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	size_t flen = strlen(family);

	if (nlen < flen || strncmp(family, l, flen) != 0)
		return false;
	if (nlen == flen)
		return !histogram;
	if (!histogram)
		return false;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (nlen - flen == strlen(suffixes[i]) &&
		    strncmp(l + flen, suffixes[i], nlen - flen) == 0)
			return i != 0 || strstr(l + nlen, "le=\"") != NULL;
	return false;
}

/* Every line well formed, no trailing blanks, each family introduced by
 * HELP then TYPE exactly once, its samples contiguous and after them, no
 * repeated series. Prints the offending line. */
static int check_exposition(const char *text)
{
	static struct family_seen seen[MAX_FAMILIES];
	char current[128] = "", help_for[128] = "";
	bool histogram = false;
	size_t n_seen = 0, i;
	const char *line = text;
	static char series[1024][256];
	size_t n_series = 0;

	if (*text && text[strlen(text) - 1] != '\n') {
		printf("body does not end with a newline\n");
		return -1;
	}
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = (size_t)(nl - line);
		char l[1024];

		if (len == 0 || len >= sizeof(l) || line[len - 1] == ' ' || line[len - 1] == '\t') {
			printf("bad line length/trailing blank: %.*s\n", (int)len, line);
			return -1;
		}
		memcpy(l, line, len);
		l[len] = '\0';
		line = nl + 1;
		if (strncmp(l, "# HELP ", 7) == 0) {
			const char *n = l + 7, *e = strchr(n, ' ');

			if (!e || (size_t)(e - n) >= sizeof(help_for) || e[1] == '\0')
				goto bad;
			memcpy(help_for, n, (size_t)(e - n));
			help_for[e - n] = '\0';
			for (i = 0; i < n_seen; i++)
				if (strcmp(seen[i].name, help_for) == 0)
					goto bad;
			if (n_seen == MAX_FAMILIES)
				goto bad;
			snprintf(seen[n_seen++].name, sizeof(seen[0].name), "%s", help_for);
			current[0] = '\0';
		} else if (strncmp(l, "# TYPE ", 7) == 0) {
			char name[128], type[32];

			if (sscanf(l + 7, "%127s %31s", name, type) != 2)
				goto bad;
			if (strcmp(name, help_for) != 0)
				goto bad;
			histogram = strcmp(type, "histogram") == 0;
			if (strcmp(type, "gauge") != 0 && strcmp(type, "counter") != 0 &&
			    !histogram)
				goto bad;
			snprintf(current, sizeof(current), "%s", name);
			help_for[0] = '\0';
		} else if (l[0] == '#') {
			goto bad;
		} else {
			const char *p = l;
			size_t nlen;

			if (!valid_name_char(*p, 1))
				goto bad;
			while (valid_name_char(*p, 0))
				p++;
			nlen = (size_t)(p - l);
			if (current[0] == '\0' || !sample_of(current, histogram, l, nlen))
				goto bad;
			if (parse_labels(&p) || *p != ' ' || parse_value(p + 1))
				goto bad;
			if (n_series == sizeof(series) / sizeof(series[0]))
				goto bad;
			snprintf(series[n_series], sizeof(series[0]), "%.*s", (int)(p - l), l);
			for (i = 0; i < n_series; i++)
				if (strcmp(series[i], series[n_series]) == 0)
					goto bad;
			n_series++;
		}
		continue;
	bad:
		printf("invalid exposition line: %s\n", l);
		return -1;
	}
	return 0;
}

/* ---- fixtures -------------------------------------------------------- */

static const struct exporter_stats test_stats = {
    .version = "0.1.0",
    .revision = "abc123def456",
    .collections_total = 10,
    .collection_errors_total = 1,
    .dump_retries_total = 3,
    .collection_overruns_total = 2,
    .last_duration_seconds = 0.0123,
    .last_timestamp_seconds = 1764057600.123,
    .last_sockets = 42,
    .interval_seconds = 15,
    .config_last_reload_successful = 1,
    .config_last_reload_success_timestamp = 1764057000,
};

static const char self_metrics_text[] =
    "# HELP halfopen_collection_duration_seconds Wall time of the last successful "
    "collection.\n"
    "# TYPE halfopen_collection_duration_seconds gauge\n"
    "halfopen_collection_duration_seconds 0.0123\n"
    "# HELP halfopen_collection_interval_seconds The configured --collector.interval.\n"
    "# TYPE halfopen_collection_interval_seconds gauge\n"
    "halfopen_collection_interval_seconds 15\n"
    "# HELP halfopen_collection_sockets Sockets (connected states) seen by the last "
    "successful collection.\n"
    "# TYPE halfopen_collection_sockets gauge\n"
    "halfopen_collection_sockets 42\n"
    "# HELP halfopen_collections_total Collections attempted.\n"
    "# TYPE halfopen_collections_total counter\n"
    "halfopen_collections_total 10\n"
    "# HELP halfopen_collection_errors_total Collections that failed (the last good counts "
    "stay served).\n"
    "# TYPE halfopen_collection_errors_total counter\n"
    "halfopen_collection_errors_total 1\n"
    "# HELP halfopen_collection_retries_total Dumps redone because the kernel flagged them "
    "inconsistent (NLM_F_DUMP_INTR).\n"
    "# TYPE halfopen_collection_retries_total counter\n"
    "halfopen_collection_retries_total 3\n"
    "# HELP halfopen_collection_overruns_total Collections that took longer than half of "
    "--collector.interval.\n"
    "# TYPE halfopen_collection_overruns_total counter\n"
    "halfopen_collection_overruns_total 2\n"
    "# HELP halfopen_last_collection_timestamp_seconds Unix time of the last successful "
    "collection.\n"
    "# TYPE halfopen_last_collection_timestamp_seconds gauge\n"
    "halfopen_last_collection_timestamp_seconds 1764057600.123\n"
    "# HELP halfopen_config_last_reload_successful 1 when the last config load or reload "
    "succeeded.\n"
    "# TYPE halfopen_config_last_reload_successful gauge\n"
    "halfopen_config_last_reload_successful 1\n"
    "# HELP halfopen_config_last_reload_success_timestamp_seconds Unix time of the last "
    "successful config load.\n"
    "# TYPE halfopen_config_last_reload_success_timestamp_seconds gauge\n"
    "halfopen_config_last_reload_success_timestamp_seconds 1764057000\n"
    "# HELP halfopen_build_info Always 1; labels version and revision.\n"
    "# TYPE halfopen_build_info gauge\n"
    "halfopen_build_info{version=\"0.1.0\",revision=\"abc123def456\"} 1\n";

#define WEB "{tcp_service=\"web\",direction=\"inbound\"} "
#define PG  "{tcp_service=\"postgres\",direction=\"outbound\"} "

static const char services_text[] =
    "# HELP halfopen_established_sockets ESTABLISHED sockets of the service.\n"
    "# TYPE halfopen_established_sockets gauge\n"
    "halfopen_established_sockets" WEB "3\n"
    "halfopen_established_sockets" PG "18446744073709551615\n"
    "# HELP halfopen_stale_sockets ESTABLISHED sockets that received nothing, neither data "
    "nor an ACK, for at least the service's stale_after. Half-open, or idle and never "
    "verified: the kernel cannot tell which.\n"
    "# TYPE halfopen_stale_sockets gauge\n"
    "halfopen_stale_sockets" WEB "1\n"
    "halfopen_stale_sockets" PG "0\n"
    "# HELP halfopen_retransmitting_sockets Sockets, in any state, whose retransmission "
    "timer is pending with at least one unanswered retransmission. Requests on them are "
    "hanging now.\n"
    "# TYPE halfopen_retransmitting_sockets gauge\n"
    "halfopen_retransmitting_sockets" WEB "2\n"
    "halfopen_retransmitting_sockets" PG "0\n"
    "# HELP halfopen_keepalive_probing_sockets Sockets whose keepalive probes go unanswered "
    "(keepalive timer pending, at least one probe out). The peer is probably gone; the "
    "kernel will reset the connection after tcp_keepalive_probes probes.\n"
    "# TYPE halfopen_keepalive_probing_sockets gauge\n"
    "halfopen_keepalive_probing_sockets" WEB "5\n"
    "halfopen_keepalive_probing_sockets" PG "0\n"
    "# HELP halfopen_zero_window_sockets Sockets probing a peer that advertises a zero "
    "receive window (persist timer armed): the peer stopped reading.\n"
    "# TYPE halfopen_zero_window_sockets gauge\n"
    "halfopen_zero_window_sockets" WEB "6\n"
    "halfopen_zero_window_sockets" PG "0\n"
    "# HELP halfopen_close_wait_sockets Sockets in CLOSE_WAIT: the peer closed, our "
    "application never did. Growing means a leak.\n"
    "# TYPE halfopen_close_wait_sockets gauge\n"
    "halfopen_close_wait_sockets" WEB "4\n"
    "halfopen_close_wait_sockets" PG "0\n"
    "# HELP halfopen_keepalive_sockets ESTABLISHED sockets with the keepalive timer armed "
    "(keepalive is on). Compare with halfopen_established_sockets for keepalive coverage.\n"
    "# TYPE halfopen_keepalive_sockets gauge\n"
    "halfopen_keepalive_sockets" WEB "7\n"
    "halfopen_keepalive_sockets" PG "0\n"
    "# HELP halfopen_idle_past_path_timeout_sockets ESTABLISHED sockets silent in both "
    "directions (no data sent, no data or ACK received) for at least the service's "
    "path_idle_timeout, with no keepalive faster than it: the NAT or load balancer on the "
    "path has likely forgotten the flow, and the next request on it will hang. 0 when "
    "path_idle_timeout is unset.\n"
    "# TYPE halfopen_idle_past_path_timeout_sockets gauge\n"
    "halfopen_idle_past_path_timeout_sockets" WEB "8\n"
    "halfopen_idle_past_path_timeout_sockets" PG "0\n"
    "# HELP halfopen_keepalive_slower_than_path_sockets ESTABLISHED sockets whose keepalive "
    "is armed but whose keepalive idle time (inferred from the keepalive timer) is at least "
    "the service's path_idle_timeout: the keepalive cannot keep the flow alive through the "
    "path. 0 when path_idle_timeout is unset.\n"
    "# TYPE halfopen_keepalive_slower_than_path_sockets gauge\n"
    "halfopen_keepalive_slower_than_path_sockets" WEB "9\n"
    "halfopen_keepalive_slower_than_path_sockets" PG "0\n"
    "# HELP halfopen_conntrack_forgotten_sockets ESTABLISHED sockets whose flow connection "
    "tracking held as NATed (or in a namespace with strict TCP tracking) and has forgotten: "
    "the next segment is dropped or never reaches the peer. Only with --collector.conntrack "
    "(else 0).\n"
    "# TYPE halfopen_conntrack_forgotten_sockets gauge\n"
    "halfopen_conntrack_forgotten_sockets" WEB "3\n"
    "halfopen_conntrack_forgotten_sockets" PG "0\n"
    "# HELP halfopen_longest_unanswered_seconds Over the service's retransmitting and "
    "keepalive-probing sockets, the longest time since the peer last acknowledged anything, "
    "idle time before the hang included; for a socket that never received anything "
    "(SYN-SENT), since the exporter first saw it hang. 0 when there are none.\n"
    "# TYPE halfopen_longest_unanswered_seconds gauge\n"
    "halfopen_longest_unanswered_seconds" WEB "12.345\n"
    "halfopen_longest_unanswered_seconds" PG "0\n"
    "# HELP halfopen_longest_hanging_seconds Over the service's retransmitting and "
    "keepalive-probing sockets, the longest time the exporter has seen one hang without a "
    "break (by socket cookie): how long a request or probe has waited, short by up to one "
    "collection interval. 0 when there are none.\n"
    "# TYPE halfopen_longest_hanging_seconds gauge\n"
    "halfopen_longest_hanging_seconds" WEB "2.5\n"
    "halfopen_longest_hanging_seconds" PG "0\n";

static const char collection_text[] =
    "# HELP halfopen_collection_matched_sockets Sockets of the last successful collection "
    "that a service claimed.\n"
    "# TYPE halfopen_collection_matched_sockets gauge\n"
    "halfopen_collection_matched_sockets 7\n"
    "# HELP halfopen_collection_namespaces Network namespaces the last successful collection "
    "covered.\n"
    "# TYPE halfopen_collection_namespaces gauge\n"
    "halfopen_collection_namespaces 1\n"
    "# HELP halfopen_collection_namespace_errors Network namespaces whose dump failed in the "
    "last successful collection; their sockets are missing from it.\n"
    "# TYPE halfopen_collection_namespace_errors gauge\n"
    "halfopen_collection_namespace_errors 0\n"
    "# HELP halfopen_collection_kernel_filter 1 when the kernel filtered sockets by port "
    "(inet_diag bytecode) in the last successful collection.\n"
    "# TYPE halfopen_collection_kernel_filter gauge\n"
    "halfopen_collection_kernel_filter 1\n"
    "# HELP halfopen_auto_services_dropped Listening ports left without a listen_<port> "
    "service by max_listening_services.\n"
    "# TYPE halfopen_auto_services_dropped gauge\n"
    "halfopen_auto_services_dropped 0\n"
    "# HELP halfopen_series_dropped Service series over the series cap in the last "
    "successful collection; their sockets are counted without pod labels, or not at all.\n"
    "# TYPE halfopen_series_dropped gauge\n"
    "halfopen_series_dropped 0\n";

static void fill_result(struct collection_result *res, struct service_result *svc)
{
	memset(res, 0, sizeof(*res));
	memset(svc, 0, 2 * sizeof(*svc));
	snprintf(svc[0].name, sizeof(svc[0].name), "web");
	svc[0].direction = DIRECTION_INBOUND;
	svc[0].counts.established = 3;
	svc[0].counts.stale = 1;
	svc[0].counts.retransmitting = 2;
	svc[0].counts.keepalive_probing = 5;
	svc[0].counts.zero_window = 6;
	svc[0].counts.close_wait = 4;
	svc[0].counts.keepalive = 7;
	svc[0].counts.idle_past_path_timeout = 8;
	svc[0].counts.keepalive_slower_than_path = 9;
	svc[0].counts.conntrack_forgotten = 3;
	svc[0].counts.longest_unanswered_ms = 12345;
	svc[0].counts.longest_hanging_ms = 2500;
	svc[1].service_id = 1;
	snprintf(svc[1].name, sizeof(svc[1].name), "postgres");
	svc[1].direction = DIRECTION_OUTBOUND;
	svc[1].counts.established = UINT64_MAX;
	res->services = svc;
	res->n_services = 2;
	res->cap_services = 2;
	res->sockets_seen = 99;
	res->sockets_matched = 7;
	res->namespaces = 1;
	res->kernel_filter = true;
}

/* ---- tests ------------------------------------------------------------ */

/* The body as the daemon publishes it (exposition_render_body), without
 * the parts these tests do not build. */
static int render_body(const struct collection_result *res, const struct exporter_stats *st,
		       struct buf *out)
{
	const struct exposition_body body = {.collection = res, .stats = st};

	return exposition_render_body(&body, out, NULL);
}

DEF_TEST(escape_label)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, metric_escape_label(&b, "plain"));
	CHECK_EQ_STR("plain", b.data);
	buf_reset(&b);
	CHECK_EQ_INT(0, metric_escape_label(&b, "a\\b\"c\nd"));
	CHECK_EQ_STR("a\\\\b\\\"c\\nd", b.data);
	buf_reset(&b);
	CHECK_EQ_INT(0, metric_escape_label(&b, "\\\\\"\"\n\n"));
	CHECK_EQ_STR("\\\\\\\\\\\"\\\"\\n\\n", b.data);
	buf_reset(&b);
	/* Only those three: tabs, '{' and UTF-8 stay as they are. */
	CHECK_EQ_INT(0, metric_escape_label(&b, "\t{}=,\xc3\xa9"));
	CHECK_EQ_STR("\t{}=,\xc3\xa9", b.data);
	buf_reset(&b);
	CHECK_EQ_INT(0, metric_escape_label(&b, ""));
	CHECK_EQ_UINT(0, b.len);
	buf_free(&b);
	return 0;
}

static int fmt(double v, char *out, size_t len)
{
	struct buf b;
	int ret;

	buf_init(&b);
	ret = metric_append_double(&b, v);
	if (ret == 0)
		snprintf(out, len, "%s", b.data);
	buf_free(&b);
	return ret;
}

DEF_TEST(number_format)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
	    {0.0, "0"},
	    {1.0, "1"},
	    {-2.5, "-2.5"},
	    {0.1, "0.1"},
	    {12.345, "12.345"},
	    {15.0, "15"},
	    {100.0, "100"},
	    {1000.0, "1000"},
	    {10000.0, "10000"},
	    {100000.0, "1e+05"},
	    {120000.0, "120000"},
	    {1e6, "1e+06"},
	    {0.0001, "0.0001"},
	    {1.5e-5, "1.5e-05"},
	    {-0.25, "-0.25"},
	    {1e21, "1e+21"},
	    {123456789012.0, "123456789012"},
	    {1764057600.123, "1764057600.123"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {1.0 / 3.0, "0.3333333333333333"},
	    {2.0 / 3.0, "0.6666666666666666"},
	    {1e-7, "1e-07"},
	    {DBL_MAX, "1.7976931348623157e+308"},
	    {DBL_MIN, "2.2250738585072014e-308"},
	    {5e-324, "5e-324"},
	    {18446744073709551615.0, "18446744073709552000"},
	    {-16103276411517024256.0, "-16103276411517024000"},
	    {9.5, "9.5"},
	    {1e20, "1e+20"},
	    {123e18, "1.23e+20"},
	    {25000.0, "25000"},
	    {0.000012, "1.2e-05"},
	    {0.00012, "0.00012"},
	};
	char got[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ_INT(0, fmt(cases[i].v, got, sizeof(got)));
		CHECK_EQ_STR(cases[i].want, got);
	}
	CHECK_EQ_INT(0, fmt(INFINITY, got, sizeof(got)));
	CHECK_EQ_STR("+Inf", got);
	CHECK_EQ_INT(0, fmt(-INFINITY, got, sizeof(got)));
	CHECK_EQ_STR("-Inf", got);
	CHECK_EQ_INT(0, fmt(NAN, got, sizeof(got)));
	CHECK_EQ_STR("NaN", got);
	return 0;
}

/* Significant digits of a rendering: leading and trailing zeros of the
 * mantissa do not count (the last kept digit is never 0, or one digit
 * less would round-trip too). */
static int significant_digits(const char *s)
{
	const char *p = s, *end = strchr(s, 'e');
	int n = 0, zeros = 0;

	if (!end)
		end = s + strlen(s);
	while (p < end && (*p == '-' || *p == '0' || *p == '.'))
		p++;
	for (; p < end; p++) {
		if (*p == '.')
			continue;
		if (*p == '0') {
			zeros++;
		} else {
			n += zeros + 1;
			zeros = 0;
		}
	}
	return n;
}

static int check_shortest(double v)
{
	char got[64], shorter[400];
	int digits;

	CHECK_EQ_INT(0, fmt(v, got, sizeof(got)));
	CHECK(strtod(got, NULL) == v);
	digits = significant_digits(got);
	if (digits > 1) {
		snprintf(shorter, sizeof(shorter), "%.*g", digits - 1, v);
		if (strtod(shorter, NULL) == v) {
			printf("%s is not the shortest: %s round-trips\n", got, shorter);
			return -1;
		}
	}
	return 0;
}

/* Random bit patterns and random "human" values: every finite double
 * round-trips, and one significant digit less would not. */
DEF_TEST(number_round_trip)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int i;

	for (i = 0; i < 20000; i++) {
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&v, &x, sizeof(v));
		if (isfinite(v))
			CHECK_EQ_INT(0, check_shortest(v));
		CHECK_EQ_INT(0, check_shortest((double)(x % 100000000u) / 1000.0));
		CHECK_EQ_INT(0, check_shortest((double)(x >> 11)));
		CHECK_EQ_INT(0, check_shortest((double)(x % 1000u) * 1e-6));
	}
	return 0;
}

DEF_TEST(full_render)
{
	struct service_result svc[2];
	struct collection_result res;
	struct buf b, want;

	fill_result(&res, svc);
	buf_init(&b);
	buf_init(&want);
	CHECK_EQ_INT(0, render_body(&res, &test_stats, &b));
	buf_puts(&want, services_text);
	buf_puts(&want, collection_text);
	buf_puts(&want, self_metrics_text);
	CHECK_EQ_INT(0, buf_error(&want));
	CHECK_EQ_STR(want.data, b.data);
	CHECK_EQ_INT(0, check_exposition(b.data));
	buf_free(&b);
	buf_free(&want);
	return 0;
}

/* Every part publish() passes (an empty tracker, no enforce, this
 * process's /proc): the collection first, then the self metrics, then the
 * process families; the whole body passes the format checks. */
DEF_TEST(full_body_as_published)
{
	struct service_result svc[2];
	struct collection_result res;
	struct suspects *t = NULL;
	const char *failed = NULL;
	const char *self, *proc;
	struct buf b;

	fill_result(&res, svc);
	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	{
		const struct exposition_body body = {
		    .collection = &res, .stats = &test_stats, .suspects = t, .proc_root = "/proc"};

		buf_init(&b);
		CHECK_EQ_INT(0, exposition_render_body(&body, &b, &failed));
	}
	CHECK(failed == NULL);
	CHECK(strncmp(b.data, services_text, strlen(services_text)) == 0);
	self = strstr(b.data, self_metrics_text);
	proc = strstr(b.data, "\n# TYPE process_resident_memory_bytes gauge\n");
	CHECK(self != NULL && proc != NULL && self < proc);
	CHECK_EQ_INT(0, check_exposition(b.data));
	buf_free(&b);
	suspects_free(t);
	return 0;
}

DEF_TEST(pod_labels)
{
	struct service_result svc[2];
	struct collection_result res;
	struct buf b;

	fill_result(&res, svc);
	res.pod_labels = true;
	snprintf(svc[0].pod_namespace, sizeof(svc[0].pod_namespace), "shop");
	snprintf(svc[0].pod, sizeof(svc[0].pod), "api-7d\"x");
	buf_init(&b);
	CHECK_EQ_INT(0, render_body(&res, &test_stats, &b));
	CHECK_CONTAINS("halfopen_stale_sockets{tcp_service=\"web\",direction=\"inbound\","
		       "namespace=\"shop\",pod=\"api-7d\\\"x\"} 1\n",
		       b.data);
	/* the pod-less series keeps exactly its labels */
	CHECK_CONTAINS(
	    "halfopen_stale_sockets{tcp_service=\"postgres\",direction=\"outbound\"} 0\n", b.data);
	CHECK_EQ_INT(0, check_exposition(b.data));
	buf_free(&b);
	return 0;
}

DEF_TEST(render_without_result)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, render_body(NULL, &test_stats, &b));
	CHECK_EQ_STR(self_metrics_text, b.data);
	CHECK(strstr(b.data, "halfopen_established_sockets") == NULL);
	CHECK_EQ_INT(0, check_exposition(b.data));
	buf_free(&b);
	return 0;
}

DEF_TEST(render_zero_services)
{
	struct collection_result res;
	struct buf b;

	memset(&res, 0, sizeof(res));
	buf_init(&b);
	CHECK_EQ_INT(0, render_body(&res, &test_stats, &b));
	/* no per-service families, but what the collection saw is still said */
	CHECK(strstr(b.data, "halfopen_established_sockets") == NULL);
	CHECK_CONTAINS("halfopen_collection_matched_sockets 0\n", b.data);
	CHECK_CONTAINS(self_metrics_text, b.data);
	CHECK_EQ_INT(0, check_exposition(b.data));
	buf_free(&b);
	return 0;
}

DEF_TEST(render_escapes_and_defaults)
{
	struct service_result svc[2];
	struct collection_result res;
	struct exporter_stats st;
	struct buf b;

	fill_result(&res, svc);
	snprintf(svc[0].name, sizeof(svc[0].name), "we\"ird\\na\nme");
	memset(&st, 0, sizeof(st));
	st.last_duration_seconds = NAN;
	st.interval_seconds = INFINITY;
	buf_init(&b);
	CHECK_EQ_INT(0, render_body(&res, &st, &b));
	CHECK_CONTAINS("halfopen_stale_sockets{tcp_service=\"we\\\"ird\\\\na\\nme\","
		       "direction=\"inbound\"} 1\n",
		       b.data);
	CHECK_CONTAINS("halfopen_collection_duration_seconds NaN\n", b.data);
	CHECK_CONTAINS("halfopen_collection_interval_seconds +Inf\n", b.data);
	CHECK_CONTAINS("halfopen_config_last_reload_successful 0\n", b.data);
	CHECK_CONTAINS("halfopen_build_info{version=\"\",revision=\"\"} 1\n", b.data);
	CHECK_EQ_INT(0, check_exposition(b.data));
	buf_free(&b);
	return 0;
}

DEF_TEST(render_appends)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "# HELP x y\n# TYPE x gauge\nx 1\n");
	CHECK_EQ_INT(0, render_body(NULL, &test_stats, &b));
	CHECK(strncmp(b.data, "# HELP x y\n", 11) == 0);
	CHECK_EQ_STR(self_metrics_text, b.data + strlen("# HELP x y\n# TYPE x gauge\nx 1\n"));
	buf_free(&b);
	return 0;
}

/* ---- process metrics --------------------------------------------------- */

static int write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

static void rm_fixture(const char *dir)
{
	static const char *const files[] = {"self/fd/0", "self/fd/1", "self/fd/7", "self/stat",
					    "stat"};
	static const char *const dirs[] = {"self/fd", "self", ""};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		rmdir(path);
	}
}

/* A fake /proc: comm with spaces and parentheses, and a /proc/stat whose
 * long "intr" line holds "btime 99" exactly where a 255-byte read would
 * split it, so only a line-aware reader gets btime right. */
static int make_fixture(char *dir)
{
	char path[512], intr[600];
	struct buf stat;
	int ret = -1;

	buf_init(&stat);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/self", dir);
	if (mkdir(path, 0700))
		goto out;
	snprintf(path, sizeof(path), "%s/self/fd", dir);
	if (mkdir(path, 0700))
		goto out;
	if (write_file(dir, "self/fd/0", "") || write_file(dir, "self/fd/1", "") ||
	    write_file(dir, "self/fd/7", ""))
		goto out;
	if (write_file(dir, "self/stat",
		       "4242 (we(ird) n)a) me) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 "
		       "0 1 0 12345 123456789 1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 "
		       "17 3 0 0 0 0 0\n"))
		goto out;
	memset(intr, '1', sizeof(intr));
	memcpy(intr, "intr ", 5);
	for (ret = 5; ret < 255; ret += 2)
		intr[ret] = ' ';
	memcpy(intr + 255, "btime 99 ", 9);
	intr[sizeof(intr) - 1] = '\0';
	ret = -1;
	buf_printf(&stat,
		   "cpu  1 2 3 4\ncpu0 1 2 3 4\n%s\nctxt 5\nbtime 1700000000\n"
		   "processes 9\n",
		   intr);
	if (buf_error(&stat) || write_file(dir, "stat", stat.data))
		goto out;
	ret = 0;
out:
	buf_free(&stat);
	return ret;
}

DEF_TEST(process_metrics_fixture)
{
	char dir[] = "/tmp/halfopen_proc_XXXXXX";
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char line[128];
	struct buf b;
	int ret;

	CHECK(ticks > 0 && page > 0);
	ret = make_fixture(dir);
	if (ret)
		rm_fixture(dir);
	CHECK_EQ_INT(0, ret);
	buf_init(&b);
	ret = metric_render(process_metrics_render, dir, &b);
	rm_fixture(dir);
	CHECK_EQ_INT(0, ret);
	CHECK_EQ_INT(0, check_exposition(b.data));
	/* Literal values (USER_HZ is 100 on every Linux ABI): utime+stime
	 * 200 ticks, start 12345 ticks after btime 1700000000. */
	CHECK_EQ_INT(100, ticks);
	CHECK_CONTAINS("\nprocess_cpu_seconds_total 2\n", b.data);
	CHECK_CONTAINS("\nprocess_start_time_seconds 1700000123.45\n", b.data);
	CHECK_CONTAINS("\nprocess_open_fds 3\n", b.data);
	CHECK_CONTAINS("\nprocess_virtual_memory_bytes 123456789\n", b.data);
	snprintf(line, sizeof(line), "\nprocess_resident_memory_bytes %ld\n", 1000L * page);
	CHECK_CONTAINS(line, b.data);
	CHECK_CONTAINS("# TYPE process_cpu_seconds_total counter\n", b.data);
	CHECK_CONTAINS("# HELP process_max_fds Maximum number of open file descriptors.\n", b.data);
	CHECK_CONTAINS("\nprocess_virtual_memory_max_bytes ", b.data);
	buf_free(&b);
	return 0;
}

DEF_TEST(process_metrics_missing_sources)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, metric_render(process_metrics_render, "/nonexistent/halfopen", &b));
	CHECK_EQ_INT(0, check_exposition(b.data));
	CHECK(strstr(b.data, "process_cpu_seconds_total") == NULL);
	CHECK(strstr(b.data, "process_open_fds") == NULL);
	CHECK(strstr(b.data, "process_start_time_seconds") == NULL);
	CHECK(strstr(b.data, "process_resident_memory_bytes") == NULL);
	/* The rlimits do not come from the proc tree. */
	CHECK_CONTAINS("process_max_fds ", b.data);
	CHECK_CONTAINS("process_virtual_memory_max_bytes ", b.data);
	buf_free(&b);
	return 0;
}

DEF_TEST(process_metrics_real_proc)
{
	static const char *const names[] = {
	    "process_cpu_seconds_total",
	    "process_max_fds",
	    "process_open_fds",
	    "process_resident_memory_bytes",
	    "process_start_time_seconds",
	    "process_virtual_memory_bytes",
	    "process_virtual_memory_max_bytes",
	};
	char needle[96];
	struct buf b;
	size_t i;

	buf_init(&b);
	CHECK_EQ_INT(0, metric_render(process_metrics_render, "/proc", &b));
	CHECK_EQ_INT(0, check_exposition(b.data));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(needle, sizeof(needle), "\n%s ", names[i]);
		CHECK_CONTAINS(needle, b.data);
	}
	buf_free(&b);
	return 0;
}

/* One collection by the suspect tracker of sockets 1..last: 2 is a
 * CLOSE_WAIT of svc[1], the others retransmit on svc[0]. */
static void track(struct suspects *t, uint64_t now_ms, uint64_t last,
		  const struct service_result *svc, const struct collection_result *res)
{
	struct sock_record r;
	struct classification cls;

	suspects_begin(t, now_ms);
	for (uint64_t cookie = 1; cookie <= last; cookie++) {
		bool cw = cookie == 2;

		memset(&r, 0, sizeof(r));
		memset(&cls, 0, sizeof(cls));
		r.family = AF_INET;
		r.state = cw ? TCPS_CLOSE_WAIT : TCPS_ESTABLISHED;
		r.timer = cw ? DIAG_TIMER_NONE : DIAG_TIMER_RETRANS;
		r.retrans = cw ? 0 : 4;
		r.sport = 8080;
		r.dport = (uint16_t)(40000 + cookie);
		r.cookie = cookie;
		r.has_info = true;
		cls.flags = cw ? SC_CLOSE_WAIT : SC_ESTABLISHED | SC_RETRANSMITTING;
		cls.unanswered_ms = cw ? 0 : 9000;
		suspects_observe(t, &r, &cls, &svc[cw], 0);
	}
	suspects_end(t, true, res);
}

/* Remediation: "web" (id 0) opted in (its families are rendered),
 * nothing due. */
static uint32_t web_destroy_after(void *ctx, uint32_t service_id)
{
	(void)ctx;
	return service_id == 0 ? 60000 : 0;
}

static int never_destroy(void *ctx, const struct suspect_info *s, bool dry_run)
{
	(void)ctx;
	(void)s;
	(void)dry_run;
	return -EPERM;
}

/* The body main serves: exposition, the suspect tracker's families (one
 * suspect closed, one open), then process metrics, valid as one. */
DEF_TEST(whole_body_valid)
{
	static const char *const suspect_families[] = {
	    "halfopen_suspect_transitions_total", "halfopen_suspect_closed_total",
	    "halfopen_suspect_recovered_total",	  "halfopen_suspect_duration_seconds",
	    "halfopen_suspects_tracked",	  "halfopen_suspects_tracked_max",
	    "halfopen_suspects_dropped_total",	  "halfopen_suspects_memory_bytes",
	    "halfopen_destroyed_sockets_total",	  "halfopen_destroy_dry_run_total",
	    "halfopen_destroy_errors_total",
	};
	struct service_result svc[2];
	struct collection_result res;
	const struct remediation_ops ops = {web_destroy_after, never_destroy, NULL};
	struct suspects *t = NULL;
	char needle[128];
	struct buf b;

	fill_result(&res, svc);
	CHECK_EQ_INT(0, suspects_new(NULL, &t));
	track(t, 1000, 3, svc, &res);
	track(t, 3000, 2, svc, &res); /* socket 3 is gone: closed after 2 s */
	CHECK_EQ_UINT(2, suspects_count(t));
	CHECK_EQ_UINT(0, suspects_remediate(t, 3000, false, &ops));

	buf_init(&b);
	CHECK_EQ_INT(0, render_body(&res, &test_stats, &b));
	CHECK_EQ_INT(0, metric_render(metrics_suspects_render, t, &b));
	CHECK_EQ_INT(0, metric_render(process_metrics_render, "/proc", &b));
	suspects_free(t);
	CHECK_EQ_INT(0, check_exposition(b.data));
	for (size_t i = 0; i < sizeof(suspect_families) / sizeof(suspect_families[0]); i++) {
		snprintf(needle, sizeof(needle), "\n# TYPE %s ", suspect_families[i]);
		CHECK_CONTAINS(needle, b.data);
	}
	CHECK_CONTAINS("\nhalfopen_suspects_tracked 2\n", b.data);
	CHECK_CONTAINS("\nhalfopen_suspect_closed_total{tcp_service=\"web\",direction=\"inbound\","
		       "condition=\"retransmitting\"} 1\n",
		       b.data);
	CHECK_CONTAINS("\nhalfopen_suspect_duration_seconds_count{tcp_service=\"web\","
		       "direction=\"inbound\"} 1\n",
		       b.data);
	CHECK_CONTAINS("\nprocess_open_fds ", b.data);
	buf_free(&b);
	return 0;
}

int main(void)
{
	RUN_TEST(escape_label);
	RUN_TEST(number_format);
	RUN_TEST(number_round_trip);
	RUN_TEST(full_render);
	RUN_TEST(full_body_as_published);
	RUN_TEST(pod_labels);
	RUN_TEST(render_without_result);
	RUN_TEST(render_zero_services);
	RUN_TEST(render_escapes_and_defaults);
	RUN_TEST(render_appends);
	RUN_TEST(process_metrics_fixture);
	RUN_TEST(process_metrics_missing_sources);
	RUN_TEST(process_metrics_real_proc);
	RUN_TEST(whole_body_valid);
	END_TEST;
}
