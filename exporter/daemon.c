#include "daemon.h"

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
#include "collectors/sockdiag.h"
#include "collectors/suspects.h"
#include "common/buf.h"
#include "exporter/enforce_run.h"
#include "exporter/metrics/exposition.h"
#include "exporter/http/http.h"
#include "exporter/log.h"
#include "exporter/loop.h"
#include "exporter/privileges.h"
#include "exporter/reload.h"
#include "exporter/remediation.h"
#include "exporter/sockets_page.h"
#include "exporter/sockets_route.h"
#include "version.h"

#define COLLECTOR_NICE 10

struct daemon {
	const struct options *opt;
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
	int good;			     /* index of the last good, -1 before the first */
	struct exporter_stats stats;
	struct loop_streaks streaks;
	struct buf body;
	struct enforce *enforce;     /* loaded only when the config at start has enforce */
	struct conntrack *conntrack; /* --collector.conntrack, else NULL */
	bool enforce_errors_logged;
	struct loop_enforce enforce_sched; /* when a pass may be skipped */
	/* Where new connections get enforce as they are established. */
	enum enforce_on_connect enforce_on_connect;
};

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

/* A refused config file, logged once with place and reason; r passed on. */
static int say_config_error(const char *what, const char *path, int r,
			    const struct config_error *err)
{
	struct buf msg;

	buf_init(&msg);
	config_error_format(err, &msg);
	log_kv(LOG_LEVEL_ERROR, what, "file", path, "err",
	       buf_error(&msg) ? strerror(-r) : msg.data, NULL);
	buf_free(&msg);
	return r;
}

int daemon_load_config(const char *path, struct config **out)
{
	struct config_error err;
	int r;

	if (!path)
		return config_default(out);
	memset(&err, 0, sizeof(err));
	r = config_load_file(path, out, &err);
	return r == 0 ? 0 : say_config_error("Invalid configuration", path, r, &err);
}

int daemon_load_web_config(const char *path, struct web_config **out)
{
	struct config_error err;
	int r;

	*out = NULL;
	if (!path)
		return 0;
	memset(&err, 0, sizeof(err));
	r = web_config_load_file(path, out, &err);
	return r == 0 ? 0 : say_config_error("Invalid web configuration", path, r, &err);
}

/* Say at start when the descriptor limit cut the connection table: a
 * small table is easy to fill with idle connections (docs/security.md). */
static void log_connection_limit(const struct http_server *http)
{
	char got[16], want[16], nofile[24];
	unsigned max_conns, wanted;
	unsigned long fds;

	http_server_limits(http, &max_conns, &wanted, &fds);
	if (max_conns >= wanted)
		return;
	snprintf(got, sizeof(got), "%u", max_conns);
	snprintf(want, sizeof(want), "%u", wanted);
	snprintf(nofile, sizeof(nofile), "%lu", fds);
	log_kv(LOG_LEVEL_WARN,
	       "HTTP connection table cut to fit the open files limit (RLIMIT_NOFILE less 128, or "
	       "half of it below 256, kept for the rest); a few idle clients can then fill it: "
	       "raise the limit (LimitNOFILE=, ulimit -n)",
	       "max_connections", got, "wanted", want, "nofile", nofile, NULL);
}

/* Render the whole body (exposition.c, the path the tests take) and hand
 * it to the server.
 * On failure the server keeps the previous body; logged here, once, for
 * both callers (after a collection, after a reload). */
static void publish(struct daemon *d)
{
	const struct exposition_body body = {
	    .collection = d->good < 0 ? NULL : &d->results[d->good],
	    .stats = &d->stats,
	    .suspects = d->suspects,
	    .enforce = d->enforce,
	    .proc_root = "/proc",
	    .http = d->http,
	    .nsreg = d->nsreg,
	    .conntrack = d->conntrack,
	};
	const char *failed = NULL;
	int r;

	buf_reset(&d->body);
	r = exposition_render_body(&body, &d->body, &failed);
	if (r == 0)
		r = http_server_publish(d->http, d->body.data, d->body.len);
	if (r < 0)
		log_kv(LOG_LEVEL_ERROR, "Rendering metrics failed", "err", strerror(-r), "source",
		       failed ? failed : "-", NULL);
}

