/* halfopen_exporter: main loop.
 *
 * One thread collects: every --collector.interval it dumps the sockets,
 * renders the whole /metrics body once and publishes it to the HTTP
 * server, whose own threads only hand out the last published body. So a
 * scrape never waits for netlink, and a slow or failing collection never
 * blocks a scrape: the last good counts stay served. Signals are taken
 * synchronously (sigtimedwait) between collections: SIGHUP reloads the
 * config, SIGTERM/SIGINT stop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "collectors/collector.h"
#include "collectors/conntrack.h"
#include "collectors/enforce.h"
#include "collectors/netns.h"
#include "collectors/suspects.h"
#include "exporter/sockets_page.h"
#include "collectors/sockdiag.h"
#include "common/buf.h"
#include "common/metric_writer.h"
#include "config/config.h"
#include "config/web_config.h"
#include "exporter/enforce_run.h"
#include "exporter/exposition.h"
#include "exporter/flags.h"
#include "exporter/http.h"
#include "exporter/log.h"
#include "exporter/metrics_conntrack.h"
#include "exporter/metrics_enforce.h"
#include "exporter/metrics_suspects.h"
#include "exporter/privileges.h"
#include "exporter/remediation.h"
#include "exporter/sockets_route.h"
#include "exporter/process_metrics.h"
#include "version.h"

#define COLLECTOR_NICE 10
/* Reloads run at most this often, however many SIGHUPs arrive. */
#define RELOAD_MIN_GAP_MS 100u

static double now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fmt_u64(char *dst, size_t len, uint64_t v)
{
	snprintf(dst, len, "%llu", (unsigned long long)v);
}

/* Load the config named by the options (or the built-in one); on error
 * log it once, with place and reason. */
static int load_config(const char *path, struct config **out)
{
	struct config_error err;
	struct buf msg;
	int r;

	if (!path)
		return config_default(out);
	memset(&err, 0, sizeof(err));
	r = config_load_file(path, out, &err);
	if (r == 0)
		return 0;
	buf_init(&msg);
	config_error_format(&err, &msg);
	log_kv(LOG_LEVEL_ERROR, "Invalid configuration", "file", path, "err",
	       buf_error(&msg) ? strerror(-r) : msg.data, NULL);
	buf_free(&msg);
	return r;
}

/* As load_config, for --web.config.file (NULL: none). */
static int load_web_config(const char *path, struct web_config **out)
{
	struct config_error err;
	struct buf msg;
	int r;

	*out = NULL;
	if (!path)
		return 0;
	r = web_config_load_file(path, out, &err);
	if (r == 0)
		return 0;
	buf_init(&msg);
	config_error_format(&err, &msg);
	log_kv(LOG_LEVEL_ERROR, "Invalid web configuration", "file", path, "err",
	       buf_error(&msg) ? strerror(-r) : msg.data, NULL);
	buf_free(&msg);
	return r;
}

struct exporter {
	struct options opt;
	struct config *cfg;
	struct web_config *web; /* until the HTTP server takes it */
	struct netns_registry *nsreg;
	struct suspects *suspects;
	/* The /sockets page's snapshot, swapped after each collection and
	 * referenced by the HTTP threads. */
	struct sockets_shelf shelf;
	char cgroup_root[512];
	struct collector *collector;
	struct http_server *http;
	struct collection_result results[2]; /* the last good one and scratch */
	int good;                            /* index of the last good, -1 before the first */
	struct exporter_stats stats;
	struct buf body;
	uint32_t interval_ms;
	unsigned failure_streak;
	unsigned overrun_streak;
	unsigned nsreg_streak;
	bool nsreg_denied_logged;
	struct enforce *enforce; /* loaded only when the config at start has enforce */
	struct conntrack *conntrack; /* --collector.conntrack, else NULL */
	bool enforce_errors_logged;
};

/* metric_source: the last good collection, none before the first. */
static int render_last_collection(void *ctx, struct metric_writer *w)
{
	struct exporter *ex = ctx;

	if (ex->good < 0)
		return 0;
	return exposition_render_collection(&ex->results[ex->good], w);
}

/* Render every metric source into one body and hand it to the server.
 * On failure the server keeps the previous body; logged here, once, for
 * both callers (after a collection, after a reload). */
