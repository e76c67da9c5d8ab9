/* The flag table, and parsing argv with it. See flags.h. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "collectors/enforce.h"
#include "config/config.h"
#include "exporter/flags.h"
#include "exporter/http/http.h"

#define STR_(x)		#x
#define STR(x)		STR_(x)
#define FIELD(f)	offsetof(struct options, f)
#define MIN_INTERVAL_MS 100

static int check_interval(struct options *o, struct buf *why)
{
	if (parse_duration_ms(o->interval, &o->interval_ms) < 0 ||
	    o->interval_ms < MIN_INTERVAL_MS) {
		buf_puts(why, "want a duration of at least 100ms, e.g. 15s");
		return -EINVAL;
	}
	return 0;
}

static int check_pass_max_gap(struct options *o, struct buf *why)
{
	if (parse_duration_ms(o->enforce_pass_max_gap, &o->pass_max_gap_ms) < 0) {
		buf_puts(why, "want a duration, e.g. 1m, or 0s for a pass after every collection");
		return -EINVAL;
	}
	return 0;
}

static int check_netns(struct options *o, struct buf *why)
{
	(void)why;
	o->netns_all = strcmp(o->netns, "all") == 0;
	return 0;
}

static int check_telemetry_path(struct options *o, struct buf *why)
{
	if (o->telemetry_path[0] != '/' || strcmp(o->telemetry_path, "/") == 0) {
		buf_puts(why, "must start with / and not be /");
		return -EINVAL;
	}
	return 0;
}

static int check_enforce_read_path(struct options *o, struct buf *why)
{
	(void)why; /* FLAG_CHOICE has refused other words already */
	return enforce_read_path_parse(o->enforce_read_path, &o->read_path);
}

