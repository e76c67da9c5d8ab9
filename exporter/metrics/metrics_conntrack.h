/* metrics_conntrack: the families of --collector.conntrack (per
 * namespace table figures, the correlation's own figures), from
 * collectors/conntrack.h's accessors. The per-service
 * halfopen_conntrack_forgotten_sockets is a socket class (exposition.c). */
#ifndef HALFOPEN_METRICS_CONNTRACK_H
#define HALFOPEN_METRICS_CONNTRACK_H

struct metric_writer;

/* metric_source renderer; ctx: a const struct conntrack, or NULL when
 * the collector is off (then nothing is rendered). 0 or -ENOMEM. */
int metrics_conntrack_render(void *ctx, struct metric_writer *w);

#endif
