/* netns: the network namespaces of a node, each with its own
 * NETLINK_SOCK_DIAG handle, kept across collections.
 *
 * A Kubernetes node has one network namespace per pod; inet_diag shows
 * only the sockets of the namespace the netlink socket was created in.
 * The registry finds the namespaces (every <proc_root>/<pid>/ns/net and
 * every bind mount in netns_dir, the CNI's /var/run/netns), deduplicated
 * by the (device, inode) of the nsfs file, and opens one handle inside
 * each, once: setns() in, sockdiag_open(), setns() back. A handle lives
 * until a refresh no longer finds its namespace. While it lives it pins
 * the namespace, so its inode cannot be reused for a new one.
 *
 * THREADS: setns() moves only the calling thread. refresh must be called
 * from one thread at a time, and that thread should be the one that
 * created the registry (its namespace at netns_registry_new() is "home",
 * where every refresh returns it). Other threads (the HTTP server) are
 * never moved. Between setns() calls the thread opens only the netlink
 * socket, so nothing else it does can land in a foreign namespace.
 *
 * SELECTION: namespaces owned by a user namespace other than the
 * exporter's own namespace's owner are skipped (opt.foreign_userns keeps
 * them): any local user can make those (unshare -rn), and each one held
 * costs a handle and a dump per collection. Pinned namespaces (netns_dir:
 * CNI, ip netns) are taken before those found only through /proc, so
 * pods' namespaces come first under max_namespaces; and one refresh spends
 * at most NETNS_ADD_BUDGET_MS entering new namespaces (the rest wait for
 * the next refresh, counted as deferred).
 *
 * PRIVILEGES: a dump needs none. Entering another namespace needs
 * CAP_SYS_ADMIN; stat() of /proc/<pid>/ns/net of another user's process
 * needs CAP_SYS_PTRACE. Without them those namespaces are counted in the
 * refresh stats (denied, open_failed) and skipped, never fatal.
 *
 * ATTRIBUTION (opt.pods): each namespace is mapped to the pod of its
 * representative process (podinfo_uid_of_pid() + the pod logs directory),
 * and each refresh rebuilds a cgroup id -> pod map for sockets of
 * hostNetwork pods, which all share the host namespace. */
#ifndef HALFOPEN_NETNS_H
#define HALFOPEN_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podinfo.h"

struct nl_sock;

#define NETNS_MAX_DEFAULT 4096
/* Longest netns_dir name kept in an entry (CNI names are ~40 chars);
 * longer ones are truncated there but opened by their full name. */
#define NETNS_NAME_MAX 63
/* Time one refresh may spend entering new namespaces. */
#define NETNS_ADD_BUDGET_MS 250

struct netns_options {
	const char *proc_root;	  /* NULL: "/proc" (a host /proc mounted elsewhere works) */
	const char *netns_dir;	  /* NULL: "/var/run/netns"; "": not scanned */
	const char *pod_logs_dir; /* NULL: "/var/log/pods" */
	const char *cgroup_root;  /* NULL: "/sys/fs/cgroup"; "": no per-socket attribution */
	bool all;		  /* false: only the exporter's own namespace */
	bool pods;		  /* attribute namespaces and cgroups to pods */
	uint32_t max_namespaces;  /* 0: NETNS_MAX_DEFAULT; the own namespace counts */
	bool foreign_userns;	  /* also enter namespaces of other user namespaces */
};

struct netns_entry {
	uint64_t dev, ino;  /* of the nsfs inode: the namespace's identity */
	struct nl_sock *sk; /* NETLINK_SOCK_DIAG handle created inside it */
	int pid;	    /* a process in it at the last refresh; 0 when known by name only */
	bool is_host;	    /* the exporter's own namespace (the node's, under hostNetwork) */
	char name[NETNS_NAME_MAX + 1]; /* its netns_dir name, "" when none */
	struct pod_id pod;	       /* pod.uid "" when not attributed to a pod */
};

