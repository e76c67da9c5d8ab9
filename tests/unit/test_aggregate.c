/* collector and counts: counting and merging of classified sockets, and the
 * collection driver (listeners, service table, kernel filter, retries,
 * namespaces, the series cap) on synthetic sock_records.
 *
 * No kernel: the test links with -Wl,--wrap=sockdiag_dump, so the
 * collector's dumps are answered by fake_dump() below from a list of
 * records, and the requests it sends (states, bytecode) are recorded. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collectors/collector.h"
#include "collectors/sockdiag.h"
#include "common/buf.h"
#include "exporter/metrics/exposition.h"
#include "testing.h"

/* What the fake kernel holds, and what it saw. */
static struct sock_record sockets[32];
static size_t n_sockets;
static int fail_next;	    /* returned by the next connected dump, once */
static int reject_bytecode; /* -EINVAL whenever a bytecode filter is sent */
static unsigned dumps, filtered_dumps, listen_dumps;

int __wrap_sockdiag_dump(struct nl_sock *sk, const struct sockdiag_request *req, void *buf,
			 size_t buf_len, sockdiag_cb cb, void *ctx, struct sockdiag_stats *stats);

int __wrap_sockdiag_dump(struct nl_sock *sk, const struct sockdiag_request *req, void *buf,
			 size_t buf_len, sockdiag_cb cb, void *ctx, struct sockdiag_stats *stats)
{
	(void)sk;
	(void)buf;
	(void)buf_len;
	dumps++;
	if (req->states == SOCKDIAG_STATE(TCPS_LISTEN))
		listen_dumps++;
	else if (req->bytecode) {
		filtered_dumps++;
		if (reject_bytecode)
			return -EINVAL;
	}
	for (size_t i = 0; i < n_sockets; i++) {
		const struct sock_record *r = &sockets[i];
		int ret;

		if (r->family != req->family || !(req->states & SOCKDIAG_STATE(r->state)))
			continue;
		ret = cb(r, ctx);
		if (ret < 0)
			return ret;
		if (stats)
			stats->sockets++;
		/* Interrupted after the first socket: it was counted into
		 * scratch, and must not be counted twice. */
		if (fail_next && req->states != SOCKDIAG_STATE(TCPS_LISTEN)) {
			ret = fail_next;
			fail_next = 0;
			return ret;
		}
	}
	return 0;
}

static void reset_kernel(void)
{
	n_sockets = 0;
	fail_next = reject_bytecode = 0;
	dumps = filtered_dumps = listen_dumps = 0;
}

/* A socket of the fake kernel: family from the address, ESTABLISHED
 * with tcp_info unless changed by the caller through the pointer. */
static struct sock_record *add_socket(const char *src, uint16_t sport, const char *dst,
				      uint16_t dport, uint8_t state)
{
	struct sock_record *r = &sockets[n_sockets++];
	int fam = strchr(src, ':') ? AF_INET6 : AF_INET;

	memset(r, 0, sizeof(*r));
	r->family = (uint8_t)fam;
	inet_pton(fam, src, r->saddr);
	inet_pton(fam, dst, r->daddr);
	r->sport = sport;
	r->dport = dport;
	r->state = state;
	r->has_info = true;
	r->cookie = n_sockets;
	return r;
}

static struct config *load(const char *yaml)
{
	struct config *out = NULL;
	struct config_error err;

	if (config_load_buffer("test.yml", yaml, strlen(yaml), &out, &err) < 0) {
		printf("config: %s: %s\n", err.key, err.msg);
		return NULL;
	}
	return out;
}

/* The test's config, collector and result; start() sets them up and
 * resets the fake kernel, finish() (after every test) frees them. */
static struct config *cfg;
static struct collector *c;
static struct collection_result res;

static int start(const char *yaml)
{
	cfg = load(yaml);
	reset_kernel();
	return cfg ? collector_new(&c) : -EINVAL;
}

static void finish(void)
{
	collection_result_free(&res);
	collector_free(c);
	config_free(cfg);
	c = NULL;
	cfg = NULL;
}

static const struct service_result *find(const char *name, const char *pod)
{
	for (size_t i = 0; i < res.n_services; i++)
		if (strcmp(res.services[i].name, name) == 0 &&
		    strcmp(res.services[i].pod, pod) == 0)
			return &res.services[i];
	return NULL;
}