static void publish(struct exporter *ex)
{
	const struct metric_source sources[] = {
	    {"collection", render_last_collection, ex},
	    {"exporter", exposition_render_self, &ex->stats},
	    {"suspects", metrics_suspects_render, ex->suspects},
	    {"enforce", metrics_enforce_render, ex->enforce},
	    {"conntrack", metrics_conntrack_render, ex->conntrack},
	    {"process", process_metrics_render, "/proc"},
	};
	const char *failed = NULL;
	int r;

	buf_reset(&ex->body);
	r = metric_sources_render(sources, sizeof(sources) / sizeof(sources[0]), &ex->body,
				  &failed);
	if (r == 0)
		r = http_server_publish(ex->http, ex->body.data, ex->body.len);
	if (r < 0)
		log_kv(LOG_LEVEL_ERROR, "Rendering metrics failed", "err", strerror(-r), "source",
		       failed ? failed : "-", NULL);
}

/* After the tracker's end(): remediation, then the page's snapshot. */
static void after_collection(struct exporter *ex, uint64_t now_ms)
{
	const struct remediation_env env = {ex->cfg, ex->nsreg};
	struct suspect_snapshot *snap;

	remediation_run(ex->suspects, &env, now_ms, ex->opt.remediation_dry_run);
	if (!ex->opt.sockets_page ||
	    suspects_snapshot(ex->suspects, SOCKETS_PAGE_MAX_LIMIT, &snap) < 0)
		return; /* the page keeps the previous snapshot */
	snap->unix_time = now_realtime();
	sockets_shelf_put(&ex->shelf, snap);
}

/* One collection over every namespace of the registry. Only a failure in
 * the exporter's own namespace fails the collection; another namespace
 * that fails (it may be vanishing right now) is counted in the result. */
static int collect_namespaces(struct exporter *ex, struct collection_result *res)
{
	const struct collect_hooks hooks = {suspects_observe, ex->suspects};
	struct collect_options copt = {
		.hooks = &hooks,
		.pod_labels = ex->opt.pod_labels,
		.max_series = ex->opt.max_series,
		.pod_of_cgroup = ex->opt.pod_labels ? netns_registry_pod_of_cgroup : NULL,
		.pod_ctx = ex->nsreg,
		.extra_classes = ex->conntrack ? conntrack_classes : NULL,
		.extra_ctx = ex->conntrack,
	};
	struct netns_refresh_stats st;
	int r;

	if (ex->opt.netns_all) {
		r = netns_registry_refresh(ex->nsreg, &st);
		if (r == -ENOTRECOVERABLE)
			return r;
		if (r < 0 && ex->nsreg_streak++ == 0)
			log_kv(LOG_LEVEL_WARN, "Namespace discovery failed; using the last known set",
			       "err", strerror(-r), NULL);
		if (r == 0)
			ex->nsreg_streak = 0;
		if (r == 0 && (st.denied || st.open_failed) && !ex->nsreg_denied_logged) {
			char d[24], o[24];

			fmt_u64(d, sizeof(d), st.denied);
			fmt_u64(o, sizeof(o), st.open_failed);
			log_kv(LOG_LEVEL_WARN,
			       "Some network namespaces cannot be entered (needs CAP_SYS_ADMIN and "
			       "CAP_SYS_PTRACE); their sockets are not counted",
			       "denied", d, "open_failed", o, NULL);
			ex->nsreg_denied_logged = true;
		}
	}
	/* Before the sockets: each socket is looked up in the tables. */
	if (ex->conntrack && conntrack_collect(ex->conntrack, ex->nsreg) == -ENOTRECOVERABLE)
		return -ENOTRECOVERABLE;
	r = collector_begin(ex->collector, ex->cfg, &copt, res);
	if (r < 0)
		return r;
	for (size_t i = 0; i < netns_registry_count(ex->nsreg); i++) {
		const struct netns_entry *e = netns_registry_get(ex->nsreg, i);
		struct pod_ref pod;

		r = collector_collect_ns(ex->collector, e->sk, (uint32_t)i,
					 netns_entry_pod(e, &pod), res);
		if (r < 0)
			suspects_ns_incomplete(ex->suspects, (uint32_t)i);
		if (r < 0 && e->is_host)
			return r;
	}
	return 0;
}

