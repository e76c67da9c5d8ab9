/* metrics_suspects: the suspect tracker's metric families (per series
 * counters and the duration histogram, remediation outcomes, the
 * tracker's own gauges), from its accessors. */
#ifndef HALFOPEN_METRICS_SUSPECTS_H
#define HALFOPEN_METRICS_SUSPECTS_H

struct metric_writer;

/* metric_source renderer; ctx: a const struct suspects. Per (service,
 * direction) that ever had a suspect, every condition included at zero;
 * remediation families only once a series opted in; then the tracker's
 * gauges and counters. 0 or -ENOMEM. */
int metrics_suspects_render(void *ctx, struct metric_writer *w);

#endif