static const char *TWO_SERVICES = "defaults:\n"
				  "  stale_after: 1m\n"
				  "services:\n"
				  "  - name: web\n"
				  "    direction: inbound\n"
				  "    ports: [8080]\n"
				  "  - name: pg\n"
				  "    direction: outbound\n"
				  "    ports: [5432]\n";

/* Field by field (the struct has padding); prints what differs. */
static bool same_counts(struct service_counts want, struct service_counts got)
{
	const uint64_t w[] = {
	    want.established, want.stale,      want.retransmitting, want.keepalive_probing,
	    want.zero_window, want.close_wait, want.keepalive,	    want.longest_unanswered_ms};
	const uint64_t g[] = {
	    got.established, got.stale,	     got.retransmitting, got.keepalive_probing,
	    got.zero_window, got.close_wait, got.keepalive,	 got.longest_unanswered_ms};
	bool same = true;

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i] != g[i]) {
			printf("counts field %zu: expected %" PRIu64 ", got %" PRIu64 "\n", i, w[i],
			       g[i]);
			same = false;
		}
	return same;
}

DEF_TEST(add_counts_each_class)
{
	struct service_counts n = {0};
	struct classification cls = {0};

	cls.flags = SC_ESTABLISHED | SC_STALE | SC_KEEPALIVE;
	service_counts_add(&n, &cls);
	cls.flags = SC_ESTABLISHED | SC_RETRANSMITTING;
	cls.unanswered_ms = 7000;
	service_counts_add(&n, &cls);
	cls.flags = SC_KEEPALIVE_PROBING | SC_ZERO_WINDOW;
	cls.unanswered_ms = 3000;
	service_counts_add(&n, &cls);
	cls.flags = SC_CLOSE_WAIT;
	cls.unanswered_ms = 0;
	service_counts_add(&n, &cls);
	cls.flags = SC_ESTABLISHED | SC_IDLE_PAST_PATH | SC_KEEPALIVE_SLOWER_THAN_PATH;
	service_counts_add(&n, &cls);
	/* longest_unanswered is the max, not the last. */
	CHECK(same_counts((struct service_counts){.established = 3,
						  .stale = 1,
						  .retransmitting = 1,
						  .keepalive_probing = 1,
						  .zero_window = 1,
						  .close_wait = 1,
						  .keepalive = 1,
						  .idle_past_path_timeout = 1,
						  .keepalive_slower_than_path = 1,
						  .longest_unanswered_ms = 7000},
			  n));
	return 0;
}

DEF_TEST(merge_sums_and_keeps_longest)
{
	struct service_counts a = {.established = 1,
				   .stale = 2,
				   .retransmitting = 3,
				   .keepalive_probing = 4,
				   .zero_window = 5,
				   .close_wait = 6,
				   .keepalive = 7,
				   .idle_past_path_timeout = 8,
				   .keepalive_slower_than_path = 9,
				   .longest_unanswered_ms = 900};
	struct service_counts b = {.established = 10,
				   .stale = 20,
				   .retransmitting = 30,
				   .keepalive_probing = 40,
				   .zero_window = 50,
				   .close_wait = 60,
				   .keepalive = 70,
				   .idle_past_path_timeout = 80,
				   .keepalive_slower_than_path = 90,
				   .longest_unanswered_ms = 500};
	struct service_counts d = {.longest_unanswered_ms = 1200};

	service_counts_merge(&a, &b);
	CHECK(same_counts((struct service_counts){.established = 11,
						  .stale = 22,
						  .retransmitting = 33,
						  .keepalive_probing = 44,
						  .zero_window = 55,
						  .close_wait = 66,
						  .keepalive = 77,
						  .idle_past_path_timeout = 88,
						  .keepalive_slower_than_path = 99,
						  .longest_unanswered_ms = 900},
			  a));
	service_counts_merge(&a, &d);
	CHECK(same_counts((struct service_counts){.established = 11,
						  .stale = 22,
						  .retransmitting = 33,
						  .keepalive_probing = 44,
						  .zero_window = 55,
						  .close_wait = 66,
						  .keepalive = 77,
						  .idle_past_path_timeout = 88,
						  .keepalive_slower_than_path = 99,
						  .longest_unanswered_ms = 1200},
			  a));
	return 0;
}