/* A collection that takes more than half the interval leaves too little
 * slack: say so (a counter, and a warning once per streak) instead of
 * letting collections pile up; the loop already skips missed slots. */
static void check_overrun(struct exporter *ex)
{
	if (ex->stats.last_duration_seconds * 1000.0 > ex->interval_ms / 2.0) {
		ex->stats.collection_overruns_total++;
		if (ex->overrun_streak++ == 0) {
			char d[32];

			snprintf(d, sizeof(d), "%.3f", ex->stats.last_duration_seconds);
			log_kv(LOG_LEVEL_WARN,
			       "Collection took more than half the interval; consider a longer "
			       "--collector.interval or fewer services",
			       "duration_seconds", d, "interval", ex->opt.interval, NULL);
		}
	} else {
		ex->overrun_streak = 0;
	}
}

static void collect(struct exporter *ex)
{
	int scratch = ex->good == 0 ? 1 : 0;
	uint64_t t0 = now_mono_ms();
	struct timespec a, b;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &a);
	suspects_begin(ex->suspects, t0);
	r = collect_namespaces(ex, &ex->results[scratch]);
	suspects_end(ex->suspects, r == 0, r == 0 ? &ex->results[scratch] : NULL);
	after_collection(ex, t0);
	enforce_run_passes(ex->enforce, ex->cfg, ex->nsreg, ex->opt.remediation_dry_run,
			   &ex->enforce_errors_logged);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ex->stats.collections_total++;
	if (r == 0) {
		struct collection_result *res = &ex->results[scratch];

		ex->good = scratch;
		ex->stats.last_duration_seconds =
			(double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		ex->stats.dump_retries_total += res->dump_retries;
		check_overrun(ex);
		ex->stats.last_timestamp_seconds = now_realtime();
		ex->stats.last_sockets = res->sockets_seen;
		if (ex->failure_streak) {
			char n[24];

			fmt_u64(n, sizeof(n), ex->failure_streak);
			log_kv(LOG_LEVEL_INFO, "Collections recovered", "failed_collections", n,
			       NULL);
			ex->failure_streak = 0;
		}
		if (res->auto_services_dropped) {
			char n[24];

			fmt_u64(n, sizeof(n), res->auto_services_dropped);
			log_kv(LOG_LEVEL_DEBUG, "Listening ports over max_listening_services",
			       "dropped", n, NULL);
		}
		{
			char n[24], ms[24];

			fmt_u64(n, sizeof(n), res->sockets_seen);
			fmt_u64(ms, sizeof(ms), now_mono_ms() - t0);
			log_kv(LOG_LEVEL_DEBUG, "Collected", "sockets", n, "duration_ms", ms, NULL);
		}
	} else {
		ex->stats.collection_errors_total++;
		/* Once per streak: a broken netlink must not flood the log at
		 * every interval. */
		if (ex->failure_streak++ == 0)
			log_kv(LOG_LEVEL_ERROR, "Collection failed; serving the last good counts",
			       "err", strerror(-r), NULL);
	}
	publish(ex);
}

/* The web config half of a reload: loaded, and put in force only when it
 * is valid and the server accepts it. */
static int reload_web_config(struct exporter *ex)
{
	struct web_config *wc;
	char why[128];
	int r;

	if (!ex->opt.web_config_file)
		return 0;
	r = load_web_config(ex->opt.web_config_file, &wc);
	if (r == 0)
		r = http_server_set_web_config(ex->http, wc, why, sizeof(why));
	if (r < 0 && r != -EINVAL)
		snprintf(why, sizeof(why), "%s", strerror(-r));
	if (r < 0 && wc)
		log_kv(LOG_LEVEL_ERROR, "Invalid web configuration", "file",
		       ex->opt.web_config_file, "err", why, NULL);
	return r;
}

/* http_options.after_bind: the listening socket is bound and no thread
 * exists yet, so what is dropped here is dropped for every thread. */
