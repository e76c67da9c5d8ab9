#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/escape.h"

enum log_format {
	LOG_FORMAT_LOGFMT = 0,
	LOG_FORMAT_JSON,
};

/* Atomics, so log_setup() on a config reload never races a logging
 * thread; the mutex only serialises the write(2)s. */
static atomic_int min_level = LOG_LEVEL_INFO;
static atomic_int out_format = LOG_FORMAT_LOGFMT;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_setup(const char *level, const char *format)
{
	int lvl = -1, fmt = -1;
	size_t i;

	if (!level || !format)
		return -EINVAL;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(level, level_names[i]) == 0)
			lvl = (int)i;
	if (strcmp(format, "logfmt") == 0)
		fmt = LOG_FORMAT_LOGFMT;
	else if (strcmp(format, "json") == 0)
		fmt = LOG_FORMAT_JSON;
	if (lvl < 0 || fmt < 0)
		return -EINVAL;
	atomic_store(&min_level, lvl);
	atomic_store(&out_format, fmt);
	return 0;
}

/* The quoting rule of Go's logfmt encoders: quote when the value would
 * not read back as one token. */
static int logfmt_needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!*p)
		return 1;
	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n == 0 || *p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f)
			return 1;
		p += n;
	}
	return 0;
}

static void logfmt_value(struct buf *b, const char *s, int force_quotes)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!force_quotes && !logfmt_needs_quotes(s)) {
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '"');
	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n == 0) {
			buf_printf(b, "\\x%02x", *p);
			p++;
			continue;
		}
		if (!escape_short(b, *p)) {
			if (*p < 0x20 || *p == 0x7f)
				buf_printf(b, "\\x%02x", *p);
			else
				buf_append(b, p, n);
		}
		p += n;
	}
	buf_putc(b, '"');
}

/* Keys come from our own code, but a stray space or '=' must not split the
 * line into different fields. */
static void logfmt_key(struct buf *b, const char *k)
{
	const unsigned char *p = (const unsigned char *)k;

	if (!*p) {
		buf_putc(b, '_');
		return;
	}
	for (; *p; p++)
		buf_putc(b, (*p <= ' ' || *p == '"' || *p == '=' || *p >= 0x7f) ? '_' : (char)*p);
}

static void timestamp(char *dst, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char date[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(dst, len, "%s.%03ldZ", date, ts.tv_nsec / 1000000L);
}

static void emit(const char *p, size_t len)
{
	pthread_mutex_lock(&write_lock);
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&write_lock);
}

/* Contract: one line per call, written with one write(2) unless stderr
 * takes it partially; pairs are read until a NULL key, and a NULL value
 * also ends the list (logged as empty) rather than reading past it.
 * Never fails loudly: without memory a fixed line is written instead. */
void log_kv(enum log_level level, const char *msg, ...)
{
	static const char oom[] = "level=error msg=\"log: out of memory\"\n";
	int json = atomic_load(&out_format) == LOG_FORMAT_JSON;
	const char *lvl;
	char ts[48];
	struct buf b;
	va_list ap;

	if ((int)level < atomic_load(&min_level))
		return;
	lvl = (unsigned)level < 4 ? level_names[level] : "error";
	timestamp(ts, sizeof(ts));
	buf_init(&b);
	if (json) {
		buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, lvl);
		json_string(&b, msg ? msg : "");
	} else {
		buf_printf(&b, "ts=%s level=%s msg=", ts, lvl);
		/* msg is always quoted, as in promslog's examples. */
		logfmt_value(&b, msg ? msg : "", 1);
	}
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;

		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (json) {
			buf_putc(&b, ',');
			json_string(&b, k);
			buf_putc(&b, ':');
			json_string(&b, v ? v : "");
		} else {
			buf_putc(&b, ' ');
			logfmt_key(&b, k);
			buf_putc(&b, '=');
			logfmt_value(&b, v ? v : "", 0);
		}
		if (!v)
			break;
	}
	va_end(ap);
	buf_puts(&b, json ? "}\n" : "\n");
	if (buf_error(&b))
		emit(oom, sizeof(oom) - 1);
	else
		emit(b.data, b.len);
	buf_free(&b);
}
