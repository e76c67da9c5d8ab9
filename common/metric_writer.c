/* metric_writer: the Prometheus text format; see metric_writer.h. */
#include "metric_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

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
int metric_append_double(struct buf *out, double v)
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

int metric_escape_label(struct buf *out, const char *value)
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

static const char *const type_names[] = {
    [METRIC_GAUGE] = "gauge",
    [METRIC_COUNTER] = "counter",
    [METRIC_HISTOGRAM] = "histogram",
};

void metric_writer_init(struct metric_writer *w, struct buf *out)
{
	w->out = out;
	w->labels_open = false;
}

int metric_writer_error(const struct metric_writer *w)
{
	return buf_error(w->out);
}

/* HELP text escaping differs from label escaping: quotes stay literal. */
void metric_family(struct metric_writer *w, const char *name, enum metric_type type,
		   const char *help)
{
	const char *p, *run = help;

	buf_printf(w->out, "# HELP %s ", name);
	for (p = help; *p; p++) {
		if (*p != '\\' && *p != '\n')
			continue;
		buf_append(w->out, run, (size_t)(p - run));
		buf_puts(w->out, *p == '\\' ? "\\\\" : "\\n");
		run = p + 1;
	}
	buf_append(w->out, run, (size_t)(p - run));
	buf_printf(w->out, "\n# TYPE %s %s\n", name, type_names[type]);
}

void metric_sample(struct metric_writer *w, const char *name)
{
	buf_puts(w->out, name);
	w->labels_open = false;
}

void metric_label(struct metric_writer *w, const char *key, const char *value)
{
	buf_putc(w->out, w->labels_open ? ',' : '{');
	w->labels_open = true;
	buf_puts(w->out, key);
	buf_puts(w->out, "=\"");
	metric_escape_label(w->out, value);
	buf_putc(w->out, '"');
}

/* The end of the labels (if any) and the space before the value. */
static void value_start(struct metric_writer *w)
{
	buf_puts(w->out, w->labels_open ? "} " : " ");
	w->labels_open = false;
}

void metric_value_u64(struct metric_writer *w, uint64_t v)
{
	value_start(w);
	buf_printf(w->out, "%" PRIu64 "\n", v);
}

void metric_value_double(struct metric_writer *w, double v)
{
	value_start(w);
	metric_append_double(w->out, v);
	buf_putc(w->out, '\n');
}

void metric_single_u64(struct metric_writer *w, const char *name, enum metric_type type,
		       const char *help, uint64_t v)
{
	metric_family(w, name, type, help);
	metric_sample(w, name);
	metric_value_u64(w, v);
}

void metric_single_double(struct metric_writer *w, const char *name, enum metric_type type,
			  const char *help, double v)
{
	metric_family(w, name, type, help);
	metric_sample(w, name);
	metric_value_double(w, v);
}

int metric_sources_render(const struct metric_source *src, size_t n, struct buf *out,
			  const char **failed)
{
	struct metric_writer w;
	int first = 0;

	metric_writer_init(&w, out);
	for (size_t i = 0; i < n; i++) {
		int r = src[i].render(src[i].ctx, &w);

		if (r < 0 && first == 0) {
			first = r;
			if (failed)
				*failed = src[i].name;
		}
	}
	return first ? first : buf_error(out);
}

int metric_render(int (*render)(void *ctx, struct metric_writer *w), void *ctx, struct buf *out)
{
	const struct metric_source src = {"", render, ctx};

	return metric_sources_render(&src, 1, out, NULL);
}
