/* metric_writer: the one writer of the Prometheus text format (0.0.4),
 * and the interface of everything that produces metrics.
 *
 * A family is a HELP and a TYPE line, then its samples; a sample is a
 * name, labels (escaped), a value. The writer knows the format only: the
 * names, help texts and labels of each family belong to its producer
 * (exporter/metrics/metrics_*.c, exporter/metrics/process_metrics.c). Pure: bytes into a
 * growable buffer, no I/O. Errors stick in the buffer (buf_error), so a
 * producer writes everything and checks once. */
#ifndef HALFOPEN_METRIC_WRITER_H
#define HALFOPEN_METRIC_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum metric_type {
	METRIC_GAUGE,
	METRIC_COUNTER,
	METRIC_HISTOGRAM,
};

struct metric_writer {
	struct buf *out;
	bool labels_open; /* a sample's '{' is written, its '}' not yet */
};

/* A producer of metric families: main's publish() walks a list of them,
 * in order, into one body. render appends whole families through w and
 * returns 0 or a negative errno (-ENOMEM). */
struct metric_source {
	const char *name; /* for the log when render fails */
	int (*render)(void *ctx, struct metric_writer *w);
	void *ctx;
};

/* Write to out (appending; the caller resets it). */
void metric_writer_init(struct metric_writer *w, struct buf *out);
/* 0, or the first error of the buffer (-ENOMEM). */
int metric_writer_error(const struct metric_writer *w);

/* # HELP and # TYPE of family name. help is escaped as the format wants
 * (\\ and \n; quotes stay literal). */
void metric_family(struct metric_writer *w, const char *name, enum metric_type type,
		   const char *help);
/* Start a sample of name (the family's name, or with _bucket, _sum,
 * _count for a histogram). Then metric_label() per label, then one
 * metric_value_*() ends the line. */
void metric_sample(struct metric_writer *w, const char *name);
/* key="value", value escaped (\\, \", \n). */
void metric_label(struct metric_writer *w, const char *key, const char *value);
void metric_value_u64(struct metric_writer *w, uint64_t v);
void metric_value_double(struct metric_writer *w, double v);

/* A family with one sample and no labels. */
void metric_single_u64(struct metric_writer *w, const char *name, enum metric_type type,
		       const char *help, uint64_t v);
void metric_single_double(struct metric_writer *w, const char *name, enum metric_type type,
			  const char *help, double v);

/* Render every source of src[0..n) into out, in order. A source that
 * fails does not stop the others; returns 0 or the first error, and
 * *failed (may be NULL) gets the name of the first that failed. */
int metric_sources_render(const struct metric_source *src, size_t n, struct buf *out,
			  const char **failed);

/* One renderer into out (a source without the list): 0 or its error. */
int metric_render(int (*render)(void *ctx, struct metric_writer *w), void *ctx, struct buf *out);

/* Append v as the text format wants: the shortest decimal that parses back
 * to the same double, "+Inf", "-Inf" or "NaN"; never locale-dependent.
 * 0 or -ENOMEM. */
int metric_append_double(struct buf *out, double v);
/* Append a label value escaped per the text format (\\, \", \n). */
int metric_escape_label(struct buf *out, const char *value);

#endif
