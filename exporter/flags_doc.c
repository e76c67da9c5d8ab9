/* The flag table rendered for people: --help, the README's Markdown
 * table and the man page. All three read the same rows, so none can
 * drift from what flags_parse accepts (tests/flags checks the copies in
 * the tree are current). */
#include <string.h>

#include "exporter/flags.h"

#define HELP_WIDTH  80
#define HELP_INDENT 31

static const char summary[] =
    "Finds half-open, stale and retransmitting TCP connections per service and serves the "
    "counts for Prometheus.";

/* What the argument looks like: the choices when there are few words,
 * else the argument's name. */
static const char *arg_of(const struct flag *f)
{
	return f->kind == FLAG_CHOICE && strlen(f->choices) <= 12 ? f->choices : f->arg;
}

/* The default in words, or NULL when there is none to say. */
static const char *default_of(const struct flag *f)
{
	return f->def ? f->def : f->shown;
}

/* The help sentence plus what the reader needs around it: the choices
 * (when the argument did not show them) and the default. */
static void describe(const struct flag *f, struct buf *out)
{
	buf_puts(out, f->help);
	if (f->kind == FLAG_CHOICE && arg_of(f) != f->choices)
		buf_printf(out, " (%s)", f->choices);
}

/* Append words to out, wrapped at HELP_WIDTH, continuation lines indented
 * by indent; col is the current column (> indent: a word precedes). */
static void wrap(struct buf *out, const char *text, size_t col, size_t indent)
{
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, " ");

		if (col > indent && col + 1 + len > HELP_WIDTH) {
			buf_printf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			buf_putc(out, ' ');
			col++;
		}
		buf_append(out, p, len);
		col += len;
		p += len;
		while (*p == ' ')
			p++;
	}
	buf_putc(out, '\n');
}

int flags_render_help(struct buf *out)
{
	struct buf line;
	int r;

	buf_init(&line);
	buf_puts(out, "usage: halfopen_exporter [flags]\n\n");
	wrap(out, summary, 0, 0);
	buf_putc(out, '\n');
	for (size_t i = 0; i < flags_count; i++) {
		const struct flag *f = &flags_table[i];

		if (f->hidden)
			continue;
		buf_reset(&line);
		buf_printf(&line, "  --%s", f->name);
		if (arg_of(f))
			buf_printf(&line, "=%s", arg_of(f));
		if (f->short_name)
			buf_printf(&line, ", -%c", f->short_name);
		if (line.len + 1 > HELP_INDENT)
			buf_printf(&line, "\n%*s", HELP_INDENT, "");
		else
			buf_printf(&line, "%*s", (int)(HELP_INDENT - line.len), "");
		describe(f, &line);
		if (default_of(f))
			buf_printf(&line, " (default %s)", default_of(f));
		if (buf_error(&line))
			break;
		/* The text's first word starts at HELP_INDENT on the last line. */
		{
			const char *nl = strrchr(line.data, '\n');
			size_t start = nl ? (size_t)(nl + 1 - line.data) : 0;

			buf_append(out, line.data, start + HELP_INDENT);
			wrap(out, line.data + start + HELP_INDENT, HELP_INDENT, HELP_INDENT);
		}
	}
	r = buf_error(&line);
	buf_free(&line);
	return r ? r : buf_error(out);
}

/* s with Markdown table metacharacters escaped. */
static void md_text(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '*' || *s == '_' || *s == '<')
			buf_putc(out, '\\');
		buf_putc(out, *s);
	}
}

int flags_render_markdown(struct buf *out)
{
	struct buf text;

	buf_init(&text);
	buf_puts(out, "| flag | default | meaning |\n|---|---|---|\n");
	for (size_t i = 0; i < flags_count; i++) {
		const struct flag *f = &flags_table[i];

		if (f->hidden)
			continue;
		buf_printf(out, "| `--%s", f->name);
		if (arg_of(f)) {
			/* GitHub's tables split at '|' even inside code. */
			buf_putc(out, '=');
			for (const char *p = arg_of(f); *p; p++) {
				if (*p == '|')
					buf_putc(out, '\\');
				buf_putc(out, *p);
			}
		}
		buf_putc(out, '`');
		if (f->short_name)
			buf_printf(out, ", `-%c`", f->short_name);
		buf_puts(out, " | ");
		if (f->def)
			buf_printf(out, "`%s`", f->def);
		else if (f->shown)
			md_text(out, f->shown);
		else if (f->kind == FLAG_SWITCH)
			buf_puts(out, "off");
		buf_puts(out, " | ");
		buf_reset(&text);
		describe(f, &text);
		md_text(out, text.data ? text.data : "");
		buf_puts(out, " |\n");
	}
	{
		int r = buf_error(&text);

		buf_free(&text);
		return r ? r : buf_error(out);
	}
}

