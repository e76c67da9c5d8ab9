/* services[].enforce: parsing, validation and the errors' places; and
 * the metrics of enforce.c's userspace half: nothing without the program,
 * and with it (root, a BPF build) one series per service that enforces
 * and per option it enforces, none for the others. tests/enforce/run.py
 * checks the live families against the kernel and promtool. */
#include "unit/testing.h"

#include "collectors/enforce.h"
#include "common/buf.h"
#include "common/metric_writer.h"
#include "exporter/metrics/metrics_enforce.h"
#include "config/config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static struct config_error err;

static int load(const char *yaml, struct config **cfg)
{
	*cfg = NULL;
	memset(&err, 0, sizeof(err));
	return config_load_buffer("e.yaml", yaml, strlen(yaml), cfg, &err);
}

DEF_TEST(good)
{
	struct config *cfg;

	CHECK(load("services:\n"
		   "  - name: pg\n"
		   "    direction: outbound\n"
		   "    ports: [5432]\n"
		   "    enforce:\n"
		   "      keepalive: {idle: 1m, interval: 10s, count: 6}\n"
		   "      user_timeout: 30s\n"
		   "  - {name: web, direction: inbound, ports: [80]}\n"
		   "  - {name: r, direction: outbound, ports: [6379], enforce: {user_timeout: "
		   "1500ms}}\n",
		   &cfg) == 0);
	if (!cfg)
		return -1;
	CHECK(cfg->services[0].enforce.keepalive);
	CHECK(cfg->services[0].enforce.idle_s == 60);
	CHECK(cfg->services[0].enforce.interval_s == 10);
	CHECK(cfg->services[0].enforce.count == 6);
	CHECK(cfg->services[0].enforce.user_timeout_ms == 30000);
	CHECK(!service_enforces(&cfg->services[1]));
	CHECK(!cfg->services[2].enforce.keepalive);
	CHECK(cfg->services[2].enforce.user_timeout_ms == 1500);
	CHECK(config_wants_enforce(cfg));
	config_free(cfg);
	CHECK(load("services:\n  - {name: a, direction: inbound, ports: [1]}\n", &cfg) == 0);
	CHECK(!config_wants_enforce(cfg));
	config_free(cfg);
	return 0;
}

/* One outbound service "a" on port 1; ENFORCE_A opens its enforce: block
 * (line 5), so each case below adds only the lines under test. */
#define ENFORCE_A_HEAD "services:\n  - name: a\n    direction: outbound\n    ports: [1]\n"
#define ENFORCE_A      ENFORCE_A_HEAD "    enforce:\n"

static const struct {
	const char *yaml;
	unsigned line, column;
	const char *key, *frag;
} bad[] = {
    {"services:\n  - {name: a, direction: outbound, ports: [1], enforce: {}}\n", 2, 57,
     "services[0].enforce", "needs keepalive, user_timeout or both"},
    {"services:\n  - {name: a, direction: outbound, ports: [1], cidrs: [10.0.0.0/8],\n"
     "     enforce: {user_timeout: 3s}}\n",
     3, 15, "services[0].enforce", "cannot be combined with cidrs"},
    {ENFORCE_A "      keepalive: {idle: 1500ms, interval: 1s, count: 3}\n", 6, 25,
     "services[0].enforce.keepalive.idle", "whole seconds from 1s to 32767s"},
    {ENFORCE_A "      keepalive: {idle: 10h, interval: 1s, count: 3}\n", 6, 25,
     "services[0].enforce.keepalive.idle", "whole seconds"},
    {ENFORCE_A "      keepalive: {idle: 1s, interval: 1s, count: 0}\n", 6, 50,
     "services[0].enforce.keepalive.count", "out of range; allowed: 1..127"},
    {ENFORCE_A "      keepalive: {idle: 1s, count: 3}\n", 6, 18, "services[0].enforce.keepalive",
     "missing required key \"interval\""},
    {ENFORCE_A "      keepalive: on\n", 6, 18, "services[0].enforce.keepalive",
     "expected a mapping"},
    {ENFORCE_A "      user_timeout: 30d\n", 6, 21, "services[0].enforce.user_timeout",
     "at most 24d"},
    {ENFORCE_A "      keepalive_idle: 3s\n", 6, 7, "services[0].enforce.keepalive_idle",
     "unknown key"},
    {ENFORCE_A_HEAD "    enforce: yes\n", 5, 14, "services[0].enforce",
     "expected a mapping with keepalive and/or user_timeout"},
};