/* Both families, every class a service can see, the kernel filter sent
 * with every connected dump, unclaimed sockets seen but not counted. */
DEF_TEST(collect_counts_per_service)
{
	const struct service_result *web, *pg;
	struct sock_record *r;

	CHECK_EQ_INT(0, start(TWO_SERVICES));
	r = add_socket("198.18.0.1", 8080, "198.18.0.2", 40001, TCPS_ESTABLISHED);
	r->info.tcpi_last_data_recv = r->info.tcpi_last_ack_recv = 120000; /* stale */
	r = add_socket("fd00::1", 8080, "fd00::2", 40002, TCPS_ESTABLISHED);
	r->timer = DIAG_TIMER_KEEPALIVE; /* keepalive on, no probe out */
	add_socket("198.18.0.1", 8080, "198.18.0.3", 40003, TCPS_CLOSE_WAIT);
	r = add_socket("198.18.0.1", 40004, "198.18.0.9", 5432, TCPS_ESTABLISHED);
	r->timer = DIAG_TIMER_RETRANS;
	r->retrans = 3;
	r->info.tcpi_last_ack_recv = 9000;
	r = add_socket("fd00::1", 40005, "fd00::9", 5432, TCPS_ESTABLISHED);
	r->timer = DIAG_TIMER_PROBE0;
	add_socket("198.18.0.1", 40006, "198.18.0.9", 6379, TCPS_ESTABLISHED); /* nobody's */

	CHECK_EQ_INT(0, collector_collect(c, cfg, NULL, &res));
	CHECK_EQ_UINT(2, res.n_services);
	web = find("web", "");
	pg = find("pg", "");
	CHECK(web && pg);
	CHECK_EQ_INT(DIRECTION_INBOUND, web->direction);
	CHECK_EQ_INT(DIRECTION_OUTBOUND, pg->direction);
	/* results carry the service's id: its index in the config */
	CHECK_EQ_UINT(0, web->service_id);
	CHECK_EQ_UINT(1, pg->service_id);
	CHECK_EQ_UINT(2, web->counts.established);
	CHECK_EQ_UINT(1, web->counts.stale);
	CHECK_EQ_UINT(1, web->counts.keepalive);
	CHECK_EQ_UINT(1, web->counts.close_wait);
	CHECK_EQ_UINT(0, web->counts.retransmitting);
	CHECK_EQ_UINT(2, pg->counts.established);
	CHECK_EQ_UINT(1, pg->counts.retransmitting);
	CHECK_EQ_UINT(1, pg->counts.zero_window);
	CHECK_EQ_UINT(9000, pg->counts.longest_unanswered_ms);
	CHECK_EQ_UINT(0, pg->counts.stale);
	CHECK_EQ_UINT(6, res.sockets_seen);
	CHECK_EQ_UINT(5, res.sockets_matched);
	/* Ports only: no listener dump, and a port filter on both families. */
	CHECK_EQ_UINT(0, listen_dumps);
	CHECK_EQ_UINT(2, filtered_dumps);
	CHECK(res.kernel_filter);
	CHECK_EQ_UINT(1, res.namespaces);
	CHECK_EQ_UINT(0, res.dump_retries);

	/* A second collection starts from zero. */
	n_sockets = 1;
	CHECK_EQ_INT(0, collector_collect(c, cfg, NULL, &res));
	CHECK_EQ_UINT(1, find("web", "")->counts.established);
	CHECK_EQ_UINT(0, find("pg", "")->counts.established);
	CHECK_EQ_UINT(1, res.sockets_seen);
	return 0;
}

/* NLM_F_DUMP_INTR: the namespace is redone, not counted twice. */
DEF_TEST(interrupted_dump_is_redone_once)
{

	CHECK_EQ_INT(0, start(TWO_SERVICES));
	add_socket("198.18.0.1", 8080, "198.18.0.2", 40001, TCPS_ESTABLISHED);
	add_socket("198.18.0.1", 8080, "198.18.0.3", 40002, TCPS_ESTABLISHED);
	fail_next = -EAGAIN;
	CHECK_EQ_INT(0, collector_collect(c, cfg, NULL, &res));
	CHECK_EQ_UINT(1, res.dump_retries);
	CHECK_EQ_UINT(2, find("web", "")->counts.established);
	CHECK_EQ_UINT(2, res.sockets_seen);

	/* Any other error: the namespace adds nothing, and says so. */
	fail_next = -ENOBUFS;
	CHECK_EQ_INT(-ENOBUFS, collector_collect(c, cfg, NULL, &res));
	CHECK_EQ_UINT(1, res.namespace_errors);
	CHECK_EQ_UINT(0, res.namespaces);
	CHECK_EQ_UINT(0, find("web", "")->counts.established);
	return 0;
}

