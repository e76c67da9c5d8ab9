/* process_metrics: the standard process_* metrics, read from /proc/self
 * the way client_golang's process collector does. */
#ifndef HALFOPEN_PROCESS_METRICS_H
#define HALFOPEN_PROCESS_METRICS_H

struct metric_writer;

/* metric_source renderer; ctx: the proc root (const char *, normally
 * "/proc"). Appends process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds (with HELP/TYPE). A metric whose source cannot be read is omitted. 0 or -ENOMEM. */
int process_metrics_render(void *ctx, struct metric_writer *w);

#endif
