#include "process_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/metric_writer.h"

/* The fields of <proc>/self/stat we use, in the kernel's units. */
struct self_stat {
	unsigned long long utime;     /* clock ticks */
	unsigned long long stime;     /* clock ticks */
	unsigned long long starttime; /* clock ticks after boot */
	unsigned long long vsize;     /* bytes */
	unsigned long long rss;	      /* pages */
};

/* Field positions after the closing ')' of comm: token k is proc(5) field
 * k + 3 (field 3, the state, is token 0). */
enum {
	TOK_UTIME = 11,
	TOK_STIME = 12,
	TOK_STARTTIME = 19,
	TOK_VSIZE = 20,
	TOK_RSS = 21,
};

static int proc_path(char *dst, size_t len, const char *root, const char *rel)
{
	int n = snprintf(dst, len, "%s/%s", root, rel);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Strict unsigned decimal token at *p; advances *p past it. */
static int parse_token_ull(const char **p, unsigned long long *out)
{
	const char *s = *p;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EINVAL;
	*p = end;
	return 0;
}

/* Contract: parse a /proc/<pid>/stat line. comm (field 2) may contain
 * spaces and parentheses, so fields are counted from the last ')'.
 * 0 or -EINVAL when a needed field is missing or not a number. */
static int parse_self_stat(const char *line, struct self_stat *st)
{
	const char *p = strrchr(line, ')');
	unsigned tok;

	if (!p)
		return -EINVAL;
	p++;
	for (tok = 0; tok <= TOK_RSS; tok++) {
		unsigned long long v = 0;
		unsigned long long *dst = NULL;

		if (*p != ' ')
			return -EINVAL;
		while (*p == ' ')
			p++;
		switch (tok) {
		case TOK_UTIME:
			dst = &st->utime;
			break;
		case TOK_STIME:
			dst = &st->stime;
			break;
		case TOK_STARTTIME:
			dst = &st->starttime;
			break;
		case TOK_VSIZE:
			dst = &st->vsize;
			break;
		case TOK_RSS:
			dst = &st->rss;
			break;
		default:
			break;
		}
		if (dst) {
			if (parse_token_ull(&p, &v))
				return -EINVAL;
			*dst = v;
		} else {
			/* Fields we skip may be negative (nice, priority). */
			if (*p == '\0' || *p == '\n')
				return -EINVAL;
			while (*p && *p != ' ' && *p != '\n')
				p++;
		}
	}
	return 0;
}

/* Whole or not at all: a truncated stat line would parse into wrong
 * fields. */
#define SELF_STAT_MAX 4095u

static int read_self_stat(const char *root, struct self_stat *st)
{
	char path[PATH_MAX];
	struct buf b;
	int ret;

	ret = proc_path(path, sizeof(path), root, "self/stat");
	if (ret)
		return ret;
	buf_init(&b);
	ret = file_read_pseudo(path, SELF_STAT_MAX, &b);
	if (ret == 0)
		ret = parse_self_stat(b.data ? b.data : "", st);
	buf_free(&b);
	return ret;
}

/* Contract: the "btime" line of <root>/stat (boot time, unix seconds).
 * The file has very long lines ("intr ..."), read in pieces: only a piece
 * that starts a line may be the btime line. 0, -ENOENT when absent, or
 * -errno of the open. */
static int read_btime(const char *root, unsigned long long *btime)
{
	char path[PATH_MAX], line[256];
	int at_line_start = 1, ret;
	FILE *f;

	ret = proc_path(path, sizeof(path), root, "stat");
	if (ret)
		return ret;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ret = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		int starts = at_line_start;

		at_line_start = n > 0 && line[n - 1] == '\n';
		if (starts && strncmp(line, "btime ", 6) == 0) {
			const char *p = line + 6;

			while (*p == ' ')
				p++;
			ret = parse_token_ull(&p, btime) ? -EINVAL : 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Counts like client_golang: every entry of <root>/self/fd, which includes
 * the descriptor this very scan holds open. */
static int count_open_fds(const char *root, uint64_t *count)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;
	int ret;

	ret = proc_path(path, sizeof(path), root, "self/fd");
	if (ret)
		return ret;
	d = opendir(path);
	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	ret = errno ? -errno : 0;
	closedir(d);
	if (ret == 0)
		*count = n;
	return ret;
}

/* Contract: families in the order client_golang's registry emits them
 * (sorted by name); a metric whose source fails is omitted, the rest are
 * still rendered. Appends to out; 0 or -ENOMEM. */
int process_metrics_render(void *ctx, struct metric_writer *w)
{
	const char *proc_root = ctx;
	struct self_stat st;
	unsigned long long btime = 0;
	long ticks = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	struct rlimit nofile, as;
	uint64_t fds = 0;
	int have_stat, have_btime, have_nofile, have_as, have_fds;

	have_stat = read_self_stat(proc_root, &st) == 0;
	have_btime = read_btime(proc_root, &btime) == 0;
	have_fds = count_open_fds(proc_root, &fds) == 0;
	have_nofile = getrlimit(RLIMIT_NOFILE, &nofile) == 0;
	have_as = getrlimit(RLIMIT_AS, &as) == 0;

	if (have_stat && ticks > 0)
		metric_single_double(w, "process_cpu_seconds_total", METRIC_COUNTER,
				     "Total user and system CPU time spent in seconds.",
				     (double)(st.utime + st.stime) / (double)ticks);
	/* RLIM_INFINITY renders as 18446744073709551615: the same float64
	 * as client_golang's 1.8446744073709552e+19 for "unlimited". */
	if (have_nofile)
		metric_single_u64(w, "process_max_fds", METRIC_GAUGE,
				  "Maximum number of open file descriptors.", nofile.rlim_cur);
	if (have_fds)
		metric_single_u64(w, "process_open_fds", METRIC_GAUGE,
				  "Number of open file descriptors.", fds);
	if (have_stat && page > 0)
		metric_single_u64(w, "process_resident_memory_bytes", METRIC_GAUGE,
				  "Resident memory size in bytes.", st.rss * (uint64_t)page);
	if (have_stat && have_btime && ticks > 0)
		metric_single_double(w, "process_start_time_seconds", METRIC_GAUGE,
				     "Start time of the process since unix epoch in seconds.",
				     (double)btime + (double)st.starttime / (double)ticks);
	if (have_stat)
		metric_single_u64(w, "process_virtual_memory_bytes", METRIC_GAUGE,
				  "Virtual memory size in bytes.", st.vsize);
	if (have_as)
		metric_single_u64(w, "process_virtual_memory_max_bytes", METRIC_GAUGE,
				  "Maximum amount of virtual memory available in bytes.",
				  as.rlim_cur);
	return metric_writer_error(w);
}