static int drop_privileges(void *arg)
{
	struct exporter *ex = arg;
	struct privileges_want want = {
		.other_netns = ex->opt.netns_all,
		.remediation = remediation_needs_destroy(ex->cfg, ex->opt.remediation_dry_run),
		.conntrack = ex->opt.conntrack,
		.runas_user = ex->opt.runas_user,
	};
	struct privileges_report rep;
	int r = privileges_drop(&want, &rep);

	if (r < 0) {
		log_kv(LOG_LEVEL_ERROR, "Dropping privileges failed", "err", rep.msg, NULL);
		return r;
	}
	if (rep.missing[0])
		log_kv(LOG_LEVEL_WARN, "Capabilities the mode needs are not held", "missing",
		       rep.missing, NULL);
	log_kv(LOG_LEVEL_INFO, "Privileges dropped", "user", rep.user, "capabilities", rep.caps,
	       "bounding_set", rep.bounding_clear ? "reduced" : "unchanged", "no_new_privs",
	       rep.no_new_privs ? "true" : "false", NULL);
	return 0;
}

/* The enforce half of a reload: a config with enforce needs the program,
 * which only a start with CAP_BPF and CAP_PERFMON could load. Checked
 * before anything changes, so a refused reload keeps the old config. */
static int reload_enforce(struct exporter *ex, const struct config *cfg)
{
	char why[256];
	int r;

	if (ex->enforce) {
		r = enforce_configure(ex->enforce, cfg, ex->opt.remediation_dry_run);
		if (r < 0) {
			(void)enforce_configure(ex->enforce, ex->cfg, ex->opt.remediation_dry_run);
			log_kv(LOG_LEVEL_ERROR, "Putting the new enforce blocks in force failed", "err",
			       strerror(-r), NULL);
		}
		return r;
	}
	if (!config_wants_enforce(cfg))
		return 0;
	r = enforce_open(&ex->enforce, why, sizeof(why));
	if (r == 0)
		return enforce_configure(ex->enforce, cfg, ex->opt.remediation_dry_run);
	log_kv(LOG_LEVEL_ERROR,
	       "The new configuration asks for enforce, which this process cannot do; restart "
	       "the exporter with that configuration (and CAP_BPF + CAP_PERFMON)",
	       "err", why, NULL);
	return r;
}

static void reload(struct exporter *ex)
{
	struct config *cfg = NULL;

	log_kv(LOG_LEVEL_INFO, "Reloading configuration", "file",
	       ex->opt.config_file ? ex->opt.config_file : "<built-in>", NULL);
	if (load_config(ex->opt.config_file, &cfg) < 0 || reload_enforce(ex, cfg) < 0 ||
	    reload_web_config(ex) < 0) {
		if (ex->enforce) /* the maps may hold cfg already */
			(void)enforce_configure(ex->enforce, ex->cfg, ex->opt.remediation_dry_run);
		config_free(cfg);
		ex->stats.config_last_reload_successful = 0;
		log_kv(LOG_LEVEL_ERROR, "Reload failed; keeping the previous configuration", NULL);
		http_server_reload_done(ex->http, -EINVAL);
		return;
	}
	config_free(ex->cfg);
	ex->cfg = cfg;
	ex->stats.config_last_reload_successful = 1;
	ex->stats.config_last_reload_success_timestamp = now_realtime();
	log_kv(LOG_LEVEL_INFO, "Configuration reloaded", NULL);
	http_server_reload_done(ex->http, 0);
}

/* Wait until deadline_ms (monotonic) or a signal. Returns the signal, or
 * 0 at the deadline. */