/* s as roff running text: backslashes and hyphens escaped, and a line
 * never starting with a control character. */
static void roff_text(struct buf *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		buf_puts(out, "\\&");
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(out, "\\e");
		else if (*s == '-')
			buf_puts(out, "\\-");
		else
			buf_putc(out, *s);
	}
}

/* The sections around OPTIONS, in roff. */
static const char man_head[] =
    ".SH NAME\n"
    "halfopen_exporter \\- Prometheus exporter for half\\-open, stale and retransmitting "
    "TCP connections\n"
    ".SH SYNOPSIS\n"
    ".B halfopen_exporter\n"
    "[\\fIflags\\fR]\n"
    ".SH DESCRIPTION\n"
    ".B halfopen_exporter\n"
    "dumps the TCP sockets of the host (or of every network namespace) over netlink "
    "sock_diag every \\fB\\-\\-collector.interval\\fR,\n"
    "classifies each one (stale idle, retransmitting, keepalive probes unanswered, zero "
    "window, CLOSE_WAIT leak, keepalive on or off), counts them per configured service\n"
    "and serves the counts on \\fI/metrics\\fR for Prometheus.\n"
    "A scrape never triggers a dump: it is served the last collection.\n"
    ".PP\n"
    "Without \\fB\\-\\-config.file\\fR every listening port is a service of its own.\n"
    "The configuration is YAML; unknown keys are errors, and errors name the file, line, "
    "column and key.\n"
    ".SH OPTIONS\n"
    "Flags take their value as \\fB\\-\\-flag=value\\fR or \\fB\\-\\-flag value\\fR.\n";

static const char man_tail[] =
    ".SH SIGNALS\n"
    ".TP\n"
    ".B SIGHUP\n"
    "Reload the configuration and \\fB\\-\\-web.config.file\\fR; a bad one is logged and "
    "the previous one kept.\n"
    ".TP\n"
    ".BR SIGTERM \", \" SIGINT\n"
    "Stop.\n"
    ".SH EXIT STATUS\n"
    "0 on a clean stop or a valid configuration (\\fB\\-\\-config.check\\fR),\n"
    "1 when the configuration is invalid or start\\-up fails,\n"
    "2 on a bad flag.\n"
    ".SH FILES\n"
    ".TP\n"
    ".I /etc/halfopen_exporter/config.yml\n"
    "The configuration the packaged service reads.\n"
    ".TP\n"
    ".I /etc/default/halfopen_exporter\n"
    "The packaged service's flags, in \\fBARGS\\fR.\n"
    ".SH EXAMPLES\n"
    "Check a configuration, then serve it on port 19100:\n"
    ".PP\n"
    ".nf\n"
    ".RS\n"
    "halfopen_exporter \\-n \\-\\-config.file=/etc/halfopen_exporter/config.yml\n"
    "halfopen_exporter \\-\\-config.file=/etc/halfopen_exporter/config.yml "
    "\\-\\-collector.interval=15s\n"
    ".RE\n"
    ".fi\n"
    ".SH SEE ALSO\n"
    ".BR prometheus (1),\n"
    ".BR ss (8),\n"
    ".BR tcp (7)\n";

int flags_render_man(struct buf *out, const char *version)
{
	buf_puts(out, ".\\\" Generated by halfopen_exporter --help-man from the flag table "
		      "(exporter/flags.c); do not edit.\n");
	buf_puts(out, ".TH HALFOPEN_EXPORTER 1 \"\" \"halfopen_exporter ");
	roff_text(out, version);
	buf_puts(out, "\" \"User Commands\"\n");
	buf_puts(out, man_head);
	for (size_t i = 0; i < flags_count; i++) {
		const struct flag *f = &flags_table[i];

		if (f->hidden)
			continue;
		buf_puts(out, ".TP\n\\fB\\-\\-");
		roff_text(out, f->name);
		buf_puts(out, "\\fR");
		if (arg_of(f)) {
			buf_puts(out, "=\\fI");
			roff_text(out, arg_of(f));
			buf_puts(out, "\\fR");
		}
		if (f->short_name)
			buf_printf(out, ", \\fB\\-%c\\fR", f->short_name);
		buf_putc(out, '\n');
		{
			struct buf text;

			buf_init(&text);
			describe(f, &text);
			roff_text(out, text.data ? text.data : "");
			buf_free(&text);
		}
		buf_puts(out, ".\n");
		if (default_of(f)) {
			buf_puts(out, "Default: ");
			roff_text(out, default_of(f));
			buf_puts(out, ".\n");
		}
	}
	buf_puts(out, man_tail);
	return buf_error(out);
}
