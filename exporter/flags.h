/* The command-line flags: one table (flags.c) that drives getopt_long,
 * the defaults, validation, --help, the README's flag table
 * (--help-markdown) and the man page (--help-man). Adding a flag is one
 * field here and one row there. */
#ifndef HALFOPEN_FLAGS_H
#define HALFOPEN_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/enforce.h"
#include "common/buf.h"

struct options {
	const char *config_file;
	bool config_check;
	const char *interval;
	uint32_t interval_ms; /* --collector.interval, parsed */
	const char *listen_address;
	const char *telemetry_path;
	const char *web_config_file;
	const char *log_level;
	const char *log_format;
	unsigned long max_requests;
	const char *netns; /* --collector.netns: host or all */
	bool netns_all;
	bool netns_foreign_userns;	  /* --collector.netns.foreign-userns */
	bool sockets_page;		  /* --web.enable-sockets-page */
	bool remediation_dry_run;	  /* --remediation.dry-run */
	const char *enforce_read_path;	  /* --enforce.read-path */
	enum enforce_read_path read_path; /* the same, parsed */
	const char *enforce_pass_max_gap; /* --enforce.pass-max-gap */
	uint32_t pass_max_gap_ms;	  /* the same, parsed; 0: every collection */
	const char *enforce_cgroup;	  /* --enforce.cgroup: auto, none or a directory */
	bool pod_labels;
	bool conntrack; /* --collector.conntrack */
	unsigned long max_series;
	const char *procfs;
	const char *sysfs;
	const char *netns_dir;
	const char *pod_logs_dir;
	bool enable_lifecycle;
	const char *runas_user;
};

enum flag_kind {
	FLAG_SWITCH, /* no argument; sets a bool */
	FLAG_STRING, /* stores the argument */
	FLAG_UINT,   /* an unsigned long in [min, max] */
	FLAG_CHOICE, /* one of choices ("a|b"), stored as given */
	FLAG_ACTION, /* no argument; flags_parse returns .action */
};

/* One row of the table. The default is applied through the same setter
 * as a command-line value, so what --help shows is what runs. */
struct flag {
	const char *name; /* long name, without "--" */
	char short_name;  /* 0: none */
	enum flag_kind kind;
	const char *arg;   /* what the argument is (PATH, DUR, N); NULL: none */
	const char *def;   /* default value; NULL: unset */
	const char *shown; /* the default in words when def is NULL ("built-in") */
	const char *help;  /* one plain sentence, no final period */
	size_t offset;	   /* of the field in struct options (not FLAG_ACTION) */
	const char *choices;
	unsigned long min, max;
	int action;  /* FLAG_ACTION: an enum flags_action */
	bool hidden; /* left out of --help and the docs (the doc generators) */
	/* After the value is stored: validate or derive (0 or -EINVAL and a
	 * reason in *why, without the flag's name). */
	int (*check)(struct options *o, struct buf *why);
};

extern const struct flag flags_table[];
extern const size_t flags_count;

/* What flags_parse found besides options to run with. */
enum flags_action {
	FLAGS_RUN = 0,
	FLAGS_HELP,	     /* --help, -h */
	FLAGS_VERSION,	     /* --version */
	FLAGS_HELP_MARKDOWN, /* --help-markdown: the README's flag table */
	FLAGS_HELP_MAN,	     /* --help-man: the man page, roff */
};

/* Fill *o with the defaults, then with argv (getopt_long order; argv is
 * permuted as getopt does). Returns an enum flags_action, or -EINVAL with
 * one line saying which flag and what is wrong in *why (no newline). */
int flags_parse(int argc, char **argv, struct options *o, struct buf *why);

/* Renderings of the table: --help text, a Markdown table (flag, default,
 * meaning) and the whole man page halfopen_exporter(1) in roff. Return 0
 * or -ENOMEM (the buffer's error). */
int flags_render_help(struct buf *out);
int flags_render_markdown(struct buf *out);
int flags_render_man(struct buf *out, const char *version);

#endif