const struct flag flags_table[] = {
    {.name = "config.file",
     .kind = FLAG_STRING,
     .arg = "PATH",
     .shown = "built-in",
     .help = "YAML config (docs/configuration.md); without it, every listening port is a "
	     "service",
     .offset = FIELD(config_file)},
    {.name = "config.check",
     .short_name = 'n',
     .kind = FLAG_SWITCH,
     .help = "validate the config, print the verdict, exit 0 (valid) or 1",
     .offset = FIELD(config_check)},
    {.name = "collector.interval",
     .kind = FLAG_STRING,
     .arg = "DUR",
     .def = "15s",
     .help = "time between socket dumps (at least 100ms); scrapes never trigger a dump",
     .offset = FIELD(interval),
     .check = check_interval},
    {.name = "collector.netns",
     .kind = FLAG_CHOICE,
     .arg = "MODE",
     .def = "host",
     .choices = "host|all",
     .help = "host: the exporter's network namespace; all: every namespace of the node "
	     "(needs CAP_SYS_ADMIN and CAP_SYS_PTRACE)",
     .offset = FIELD(netns),
     .check = check_netns},
    {.name = "collector.netns.dir",
     .kind = FLAG_STRING,
     .arg = "DIR",
     .def = "/var/run/netns",
     .help = "where named network namespaces are pinned (ip netns, CNI)",
     .offset = FIELD(netns_dir)},
    {.name = "collector.netns.foreign-userns",
     .kind = FLAG_SWITCH,
     .help = "with --collector.netns=all, also enter namespaces owned by another user "
	     "namespace (any local user can make those with unshare -rn; skipped by default)",
     .offset = FIELD(netns_foreign_userns)},
    {.name = "collector.pod-labels",
     .kind = FLAG_SWITCH,
     .help = "namespace and pod labels on per-service series, from the socket's cgroup and "
	     "the pod log dirs; needs --collector.netns=all",
     .offset = FIELD(pod_labels)},
    {.name = "collector.conntrack",
     .kind = FLAG_SWITCH,
     .help = "dump conntrack in every watched namespace and count ESTABLISHED sockets whose "
	     "NATed (or strictly tracked) flow was forgotten; needs CAP_NET_ADMIN",
     .offset = FIELD(conntrack)},
    {.name = "collector.pod-logs-dir",
     .kind = FLAG_STRING,
     .arg = "DIR",
     .def = "/var/log/pods",
     .help = "where kubelet keeps the pod log dirs",
     .offset = FIELD(pod_logs_dir)},
    {.name = "collector.max-series",
     .kind = FLAG_UINT,
     .arg = "N",
     .def = STR(COLLECT_DEFAULT_MAX_SERIES),
     .min = 1,
     .max = 1000000,
     .help = "cap on per-service series; what it drops is counted in "
	     "halfopen_series_dropped",
     .offset = FIELD(max_series)},
    {.name = "path.procfs",
     .kind = FLAG_STRING,
     .arg = "DIR",
     .def = "/proc",
     .help = "procfs of the node (a container mounting the host's)",
     .offset = FIELD(procfs)},
    {.name = "path.sysfs",
     .kind = FLAG_STRING,
     .arg = "DIR",
     .def = "/sys",
     .help = "sysfs of the node (a container mounting the host's)",
     .offset = FIELD(sysfs)},
    {.name = "web.listen-address",
     .kind = FLAG_STRING,
     .arg = "ADDR",
     .def = HTTP_DEFAULT_LISTEN,
     .help = "where to serve; :PORT is every address (dual stack)",
     .offset = FIELD(listen_address)},
    {.name = "web.telemetry-path",
     .kind = FLAG_STRING,
     .arg = "PATH",
     .def = "/metrics",
     .help = "path of the metrics",
     .offset = FIELD(telemetry_path),
     .check = check_telemetry_path},
    {.name = "web.config.file",
     .kind = FLAG_STRING,
     .arg = "PATH",
     .shown = "none",
     .help = "TLS, client certificates, basic auth, headers (exporter-toolkit format; "
	     "docs/security.md)",
     .offset = FIELD(web_config_file)},
    {.name = "web.max-requests",
     .kind = FLAG_UINT,
     .arg = "N",
     .def = "40",
     .min = 1,
     .max = 100000,
     .help = "concurrent HTTP requests",
     .offset = FIELD(max_requests)},
    {.name = "web.enable-lifecycle",
     .kind = FLAG_SWITCH,
     .help = "serve POST /-/reload",
     .offset = FIELD(enable_lifecycle)},
    {.name = "web.enable-sockets-page",
     .kind = FLAG_SWITCH,
     .help = "serve /sockets: the current suspect sockets, with peer addresses",
     .offset = FIELD(sockets_page)},
    {.name = "remediation.dry-run",
     .kind = FLAG_SWITCH,
     .help = "log what destroy_after would destroy and enforce would set; do neither",
     .offset = FIELD(remediation_dry_run)},
    {.name = "enforce.read-path",
     .kind = FLAG_CHOICE,
     .arg = "PATH",
     .def = "auto",
     .choices = "auto|fields|getsockopt",
     .help = "how enforce reads what an application chose: fields (CO-RE reads, Linux >= "
	     "5.15; tells an explicit keepalive idle from the default), getsockopt "
	     "(bpf_getsockopt, >= 6.1), or auto: fields where the kernel takes them; for "
	     "tests and benchmarks (docs/remediation.md)",
     .offset = FIELD(enforce_read_path),
     .check = check_enforce_read_path},
    {.name = "enforce.pass-max-gap",
     .kind = FLAG_STRING,
     .arg = "DUR",
     .def = "1m",
     .help = "a collection that saw no new socket of an enforcing service skips the enforce "
	     "pass, for at most this long; 0s: a pass after every collection "
	     "(docs/remediation.md)",
     .offset = FIELD(enforce_pass_max_gap),
     .check = check_pass_max_gap},
    {.name = "enforce.cgroup",
     .kind = FLAG_STRING,
     .arg = "DIR",
     .def = "auto",
     .help = "the cgroup v2 directory whose processes' new connections get enforce as they "
	     "are established, not at the next pass (needs CAP_NET_ADMIN at start): auto "
	     "(PATH.SYSFS/fs/cgroup, or its unified/ on a hybrid host: every process), a "
	     "directory, or none (docs/remediation.md)",
     .offset = FIELD(enforce_cgroup)},
    {.name = "runas.user",
     .kind = FLAG_STRING,
     .arg = "USER",
     .help = "switch to this user after start-up",
     .offset = FIELD(runas_user)},
    {.name = "log.level",
     .kind = FLAG_CHOICE,
     .arg = "LEVEL",
     .def = "info",
     .choices = "debug|info|warn|error",
     .help = "least severity logged",
     .offset = FIELD(log_level)},
    {.name = "log.format",
     .kind = FLAG_CHOICE,
     .arg = "FORMAT",
     .def = "logfmt",
     .choices = "logfmt|json",
     .help = "log line format, to stderr",
     .offset = FIELD(log_format)},
    {.name = "version",
     .kind = FLAG_ACTION,
     .action = FLAGS_VERSION,
     .help = "print the version and exit"},
    {.name = "help",
     .short_name = 'h',
     .kind = FLAG_ACTION,
     .action = FLAGS_HELP,
     .help = "print this text and exit"},
    {.name = "help-markdown",
     .kind = FLAG_ACTION,
     .action = FLAGS_HELP_MARKDOWN,
     .hidden = true,
     .help = "print the flags as the README's Markdown table"},
    {.name = "help-man",
     .kind = FLAG_ACTION,
     .action = FLAGS_HELP_MAN,
     .hidden = true,
     .help = "print the man page (roff)"},
};
const size_t flags_count = sizeof(flags_table) / sizeof(flags_table[0]);

