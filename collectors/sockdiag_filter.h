/* sockdiag_filter: inet_diag bytecode that lets the kernel drop, before
 * they are copied out, the sockets no service can claim. Pure.
 *
 * The program accepts a socket when its local port is in one of the
 * `local` ranges or its remote port in one of the `remote` ranges. */
#ifndef HALFOPEN_SOCKDIAG_FILTER_H
#define HALFOPEN_SOCKDIAG_FILTER_H

#include <stddef.h>

#include "config/config.h"

struct buf;

/* Above this many ranges the kernel would spend more time running the
 * filter than it saves; callers dump unfiltered instead. */
#define SOCKDIAG_FILTER_MAX_RANGES 512

/* Append the program to out. Ranges need not be sorted or disjoint.
 * -E2BIG when there are more than SOCKDIAG_FILTER_MAX_RANGES ranges,
 * -EINVAL when there are none (a filter that rejects everything is never
 * what the caller wants), -ENOMEM. */
int sockdiag_filter_build(const struct port_range *local, size_t n_local,
			  const struct port_range *remote, size_t n_remote, struct buf *out);

#endif
