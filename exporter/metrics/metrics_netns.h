/* metrics_netns: what namespace discovery (--collector.netns=all) held,
 * skipped and dropped, from the registry's running totals. */
#ifndef HALFOPEN_METRICS_NETNS_H
#define HALFOPEN_METRICS_NETNS_H

struct metric_writer;

/* metric_source renderer; ctx: the struct netns_registry (NULL: nothing,
 * as with --collector.netns=host). 0 or -ENOMEM. */
int metrics_netns_render(void *ctx, struct metric_writer *w);

#endif
