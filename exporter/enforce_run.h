/* enforce_run: the exporter's side of enforce: at start, the
 * connection-time program attached where --enforce.cgroup says; after
 * each collection, what it did, and (when due) one BPF pass in every
 * namespace the collector covers, then the outcome in the log. */
#ifndef HALFOPEN_ENFORCE_RUN_H
#define HALFOPEN_ENFORCE_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

struct enforce;
struct netns_registry;

/* Nothing when e is NULL or cfg asks for no enforce. An iterator walks
 * only the namespace it is created in, so each namespace of nsreg is
 * entered in turn. Logs what was set (dry_run: what would be) at INFO,
 * reverts at WARN, socket errors once per process (*errors_logged).
 * 0, or -ENOTRECOVERABLE when returning from a namespace failed: the
 * calling thread is then in an unknown namespace (collectors/netns.h),
 * the passes stop there and the caller must stop collecting with it. */
int enforce_run_passes(struct enforce *e, const struct config *cfg, struct netns_registry *nsreg,
		       bool dry_run, bool *errors_logged);

/* Where the connection-time program was attached. */
enum enforce_on_connect {
	ENFORCE_ON_CONNECT_NONE,    /* not: new connections wait for a pass */
	ENFORCE_ON_CONNECT_SUBTREE, /* a cgroup below the root: some processes only */
	ENFORCE_ON_CONNECT_ALL,	    /* the hierarchy's root: every process */
};

/* Attach the connection-time program (collectors/enforce.h) to the
 * cgroup v2 directory that cgroup names: "auto" is sysfs/fs/cgroup when
 * that is cgroup v2, else sysfs/fs/cgroup/unified (a hybrid host);
 * "none" attaches nothing. all_netns: it acts in every network
 * namespace, else in this thread's only. Logs the outcome once (INFO;
 * WARN when it could not: passes alone then). Only at the hierarchy's
 * root (inode 1: not a container's cgroup namespace, nor a subtree
 * named) does it see every new connection, so that passes need not look
 * for new ones (ENFORCE_ON_CONNECT_ALL). */
enum enforce_on_connect enforce_run_attach_connect(struct enforce *e, const char *cgroup,
						   const char *sysfs, bool all_netns);
/* Fold what the connection-time program did since the last call into
 * enforce's totals and log it (INFO, like a pass's). NULL e ok. */
void enforce_run_fold_connect(struct enforce *e, bool dry_run);
/* The cgroup v2 directory "auto" means under sysfs, in out. 0, or
 * -ENOENT when neither sysfs/fs/cgroup nor its unified/ is cgroup v2. */
int enforce_cgroup_auto(const char *sysfs, char *out, size_t len);

#endif
