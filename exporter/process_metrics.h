/* process_metrics: the standard process_* metrics, read from /proc/self
 * the way client_golang's process collector does. */
#ifndef HALFOPEN_PROCESS_METRICS_H
#define HALFOPEN_PROCESS_METRICS_H

struct buf;

/* Append process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds (with HELP/TYPE). proc_root is normally
 * "/proc". A metric whose source cannot be read is omitted. 0 or -ENOMEM. */
int process_metrics_render(const char *proc_root, struct buf *out);

#endif