/* After the tracker's end(): remediation, then the page's snapshot. */
static void after_collection(struct daemon *d, uint64_t now_ms)
{
	const struct remediation_env env = {d->cfg, d->nsreg};
	struct suspect_snapshot *snap;

	remediation_run(d->suspects, &env, now_ms, d->opt->remediation_dry_run);
	if (!d->opt->sockets_page ||
	    suspects_snapshot(d->suspects, SOCKETS_PAGE_MAX_LIMIT, &snap) < 0)
		return; /* the page keeps the previous snapshot */
	snap->unix_time = now_realtime();
	sockets_shelf_put(&d->shelf, snap);
}

static void say_refresh(unsigned say, int err, const struct netns_refresh_stats *st)
{
	if (say & LOOP_SAY_NS_FAILED)
		log_kv(LOG_LEVEL_WARN, "Namespace discovery failed; using the last known set",
		       "err", strerror(-err), NULL);
	if (say & LOOP_SAY_NS_DENIED) {
		char dn[24], of[24];

		fmt_u64(dn, sizeof(dn), st->denied);
		fmt_u64(of, sizeof(of), st->open_failed);
		log_kv(LOG_LEVEL_WARN,
		       "Some network namespaces cannot be entered (needs CAP_SYS_ADMIN and "
		       "CAP_SYS_PTRACE); their sockets are not counted",
		       "denied", dn, "open_failed", of, NULL);
	}
}

static int read_conntrack_timeout(void *ms)
{
	return conntrack_timeout_read(ms);
}

/* collect_options.conntrack_timeout: read inside namespace ns_index. */
static int ns_conntrack_timeout(void *nsreg, uint32_t ns_index, uint32_t *ms)
{
	return netns_registry_run_in(nsreg, ns_index, read_conntrack_timeout, ms);
}

/* One collection over every namespace of the registry. Only a failure in
 * the exporter's own namespace fails the collection; another namespace
 * that fails (it may be vanishing right now) is counted in the result.
 * On -ENOTRECOVERABLE, *where names the step that lost the thread. */
static int collect_namespaces(struct daemon *d, struct collection_result *res, const char **where)
{
	const struct collect_hooks hooks = {suspects_observe, d->suspects};
	struct collect_options copt = {
	    .hooks = &hooks,
	    .pod_labels = d->opt->pod_labels,
	    .max_series = d->opt->max_series,
	    .pod_of_cgroup = d->opt->pod_labels ? netns_registry_pod_of_cgroup : NULL,
	    .pod_ctx = d->nsreg,
	    .conntrack_timeout = ns_conntrack_timeout,
	    .conntrack_ctx = d->nsreg,
	    .extra_classes = d->conntrack ? conntrack_classes : NULL,
	    .extra_ctx = d->conntrack,
	};
	int r;

	if (d->opt->netns_all) {
		struct netns_refresh_stats st;

		memset(&st, 0, sizeof(st));
		*where = "namespace discovery";
		r = netns_registry_refresh(d->nsreg, &st);
		if (r == -ENOTRECOVERABLE)
			return r;
		say_refresh(loop_account_refresh(&d->streaks, r, st.denied, st.open_failed), r,
			    &st);
	}
	/* Before the sockets: each socket is looked up in the tables. */
	*where = "conntrack dump";
	if (d->conntrack && conntrack_collect(d->conntrack, d->nsreg) == -ENOTRECOVERABLE)
		return -ENOTRECOVERABLE;
	/* A namespace's conntrack timeout (path_idle_timeout: conntrack) is
	 * read inside it. */
	*where = "socket collection";
	r = collector_begin(d->collector, d->cfg, &copt, res);
	if (r < 0)
		return r;
	for (size_t i = 0; i < netns_registry_count(d->nsreg); i++) {
		const struct netns_entry *e = netns_registry_get(d->nsreg, i);
		struct pod_ref pod;

		r = collector_collect_ns(d->collector, e->sk, (uint32_t)i, netns_entry_pod(e, &pod),
					 res);
		if (r < 0)
			suspects_ns_incomplete(d->suspects, (uint32_t)i);
		if (r < 0 && (e->is_host || r == -ENOTRECOVERABLE))
			return r;
	}
	return 0;
}