DEF_TEST(errors)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config *cfg;
		int rc = load(bad[i].yaml, &cfg);

		if (rc != -EINVAL || cfg || err.line != bad[i].line ||
		    err.column != bad[i].column || strcmp(err.key, bad[i].key) != 0 ||
		    !strstr(err.msg, bad[i].frag)) {
			printf("  case %zu: rc=%d %u:%u key=\"%s\" msg=\"%s\"\n", i, rc, err.line,
			       err.column, err.key, err.msg);
			config_free(cfg);
			failed++;
		}
	}
	CHECK(failed == 0);
	return 0;
}

/* Without a loaded program metrics_enforce_render has nothing to show; with
 * one, tests/enforce/run.py checks the families against the kernel. */
DEF_TEST(render_null)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(0, metric_render(metrics_enforce_render, NULL, &b));
	CHECK(b.len == 0);
	buf_free(&b);
	return 0;
}

/* --enforce.read-path's words and the names the log and the info metric
 * show are one table. */
DEF_TEST(read_path_names)
{
	static const char *const words[] = {"auto", "fields", "getsockopt"};
	enum enforce_read_path p;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		CHECK(enforce_read_path_parse(words[i], &p) == 0);
		CHECK(strcmp(enforce_read_path_name(p), words[i]) == 0);
	}
	CHECK(enforce_read_path_parse("field", &p) == -EINVAL);
	CHECK(enforce_read_path_parse("", &p) == -EINVAL);
	return 0;
}

static bool has(const struct buf *b, const char *needle)
{
	if (strstr(b->data, needle))
		return true;
	printf("  missing: %s\n", needle);
	return false;
}

DEF_TEST(render_enforcing_services_only)
{
	struct enforce *e = NULL;
	struct config *cfg = NULL;
	char why[640] = "";
	struct buf b;
	int r;

#ifndef HALFOPEN_HAVE_BPF
	/* A build without BPF refuses at open, so nothing is ever rendered. */
	CHECK_EQ_INT(-EOPNOTSUPP, enforce_open(&e, ENFORCE_READ_AUTO, why, sizeof(why)));
	return 0;
#endif
	if (geteuid() != 0)
		SKIP_TEST("loading the BPF program needs root");
	CHECK_EQ_INT(0,
		     load("services:\n"
			  "  - {name: pg, direction: outbound, ports: [5432], enforce: "
			  "{keepalive: {idle: 1m, interval: 10s, count: 6}, user_timeout: 30s}}\n"
			  "  - {name: web, direction: inbound, ports: [80]}\n"
			  "  - {name: r, direction: outbound, ports: [6379], enforce: "
			  "{user_timeout: 1500ms}}\n",
			  &cfg));
	r = enforce_open(&e, ENFORCE_READ_AUTO, why, sizeof(why));
	if (r < 0)
		printf("  enforce_open: %s\n", why);
	CHECK_EQ_INT(0, r);
	CHECK_EQ_INT(0, enforce_configure(e, cfg, true));
	config_free(cfg);
	buf_init(&b);
	CHECK_EQ_INT(0, metric_render(metrics_enforce_render, e, &b));
	CHECK(!buf_error(&b) && b.len > 0);
	CHECK(has(&b, "# TYPE halfopen_enforced_sockets_total counter\n"));
	CHECK(has(&b, "halfopen_enforced_sockets_total{tcp_service=\"pg\",direction=\"outbound\","
		      "option=\"keepalive\"} 0\n"));
	CHECK(has(&b, "halfopen_enforced_sockets_total{tcp_service=\"pg\",direction=\"outbound\","
		      "option=\"user_timeout\"} 0\n"));
	CHECK(has(&b, "halfopen_enforce_errors_total{tcp_service=\"r\",direction=\"outbound\","
		      "option=\"user_timeout\"} 0\n"));
	CHECK(has(&b, "halfopen_enforce_matched_sockets{tcp_service=\"r\",direction=\"outbound\"} "
		      "0\n"));
	CHECK(has(&b, "# TYPE halfopen_enforce_own_choice_sockets gauge\n"));
	CHECK(has(&b, "halfopen_enforce_dry_run 1\n"));
	/* r enforces no keepalive; web enforces nothing. */
	CHECK(!strstr(b.data, "tcp_service=\"r\",direction=\"outbound\",option=\"keepalive\""));
	CHECK(!strstr(b.data, "tcp_service=\"web\""));
	buf_free(&b);
	enforce_free(e);
	return 0;
}

int main(void)
{
	RUN_TEST(good);
	RUN_TEST(errors);
	RUN_TEST(render_null);
	RUN_TEST(read_path_names);
	RUN_TEST(render_enforcing_services_only);
	END_TEST;
}