/* A kernel that refuses the bytecode: dump everything from then on, and
 * report that the kernel did not filter. */
DEF_TEST(rejected_filter_falls_back)
{

	CHECK_EQ_INT(0, start(TWO_SERVICES));
	add_socket("198.18.0.1", 8080, "198.18.0.2", 40001, TCPS_ESTABLISHED);
	reject_bytecode = 1;
	CHECK_EQ_INT(0, collector_collect(c, cfg, NULL, &res));
	CHECK(!res.kernel_filter);
	CHECK_EQ_UINT(1, filtered_dumps); /* tried once, never again */
	CHECK_EQ_UINT(1, find("web", "")->counts.established);
	CHECK_EQ_INT(0, collector_collect(c, cfg, NULL, &res));
	CHECK_EQ_UINT(1, filtered_dumps);
	CHECK(!res.kernel_filter);
	return 0;
}

/* unmatched: count needs every socket: no kernel filter. */
DEF_TEST(unmatched_disables_filter)
{
	const char *yaml = "defaults:\n  unmatched: count\n"
			   "services:\n  - name: pg\n    direction: outbound\n"
			   "    ports: [5432]\n";

	CHECK_EQ_INT(0, start(yaml));
	add_socket("198.18.0.1", 40001, "198.18.0.9", 5432, TCPS_ESTABLISHED);
	add_socket("198.18.0.1", 40002, "198.18.0.9", 6379, TCPS_ESTABLISHED);
	CHECK_EQ_INT(0, collector_collect(c, cfg, NULL, &res));
	CHECK(!res.kernel_filter);
	CHECK_EQ_UINT(0, filtered_dumps);
	CHECK_EQ_UINT(1, find("pg", "")->counts.established);
	CHECK_EQ_UINT(0, find("pg", "")->service_id);
	/* Nothing listens on the local port: an outbound "unmatched". */
	for (size_t i = 0; i < res.n_services; i++)
		if (strcmp(res.services[i].name, "unmatched") == 0) {
			CHECK_EQ_UINT(res.services[i].direction == DIRECTION_OUTBOUND,
				      res.services[i].counts.established);
			CHECK_EQ_UINT(SERVICE_ID_NONE, res.services[i].service_id);
		}
	CHECK_EQ_UINT(2, res.sockets_matched);
	return 0;
}

/* Namespaces of the same pod merge; each pod is its own series; a
 * namespace without a pod counts into the pod-less series. */
DEF_TEST(namespaces_merge_by_pod)
{
	struct collect_options opt = {.pod_labels = true};
	struct pod_ref a = {"shop", "web-a"}, b = {"shop", "web-b"};

	CHECK_EQ_INT(0, start(TWO_SERVICES));
	add_socket("198.18.0.1", 8080, "198.18.0.2", 40001, TCPS_ESTABLISHED);
	CHECK_EQ_INT(0, collector_begin(c, cfg, &opt, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 0, NULL, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 1, &a, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 2, &b, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 3, &a, &res));
	CHECK(res.pod_labels);
	CHECK_EQ_UINT(4, res.namespaces);
	CHECK_EQ_UINT(1, find("web", "")->counts.established);
	CHECK(find("web", "web-a") != NULL);
	CHECK_EQ_STR("shop", find("web", "web-a")->pod_namespace);
	CHECK_EQ_UINT(2, find("web", "web-a")->counts.established);
	CHECK_EQ_UINT(1, find("web", "web-b")->counts.established);
	CHECK_EQ_UINT(0, find("pg", "web-b")->counts.established);
	CHECK_EQ_UINT(6, res.n_services); /* 2 services x (no pod, web-a, web-b) */
	CHECK_EQ_UINT(0, res.series_dropped);
	return 0;
}

/* --collector.max-series: over the cap a pod's series folds into the
 * pod-less one (counted, not lost) and halfopen_series_dropped says how
 * many series were refused. */