static void say_collection(const struct daemon *d, unsigned say, const struct collection_outcome *o)
{
	char n[24];

	if (say & LOOP_SAY_FAILED)
		log_kv(LOG_LEVEL_ERROR, "Collection failed; serving the last good counts", "err",
		       strerror(-o->err), NULL);
	if (say & LOOP_SAY_OVERRUN) {
		char dur[32];

		snprintf(dur, sizeof(dur), "%.3f", o->duration_seconds);
		log_kv(LOG_LEVEL_WARN,
		       "Collection took more than half the interval; consider a longer "
		       "--collector.interval or fewer services",
		       "duration_seconds", dur, "interval", d->opt->interval, NULL);
	}
	if (say & LOOP_SAY_RECOVERED) {
		fmt_u64(n, sizeof(n), d->streaks.streak_ended);
		log_kv(LOG_LEVEL_INFO, "Collections recovered", "failed_collections", n, NULL);
	}
}

/* netns.h's contract: after -ENOTRECOVERABLE the thread that collects
 * is in an unknown network namespace and must not be used again. The
 * registry's home (the only way back) was this thread's namespace, and a
 * new thread would inherit the unknown one, so the process exits
 * non-zero and its supervisor (systemd's Restart=on-failure, the
 * kubelet) starts a fresh one: a gap in the series instead of counts
 * from the wrong namespace. */
static int thread_lost(const char *where)
{
	log_kv(LOG_LEVEL_ERROR,
	       "The collector thread could not return to its own network namespace; exiting so "
	       "the supervisor restarts the exporter",
	       "err", strerror(ENOTRECOVERABLE), "during", where, NULL);
	return -ENOTRECOVERABLE;
}

/* One collection, its bookkeeping, and the body published. 0, or
 * -ENOTRECOVERABLE (logged): stop. */