#define N_FLAGS (sizeof(flags_table) / sizeof(flags_table[0]))

/* Whether s is one of the '|'-separated words of choices. */
static bool is_choice(const char *choices, const char *s)
{
	size_t n = strlen(s);
	const char *p = choices;

	while (n) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, s, n) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

/* Store arg (NULL for a switch) into the field f names, then run its check.
 * 0, or -EINVAL with the reason (flag named) in *why. */
static int flag_set(const struct flag *f, const char *arg, struct options *o, struct buf *why)
{
	char *field = (char *)o + f->offset;

	switch (f->kind) {
	case FLAG_SWITCH:
		*(bool *)(void *)field = true;
		break;
	case FLAG_STRING:
		*(const char **)(void *)field = arg;
		break;
	case FLAG_CHOICE:
		if (!is_choice(f->choices, arg)) {
			buf_printf(why, "--%s: want one of %s, got \"%s\"", f->name, f->choices,
				   arg);
			return -EINVAL;
		}
		*(const char **)(void *)field = arg;
		break;
	case FLAG_UINT: {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end != '\0' || errno || v < f->min || v > f->max) {
			buf_printf(why, "--%s: want %lu..%lu, got \"%s\"", f->name, f->min, f->max,
				   arg);
			return -EINVAL;
		}
		*(unsigned long *)(void *)field = v;
		break;
	}
	case FLAG_ACTION:
		return 0;
	}
	if (f->check && f->check(o, why) < 0) {
		struct buf reason;
		int r = -EINVAL;

		/* Prefix the flag and its value to the check's reason. */
		buf_init(&reason);
		buf_puts(&reason, why->data ? why->data : "");
		buf_reset(why);
		buf_printf(why, "--%s: %s, got \"%s\"", f->name, reason.data ? reason.data : "",
			   arg ? arg : "");
		if (buf_error(&reason))
			r = buf_error(&reason);
		buf_free(&reason);
		return r;
	}
	return 0;
}

/* Cross-flag rules: what one flag means only with another. */
static int check_combination(const struct options *o, struct buf *why)
{
	if (o->pod_labels && !o->netns_all) {
		buf_puts(why, "--collector.pod-labels needs --collector.netns=all (pods live in "
			      "other network namespaces; in the host's there are none to label)");
		return -EINVAL;
	}
	return 0;
}

int flags_parse(int argc, char **argv, struct options *o, struct buf *why)
{
	struct option lo[N_FLAGS + 1];
	char shorts[2 * N_FLAGS + 1];
	size_t ns = 0;
	int c, r;

	memset(o, 0, sizeof(*o));
	memset(lo, 0, sizeof(lo));
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct flag *f = &flags_table[i];

		lo[i].name = f->name;
		lo[i].has_arg = f->arg ? required_argument : no_argument;
		lo[i].val = 256 + (int)i;
		if (f->short_name) {
			shorts[ns++] = f->short_name;
			if (f->arg)
				shorts[ns++] = ':';
		}
		if (f->def && (r = flag_set(f, f->def, o, why)) < 0)
			return r; /* a broken table; the unit test keeps it whole */
	}
	shorts[ns] = '\0';

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct flag *f = NULL;

		if (c >= 256 && (size_t)(c - 256) < N_FLAGS)
			f = &flags_table[c - 256];
		for (size_t i = 0; !f && c > 0 && c < 256 && i < N_FLAGS; i++)
			if (flags_table[i].short_name == c)
				f = &flags_table[i];
		if (!f) {
			if (optopt > 0 && optopt < 256)
				buf_printf(why, "bad or incomplete flag -%c", optopt);
			else if (optopt >= 256)
				buf_printf(why, "--%s needs a value",
					   flags_table[optopt - 256].name);
			else
				buf_printf(why, "unknown flag %s", argv[optind - 1]);
			return -EINVAL;
		}
		if (f->kind == FLAG_ACTION)
			return f->action;
		r = flag_set(f, optarg, o, why);
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		buf_printf(why, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	return check_combination(o, why);
}
