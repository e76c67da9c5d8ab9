/* metrics_enforce: the families of the BPF enforce feature (per service
 * and option counters and gauges, the passes' own figures), from
 * collectors/enforce.h's accessors. */
#ifndef HALFOPEN_METRICS_ENFORCE_H
#define HALFOPEN_METRICS_ENFORCE_H

struct metric_writer;

/* metric_source renderer; ctx: a const struct enforce, or NULL when
 * enforce is not loaded (then nothing is rendered). 0 or -ENOMEM. */
int metrics_enforce_render(void *ctx, struct metric_writer *w);

#endif