/* What one refresh did. Every field is for that refresh only. */
struct netns_refresh_stats {
	uint32_t namespaces;  /* held after the refresh */
	uint32_t added;	      /* opened by this refresh */
	uint32_t removed;     /* vanished since the last refresh, handle closed */
	uint32_t scanned;     /* /proc pids and netns_dir entries looked at */
	uint32_t gone;	      /* of those, vanished during the scan (process exited) */
	uint32_t denied;      /* of those, EACCES/EPERM (needs CAP_SYS_PTRACE) */
	uint32_t open_failed; /* namespaces found but not entered or opened (needs CAP_SYS_ADMIN) */
	uint32_t cap_dropped; /* namespaces found but over max_namespaces; a lower bound
				 past 4 x max_namespaces distinct ones */
	uint32_t attributed;  /* entries with a pod after the refresh */
	uint32_t cgroups;     /* pod cgroups in the cgroup id map */
	uint32_t cgroups_dropped; /* cgroups the walk's bounds cut */
	uint32_t foreign_skipped; /* namespaces of another user namespace, skipped */
	uint32_t deferred;	  /* new namespaces left for the next refresh (time budget) */
};

struct netns_registry;

/* Create a registry holding the caller thread's own namespace (opened
 * right away; is_host, always entry 0) and remember that namespace as
 * home. opt may be NULL (all defaults). Nothing is scanned until the
 * first refresh. 0, -ENOMEM, -EINVAL (bad options), or the -errno of
 * opening the own namespace or its handle. */
int netns_registry_new(const struct netns_options *opt, struct netns_registry **out);

/* Rescan the node: open handles for new namespaces, close those of
 * vanished ones, refresh representative pids and attribution. Entries and
 * pointers from netns_registry_get() are invalid afterwards. stats may be
 * NULL. Per-namespace failures are counted, not returned. 0; -ENOMEM;
 * the -errno of opendir(proc_root) when opt.all. When returning to home
 * fails (only a broken descriptor could cause it) the calling thread is
 * left in an unknown namespace: the error is -ENOTRECOVERABLE and the
 * caller must stop using that thread for collections. */
int netns_registry_refresh(struct netns_registry *r, struct netns_refresh_stats *stats);

size_t netns_registry_count(const struct netns_registry *r);
/* The sums of every refresh's counts since the registry was made
 * (namespaces: the number held now), for metrics. */
void netns_registry_totals(const struct netns_registry *r, struct netns_refresh_stats *out);
/* Entry i (< count), valid until the next refresh or free. */
const struct netns_entry *netns_registry_get(const struct netns_registry *r, size_t i);

/* The pod whose cgroup (INET_DIAG_CGROUP_ID) is cgroup_id, as of the last
 * refresh: for sockets of hostNetwork pods in the host namespace. NULL
 * when unknown or opt.pods is off. The pod's namespace and name are ""
 * when its log directory was not found. Valid until the next refresh. */
const struct pod_id *netns_registry_pod_by_cgroup(const struct netns_registry *r,
						  uint64_t cgroup_id);
/* collect_options.pod_of_cgroup over the registry (ctx): the labels
 * (podinfo_ref) of the pod of a socket's cgroup. */
bool netns_registry_pod_of_cgroup(void *ctx, uint64_t cgroup_id, struct pod_ref *out);
/* The pod the collector attributes entry e's sockets to, or NULL: none
 * for the host's namespace (its sockets are attributed one by one
 * through their cgroup) and for an entry not in a pod. out holds the
 * labels and points into e. */
const struct pod_ref *netns_entry_pod(const struct netns_entry *e, struct pod_ref *out);

/* Run fn(arg) with the calling thread inside the namespace of entry i
 * (as of the last refresh), then return home: for work that, unlike
 * sock_diag, takes the namespace from the thread (a BPF iterator). The
 * namespace is reopened by pid or name and must still be the same one.
 * fn's result; -ENOENT when it is gone; the -errno of entering it;
 * -ENOTRECOVERABLE when the way home failed (see refresh). */
int netns_registry_run_in(struct netns_registry *r, size_t i, int (*fn)(void *), void *arg);

/* Closes every handle. Accepts NULL. */
void netns_registry_free(struct netns_registry *r);

#endif