DEF_TEST(series_cap_folds_pods)
{
	struct collect_options opt = {.pod_labels = true, .max_series = 4};
	struct pod_ref a = {"shop", "web-a"}, b = {"shop", "web-b"}, d = {"shop", "web-d"};
	struct exporter_stats st = {0};
	struct buf out;

	buf_init(&out);
	CHECK_EQ_INT(0, start(TWO_SERVICES));
	add_socket("198.18.0.1", 8080, "198.18.0.2", 40001, TCPS_ESTABLISHED);
	CHECK_EQ_INT(0, collector_begin(c, cfg, &opt, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 1, &a, &res)); /* 2 + 2 = the cap */
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 2, &b, &res)); /* folds: 2 dropped */
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 3, &d, &res)); /* folds: 2 dropped */
	CHECK_EQ_UINT(4, res.n_services);
	CHECK(find("web", "web-b") == NULL);
	CHECK(find("web", "web-d") == NULL);
	CHECK_EQ_UINT(1, find("web", "web-a")->counts.established);
	CHECK_EQ_UINT(2, find("web", "")->counts.established);
	CHECK_EQ_UINT(4, res.series_dropped);
	CHECK_EQ_UINT(3, res.sockets_matched);

	{
		const struct exposition_body body = {.collection = &res, .stats = &st};

		CHECK_EQ_INT(0, exposition_render_body(&body, &out, NULL));
	}
	CHECK_CONTAINS("\nhalfopen_series_dropped 4\n", out.data);
	CHECK_CONTAINS("\nhalfopen_established_sockets{tcp_service=\"web\",direction=\"inbound\","
		       "namespace=\"shop\",pod=\"web-a\"} 1\n",
		       out.data);
	CHECK(strstr(out.data, "pod=\"web-b\"") == NULL);

	/* The next collection starts under the cap again. */
	CHECK_EQ_INT(0, collector_begin(c, cfg, &opt, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 1, &b, &res));
	CHECK_EQ_UINT(0, res.series_dropped);
	CHECK_EQ_UINT(1, find("web", "web-b")->counts.established);
	buf_free(&out);
	return 0;
}

/* Over the cap even without pods (auto listening services): the
 * entry's sockets are dropped and counted as dropped series. */
DEF_TEST(series_cap_drops_auto_services)
{
	const char *yaml = "defaults:\n  listening_ports: true\n"
			   "services:\n  - name: pg\n    direction: outbound\n"
			   "    ports: [5432]\n";
	struct collect_options opt = {.max_series = 2};

	CHECK_EQ_INT(0, start(yaml));
	add_socket("198.18.0.1", 7001, "0.0.0.0", 0, TCPS_LISTEN);
	add_socket("198.18.0.1", 7002, "0.0.0.0", 0, TCPS_LISTEN);
	add_socket("198.18.0.1", 7001, "198.18.0.2", 40001, TCPS_ESTABLISHED);
	add_socket("198.18.0.1", 7002, "198.18.0.2", 40002, TCPS_ESTABLISHED);
	CHECK_EQ_INT(0, collector_begin(c, cfg, &opt, &res));
	CHECK_EQ_INT(0, collector_collect_ns(c, NULL, 1, NULL, &res));
	CHECK(listen_dumps >= 1);
	CHECK_EQ_UINT(2, res.listening_sockets);
	CHECK_EQ_UINT(2, res.n_services);
	CHECK(find("listen_7001", "") != NULL);
	CHECK_EQ_UINT(1, find("listen_7001", "")->counts.established);
	CHECK(find("listen_7002", "") == NULL);
	CHECK_EQ_UINT(1, res.series_dropped);
	return 0;
}

#define RUN(t)                                                                                     \
	do {                                                                                       \
		RUN_TEST(t);                                                                       \
		finish();                                                                          \
	} while (0)

int main(void)
{
	RUN(add_counts_each_class);
	RUN(merge_sums_and_keeps_longest);
	RUN(collect_counts_per_service);
	RUN(interrupted_dump_is_redone_once);
	RUN(rejected_filter_falls_back);
	RUN(unmatched_disables_filter);
	RUN(namespaces_merge_by_pod);
	RUN(series_cap_folds_pods);
	RUN(series_cap_drops_auto_services);
	END_TEST;
}