static int wait_signal(const sigset_t *set, uint64_t deadline_ms)
{
	uint64_t now = now_mono_ms();
	struct timespec ts = {0};
	int sig;

	if (deadline_ms > now) {
		uint64_t d = deadline_ms - now;

		ts.tv_sec = (time_t)(d / 1000);
		ts.tv_nsec = (long)(d % 1000) * 1000000;
	}
	sig = sigtimedwait(set, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

static int run(struct exporter *ex)
{
	const struct http_route routes[] = {{SOCKETS_PAGE_PATH, sockets_route, &ex->shelf}};
	struct http_options hopt = {
		.routes = routes,
		.n_routes = ex->opt.sockets_page ? 1 : 0,
		.listen_address = ex->opt.listen_address,
		.telemetry_path = ex->opt.telemetry_path,
		.version = HALFOPEN_VERSION,
		.max_requests = ex->opt.max_requests,
		.enable_lifecycle = ex->opt.enable_lifecycle,
		.web = ex->web,
		.after_bind = drop_privileges,
		.after_bind_arg = ex,
	};
	char errmsg[256] = "";
	uint64_t next, reload_at = 0, last_reload = 0;
	bool reload_pending = false;
	sigset_t set;
	int r;

	/* Block the signals before any thread starts, so they all reach
	 * sigtimedwait below and never interrupt the HTTP threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	snprintf(ex->cgroup_root, sizeof(ex->cgroup_root), "%s/fs/cgroup", ex->opt.sysfs);
	{
		struct netns_options nopt = {
			.proc_root = ex->opt.procfs,
			.netns_dir = ex->opt.netns_dir,
			.pod_logs_dir = ex->opt.pod_logs_dir,
			.cgroup_root = ex->cgroup_root,
			.all = ex->opt.netns_all,
			.pods = ex->opt.pod_labels,
		};

		/* Opens the sock_diag handle of our own namespace now, in the
		 * thread that will collect (setns() moves only this thread). */
		r = netns_registry_new(&nopt, &ex->nsreg);
		if (r < 0) {
			log_kv(LOG_LEVEL_ERROR, "Opening the sock_diag netlink socket failed",
			       "err", strerror(-r), NULL);
			return r;
		}
	}
	r = collector_new(&ex->collector);
	if (r < 0)
		return r;
	r = suspects_new(NULL, &ex->suspects);
	if (r < 0)
		return r;
	if (ex->opt.conntrack && (r = conntrack_new(&ex->conntrack)) < 0)
		return r;
	/* Loading needs CAP_BPF + CAP_PERFMON, so before they are dropped. */
	if (config_wants_enforce(ex->cfg)) {
		char why[256];

		r = enforce_open(&ex->enforce, why, sizeof(why));
		if (r == 0)
			r = enforce_configure(ex->enforce, ex->cfg, ex->opt.remediation_dry_run);
		if (r < 0) {
			log_kv(LOG_LEVEL_ERROR,
			       "The configuration asks for enforce, which cannot run here", "err",
			       ex->enforce ? strerror(-r) : why, NULL);
			return r;
		}
		log_kv(LOG_LEVEL_INFO, "Enforce loaded (BPF socket iterator)", "dry_run",
		       ex->opt.remediation_dry_run ? "true" : "false", NULL);
	}
	ex->web = NULL; /* the server takes it over, whatever happens */
	r = http_server_start(&hopt, &ex->http, errmsg, sizeof(errmsg));
	if (r < 0) {
		log_kv(LOG_LEVEL_ERROR, "Starting the HTTP server failed", "address",
		       ex->opt.listen_address, "err", errmsg[0] ? errmsg : strerror(-r), NULL);
		return r;
	}
	/* The HTTP threads exist now and keep the default priority; this
	 * thread only collects. On a busy 2-core node a long dump would
	 * otherwise delay scrapes by up to its own length: nice the
	 * collector so the scheduler prefers answering (per-thread on
	 * Linux; raising one's own nice needs no privilege). */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), COLLECTOR_NICE) < 0)
		log_kv(LOG_LEVEL_DEBUG, "Could not lower the collector's priority", "err",
		       strerror(errno), NULL);
	log_kv(LOG_LEVEL_INFO, "Listening", "address", ex->opt.listen_address, "telemetry_path",
	       ex->opt.telemetry_path, "interval", ex->opt.interval, NULL);

	next = now_mono_ms();
	for (;;) {
		uint64_t wake = reload_pending && reload_at < next ? reload_at : next;
		int sig = wait_signal(&set, wake);
		uint64_t now;

		if (sig == SIGTERM || sig == SIGINT) {
			log_kv(LOG_LEVEL_INFO, "Stopping", "signal",
			       sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
			return 0;
		}
		/* SIGHUPs coalesce into one pending reload, at most one per
		 * RELOAD_MIN_GAP_MS; and whatever woke us, the work that is due
		 * runs, so a storm of signals never starves collection. */
		now = now_mono_ms();
		if (sig == SIGHUP && !reload_pending) {
			reload_pending = true;
			reload_at = last_reload + RELOAD_MIN_GAP_MS > now
					? last_reload + RELOAD_MIN_GAP_MS
					: now;
		}
		if (reload_pending && now >= reload_at) {
			reload_pending = false;
			reload(ex);
			last_reload = now_mono_ms();
			/* halfopen_config_last_reload_successful at once, not at
			 * the next collection. */
			publish(ex);
		}
		if (now_mono_ms() < next)
			continue;
		collect(ex);
		/* Fixed cadence; an overrun skips the missed slots rather than
		 * collecting back to back. */
		next += ex->interval_ms;
		if (next <= now_mono_ms())
			next = now_mono_ms() + ex->interval_ms;
	}
}