static int collect(struct daemon *d)
{
	int scratch = d->good == 0 ? 1 : 0;
	struct collection_result *res = &d->results[scratch];
	struct collection_outcome o;
	const char *where = "collection";
	uint64_t t0 = now_mono_ms();
	struct timespec a, b;
	unsigned say;

	memset(&o, 0, sizeof(o));
	clock_gettime(CLOCK_MONOTONIC, &a);
	suspects_begin(d->suspects, t0);
	o.err = collect_namespaces(d, res, &where);
	if (o.err == -ENOTRECOVERABLE)
		return thread_lost(where);
	suspects_end(d->suspects, o.err == 0, o.err == 0 ? res : NULL);
	after_collection(d, t0);
	enforce_run_fold_connect(d->enforce, d->opt->remediation_dry_run);
	/* New sockets need no pass when the connection-time program sees
	 * every process's and gave them enforce already: then only a
	 * reload, a partial collection or the gap calls for one. */
	if (d->enforce && config_wants_enforce(d->cfg) &&
	    !loop_enforce_pass_due(
		&d->enforce_sched, o.err == 0 && res->namespace_errors == 0,
		d->enforce_on_connect == ENFORCE_ON_CONNECT_ALL ? 0 : res->enforce_fingerprint,
		now_mono_ms()))
		enforce_passes_skipped(d->enforce);
	else if (enforce_run_passes(d->enforce, d->cfg, d->nsreg, d->opt->remediation_dry_run,
				    &d->enforce_errors_logged) == -ENOTRECOVERABLE)
		return thread_lost("enforce pass");
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (o.err == 0) {
		d->good = scratch;
		o.duration_seconds =
		    (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		o.unix_time = now_realtime();
		o.sockets = res->sockets_seen;
		o.dump_retries = res->dump_retries;
	}
	say = loop_account_collection(&d->streaks, &d->stats, d->opt->interval_ms, &o);
	say_collection(d, say, &o);
	if (o.err == 0) {
		char n[24], ms[24];

		if (res->auto_services_dropped) {
			fmt_u64(n, sizeof(n), res->auto_services_dropped);
			log_kv(LOG_LEVEL_DEBUG, "Listening ports over max_listening_services",
			       "dropped", n, NULL);
		}
		fmt_u64(n, sizeof(n), res->sockets_seen);
		fmt_u64(ms, sizeof(ms), now_mono_ms() - t0);
		log_kv(LOG_LEVEL_DEBUG, "Collected", "sockets", n, "duration_ms", ms, NULL);
	}
	publish(d);
	return 0;
}

/* The reload stages (reload.h) over the real loaders, enforce and server. */
static int stage_load_config(void *ctx, struct config **out)
{
	struct daemon *d = ctx;

	return daemon_load_config(d->opt->config_file, out);
}

static int stage_load_web_config(void *ctx, struct web_config **out)
{
	struct daemon *d = ctx;

	return daemon_load_web_config(d->opt->web_config_file, out);
}

/* A config with enforce needs the program, which only a start with
 * CAP_BPF and CAP_PERFMON could load: a process started without it
 * refuses such a reload. */
static int stage_apply_enforce(void *ctx, const struct config *cfg)
{
	struct daemon *d = ctx;
	char why[640]; /* enforce_open may explain two read paths */
	int r;

	if (!d->enforce && !config_wants_enforce(cfg))
		return 0;
	if (!d->enforce) {
		r = enforce_open(&d->enforce, d->opt->read_path, why, sizeof(why));
		if (r == 0) {
			log_kv(LOG_LEVEL_INFO, "Enforce loaded (BPF socket iterator)", "read_path",
			       enforce_loaded_read_path(d->enforce), NULL);
			d->enforce_on_connect = enforce_run_attach_connect(
			    d->enforce, d->opt->enforce_cgroup, d->opt->sysfs, d->opt->netns_all);
		}
		if (r < 0) {
			log_kv(LOG_LEVEL_ERROR,
			       "The new configuration asks for enforce, which this process cannot "
			       "do; restart the exporter with that configuration (and CAP_BPF + "
			       "CAP_PERFMON)",
			       "err", why, NULL);
			return r;
		}
	}
	r = enforce_configure(d->enforce, cfg, d->opt->remediation_dry_run);
	if (r < 0)
		log_kv(LOG_LEVEL_ERROR, "Putting enforce blocks in force failed", "err",
		       strerror(-r), NULL);
	return r;
}

static int stage_apply_web_config(void *ctx, struct web_config *wc)
{
	struct daemon *d = ctx;
	char why[128];
	int r = http_server_set_web_config(d->http, wc, why, sizeof(why));

	if (r < 0 && r != -EINVAL)
		snprintf(why, sizeof(why), "%s", strerror(-r));
	if (r < 0)
		log_kv(LOG_LEVEL_ERROR, "Invalid web configuration", "file",
		       d->opt->web_config_file, "err", why, NULL);
	return r;
}

static void reload(struct daemon *d)
{
	const struct reload_stages stages = {
	    .ctx = d,
	    .load_config = stage_load_config,
	    .load_web_config = d->opt->web_config_file ? stage_load_web_config : NULL,
	    .apply_enforce = stage_apply_enforce,
	    .apply_web_config = stage_apply_web_config,
	};
	struct reload_result res;
	int r;

	log_kv(LOG_LEVEL_INFO, "Reloading configuration", "file",
	       d->opt->config_file ? d->opt->config_file : "<built-in>", NULL);
	r = reload_run(&stages, &d->cfg, &res);
	loop_account_reload(&d->stats, r, now_realtime());
	/* Whatever the outcome, enforce may act differently now. */
	loop_enforce_reset(&d->enforce_sched);
	if (res.restore_err < 0)
		log_kv(LOG_LEVEL_ERROR,
		       "Putting the previous enforce blocks back failed; enforce may act on "
		       "blocks of the refused configuration until the next good reload",
		       "err", strerror(-res.restore_err), NULL);
	if (r < 0)
		log_kv(LOG_LEVEL_ERROR, "Reload failed; keeping the previous configuration",
		       "stage", reload_stage_name(res.failed), NULL);
	else
		log_kv(LOG_LEVEL_INFO, "Configuration reloaded", NULL);
	http_server_reload_done(d->http, r < 0 ? -EINVAL : 0);
}

/* http_options.after_bind: the listening socket is bound and no thread
 * exists yet, so what is dropped here is dropped for every thread. */
static int drop_privileges(void *arg, char *errmsg, size_t errlen)
{
	struct daemon *d = arg;
	struct privileges_want want = {
	    .other_netns = d->opt->netns_all,
	    .remediation = remediation_needs_destroy(d->cfg, d->opt->remediation_dry_run),
	    .conntrack = d->opt->conntrack,
	    .runas_user = d->opt->runas_user,
	};
	struct privileges_report rep;
	int r = privileges_drop(&want, &rep);

	if (r < 0) {
		snprintf(errmsg, errlen, "dropping privileges: %s", rep.msg);
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

/* Wait until deadline_ms (monotonic) or a signal. Returns the signal, or
 * 0 at the deadline. */
static int wait_signal(const sigset_t *set, uint64_t deadline_ms)
{
	uint64_t now = now_mono_ms();
	struct timespec ts = {0};
	int sig;

	if (deadline_ms > now) {
		uint64_t left = deadline_ms - now;

		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
	}
	sig = sigtimedwait(set, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

/* The netns registry (its home is this thread's namespace), the
 * collector, the tracker, and enforce: loading needs CAP_BPF +
 * CAP_PERFMON, so before they are dropped. */
static int open_collectors(struct daemon *d)
{
	struct netns_options nopt = {
	    .proc_root = d->opt->procfs,
	    .netns_dir = d->opt->netns_dir,
	    .pod_logs_dir = d->opt->pod_logs_dir,
	    .cgroup_root = d->cgroup_root,
	    .all = d->opt->netns_all,
	    .pods = d->opt->pod_labels,
	    .foreign_userns = d->opt->netns_foreign_userns,
	};
	char why[640]; /* enforce_open may explain two read paths */
	int r;

	snprintf(d->cgroup_root, sizeof(d->cgroup_root), "%s/fs/cgroup", d->opt->sysfs);
	/* Opens the sock_diag handle of our own namespace now, in the
	 * thread that will collect (setns() moves only this thread). */
	r = netns_registry_new(&nopt, &d->nsreg);
	if (r < 0) {
		log_kv(LOG_LEVEL_ERROR, "Opening the sock_diag netlink socket failed", "err",
		       strerror(-r), NULL);
		return r;
	}
	r = collector_new(&d->collector);
	if (r == 0)
		r = suspects_new(NULL, &d->suspects);
	if (r == 0 && d->opt->conntrack)
		r = conntrack_new(&d->conntrack);
	if (r < 0 || !config_wants_enforce(d->cfg))
		return r;
	r = enforce_open(&d->enforce, d->opt->read_path, why, sizeof(why));
	if (r == 0)
		r = enforce_configure(d->enforce, d->cfg, d->opt->remediation_dry_run);
	if (r < 0) {
		log_kv(LOG_LEVEL_ERROR, "The configuration asks for enforce, which cannot run here",
		       "err", d->enforce ? strerror(-r) : why, NULL);
		return r;
	}
	log_kv(LOG_LEVEL_INFO, "Enforce loaded (BPF socket iterator)", "dry_run",
	       d->opt->remediation_dry_run ? "true" : "false", "read_path",
	       enforce_loaded_read_path(d->enforce), NULL);
	d->enforce_on_connect = enforce_run_attach_connect(d->enforce, d->opt->enforce_cgroup,
							   d->opt->sysfs, d->opt->netns_all);
	return 0;
}

int daemon_run(struct daemon *d)
{
	const struct http_route routes[] = {{SOCKETS_PAGE_PATH, sockets_route, &d->shelf}};
	struct http_options hopt = {
	    .routes = routes,
	    .n_routes = d->opt->sockets_page ? 1 : 0,
	    .listen_address = d->opt->listen_address,
	    .telemetry_path = d->opt->telemetry_path,
	    .version = HALFOPEN_VERSION,
	    .max_requests = d->opt->max_requests,
	    .enable_lifecycle = d->opt->enable_lifecycle,
	    .web = d->web,
	    .after_bind = drop_privileges,
	    .after_bind_arg = d,
	};
	struct loop_schedule sched;
	char errmsg[256] = "";
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

	r = open_collectors(d);
	if (r < 0)
		return r;
	d->web = NULL; /* the server takes it over, whatever happens */
	r = http_server_start(&hopt, &d->http, errmsg, sizeof(errmsg));
	if (r < 0) {
		/* Also the privilege drop's failure, which runs inside the start. */
		log_kv(LOG_LEVEL_ERROR, "Start-up failed", "address", d->opt->listen_address, "err",
		       errmsg[0] ? errmsg : strerror(-r), NULL);
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
	log_kv(LOG_LEVEL_INFO, "Listening", "address", d->opt->listen_address, "telemetry_path",
	       d->opt->telemetry_path, "interval", d->opt->interval, NULL);
	log_connection_limit(d->http);

	loop_schedule_init(&sched, d->opt->interval_ms, now_mono_ms());
	for (;;) {
		int sig = wait_signal(&set, loop_schedule_deadline(&sched));

		if (sig == SIGTERM || sig == SIGINT) {
			log_kv(LOG_LEVEL_INFO, "Stopping", "signal",
			       sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
			return 0;
		}
		if (sig == SIGHUP)
			loop_schedule_sighup(&sched, now_mono_ms());
		if (loop_schedule_take_reload(&sched, now_mono_ms())) {
			reload(d);
			loop_schedule_reloaded(&sched, now_mono_ms());
			/* halfopen_config_last_reload_successful at once, not at
			 * the next collection. */
			publish(d);
		}
		if (!loop_schedule_collection_due(&sched, now_mono_ms()))
			continue;
		r = collect(d);
		if (r < 0)
			return r;
		loop_schedule_collected(&sched, now_mono_ms());
	}
}

int daemon_new(const struct options *opt, struct config *cfg, struct web_config *web,
	       struct daemon **out)
{
	struct daemon *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d) {
		config_free(cfg);
		web_config_free(web);
		return -ENOMEM;
	}
	d->opt = opt;
	d->cfg = cfg;
	d->web = web;
	d->good = -1;
	buf_init(&d->body);
	sockets_shelf_init(&d->shelf);
	d->stats.version = HALFOPEN_VERSION;
	d->stats.revision = HALFOPEN_REVISION;
	d->stats.interval_seconds = opt->interval_ms / 1000.0;
	loop_enforce_init(&d->enforce_sched, opt->pass_max_gap_ms);
	loop_account_reload(&d->stats, 0, now_realtime());
	*out = d;
	return 0;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	http_server_stop(d->http);
	collector_free(d->collector);
	suspects_free(d->suspects);
	sockets_shelf_destroy(&d->shelf);
	netns_registry_free(d->nsreg);
	enforce_free(d->enforce);
	conntrack_free(d->conntrack);
	collection_result_free(&d->results[0]);
	collection_result_free(&d->results[1]);
	config_free(d->cfg);
	web_config_free(d->web);
	buf_free(&d->body);
	free(d);
}