/* flags_parse, and what it asks for besides running: 0 to run, 1 to
 * exit 0 (help, version, docs printed), -1 to exit 2 (a bad flag, said). */
static int parse_flags(int argc, char **argv, struct options *o)
{
	struct buf out;
	int r, rc = 1;

	buf_init(&out);
	r = flags_parse(argc, argv, o, &out);
	if (r < 0) {
		fprintf(stderr, "halfopen_exporter: %s (--help lists the flags)\n",
			buf_error(&out) ? strerror(-r) : out.data);
		buf_free(&out);
		return -1;
	}
	switch (r) {
	case FLAGS_RUN:
		rc = 0;
		break;
	case FLAGS_VERSION:
		buf_printf(&out, "halfopen_exporter version %s (revision %s)\n", HALFOPEN_VERSION,
			   HALFOPEN_REVISION);
		break;
	case FLAGS_HELP:
		flags_render_help(&out);
		break;
	case FLAGS_HELP_MARKDOWN:
		flags_render_markdown(&out);
		break;
	case FLAGS_HELP_MAN:
		flags_render_man(&out, HALFOPEN_VERSION);
		break;
	}
	if (rc == 1 && (buf_error(&out) || fwrite(out.data, 1, out.len, stdout) != out.len))
		rc = -1;
	buf_free(&out);
	return rc;
}

int main(int argc, char **argv)
{
	struct exporter ex;
	int r, rc = 1;

	memset(&ex, 0, sizeof(ex));
	ex.good = -1;
	buf_init(&ex.body);
	sockets_shelf_init(&ex.shelf);

	r = parse_flags(argc, argv, &ex.opt);
	if (r != 0)
		return r > 0 ? 0 : 2;
	/* The flag table admits only the levels and formats log.c knows. */
	if (log_setup(ex.opt.log_level, ex.opt.log_format) < 0)
		return 2;
	ex.interval_ms = ex.opt.interval_ms;
	if (load_web_config(ex.opt.web_config_file, &ex.web) < 0)
		return 1;
	if (load_config(ex.opt.config_file, &ex.cfg) < 0) {
		web_config_free(ex.web);
		return 1;
	}
	if (ex.opt.config_check) {
		char n[24];

		fmt_u64(n, sizeof(n), ex.cfg->n_services);
		log_kv(LOG_LEVEL_INFO, "Configuration is valid", "file", ex.cfg->source,
		       "services", n, NULL);
		config_free(ex.cfg);
		web_config_free(ex.web);
		return 0;
	}
	ex.stats.version = HALFOPEN_VERSION;
	ex.stats.revision = HALFOPEN_REVISION;
	ex.stats.interval_seconds = ex.interval_ms / 1000.0;
	ex.stats.config_last_reload_successful = 1;
	ex.stats.config_last_reload_success_timestamp = now_realtime();
	log_kv(LOG_LEVEL_INFO, "Starting halfopen_exporter", "version", HALFOPEN_VERSION,
	       "revision", HALFOPEN_REVISION, "config", ex.cfg->source, NULL);

	rc = run(&ex) == 0 ? 0 : 1;

	http_server_stop(ex.http);
	collector_free(ex.collector);
	suspects_free(ex.suspects);
	sockets_shelf_destroy(&ex.shelf);
	netns_registry_free(ex.nsreg);
	enforce_free(ex.enforce);
	conntrack_free(ex.conntrack);
	collection_result_free(&ex.results[0]);
	collection_result_free(&ex.results[1]);
	config_free(ex.cfg);
	web_config_free(ex.web);
	buf_free(&ex.body);
	return rc;
}
