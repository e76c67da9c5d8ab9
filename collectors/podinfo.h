/* podinfo: which Kubernetes pod a process, a network namespace or a socket
 * belongs to, from what the node itself shows, without an API call.
 *
 * Two facts on every node running kubelet make it possible:
 *   - kubelet puts every pod in a cgroup whose path carries the pod UID:
 *     cgroupfs driver  /kubepods/burstable/pod<uid>/<container>
 *     systemd driver   /kubepods.slice/kubepods-burstable.slice/
 *                      kubepods-burstable-pod<uid, '-' as '_'>.slice/cri-containerd-<id>.scope
 *     (guaranteed pods sit directly under kubepods, besteffort under
 *     besteffort; other cgroup roots only add outer components);
 *   - kubelet creates /var/log/pods/<namespace>_<name>_<uid> for every pod
 *     (namespaces and pod names are DNS names: they never hold '_').
 *
 * The parsers are pure and table-tested; the rest reads files and
 * directories, never prints, and returns 0 or a negative errno.
 *
 * Per-socket attribution (hostNetwork pods share the host namespace)
 * relies on INET_DIAG_CGROUP_ID, the id of the socket's cgroup v2 cgroup,
 * which on 64-bit kernels is the inode number of the cgroup's directory on
 * the cgroup2 mount. podinfo_cgroups_scan() therefore walks that mount
 * once (bounded) and keeps id -> pod UID. The alternative,
 * open_by_handle_at() on the id, would need CAP_DAC_READ_SEARCH, a third
 * capability the DaemonSet does not grant. On a cgroup v1-only node the
 * socket's cgroup v2 id is always the root: only namespace-level
 * attribution works there. */
#ifndef HALFOPEN_PODINFO_H
#define HALFOPEN_PODINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A UID is a UUID (36 chars, 8-4-4-4-12) or, for static pods, a 32 hex
 * digit hash. Namespace: DNS label. Pod name: DNS subdomain. */
#define PODINFO_UID_MAX	      36
#define PODINFO_NAMESPACE_MAX 63
#define PODINFO_NAME_MAX      253

struct pod_id {
	char uid[PODINFO_UID_MAX + 1];		   /* "" when not a pod's */
	char namespace[PODINFO_NAMESPACE_MAX + 1]; /* "" when unknown */
	char name[PODINFO_NAME_MAX + 1];	   /* "" when unknown */
};

/* A pod as the collector labels series with it: namespace and name.
 * NULL or empty strings: none. */
struct pod_ref {
	const char *pod_namespace;
	const char *pod;
};

/* The labels of p: its namespace and name, or its UID as the name while
 * its log directory is unknown (so its sockets are still told apart).
 * false (out untouched) when p is NULL or not a pod's. out points into
 * p. */
bool podinfo_ref(const struct pod_id *p, struct pod_ref *out);

/* The pod UID in a cgroup path, or in one line of /proc/<pid>/cgroup
 * ("0::/path" for cgroup v2, "N:controllers:/path" for v1). The innermost
 * pod component wins; paths seen from another cgroup namespace
 * ("/../../kubepods/...") work too. The UID is written with '-' whatever
 * the driver. 0, or -ENOENT when the path is not inside a pod. */
int podinfo_uid_from_cgroup_path(const char *path, char uid[PODINFO_UID_MAX + 1]);

/* The pod UID in the whole text of a /proc/<pid>/cgroup file: the cgroup
 * v2 line when it names a pod, else the first v1 line that does (hybrid
 * hosts put kubelet's cgroups in v1 only). 0 or -ENOENT. */
int podinfo_uid_from_cgroup_file(const char *text, size_t len, char uid[PODINFO_UID_MAX + 1]);

/* Read <proc_root>/<pid>/cgroup and find the pod UID in it. 0, -ENOENT
 * (no such process, or not in a pod), or the -errno of the read. */
int podinfo_uid_of_pid(const char *proc_root, int pid, char uid[PODINFO_UID_MAX + 1]);

/* Split one pod log directory name "<namespace>_<name>_<uid>" into out.
 * 0, or -EINVAL when it is not one. */
int podinfo_parse_pod_log_dir(const char *entry, struct pod_id *out);

/* Find the pod with uid under pod_logs_dir (normally /var/log/pods) and
 * copy its namespace and name. 0; -ENOENT when no directory names it;
 * -ERANGE when a buffer is too small; the -errno of opendir(). One
 * readdir() of the directory per call: for many look-ups use
 * podinfo_pods_load(). */
int podinfo_lookup_pod_logs(const char *pod_logs_dir, const char *uid, char *ns, size_t ns_len,
			    char *name, size_t name_len);

/* Every pod of a pod logs directory, by UID. */
struct podinfo_pods;

/* Read pod_logs_dir once, keeping at most max pods (the rest is counted
 * in *dropped, which may be NULL). A missing directory gives an empty
 * table, not an error: a node without pods yet. 0, -ENOMEM, or the -errno
 * of opendir(). */
int podinfo_pods_load(const char *pod_logs_dir, size_t max, struct podinfo_pods **out,
		      size_t *dropped);
/* The pod with uid, or NULL. The pointer lives as long as the table. */
const struct pod_id *podinfo_pods_find(const struct podinfo_pods *p, const char *uid);
size_t podinfo_pods_count(const struct podinfo_pods *p);
/* Accepts NULL. */
void podinfo_pods_free(struct podinfo_pods *p);

/* cgroup v2 id -> pod, for every cgroup inside a pod. */
struct podinfo_cgroups;

/* Walk the cgroup2 mount at root (when root is a cgroup v1 tmpfs, its
 * "unified" subdirectory, the hybrid layout), at most max_dirs directories
 * and 16 levels deep; what the bounds cut is counted in *dropped (may be
 * NULL). A pod directory and its direct children (the containers) are
 * mapped; cgroups nested inside a container are not (kubelet makes none).
 * Each pod found gets its namespace and name from pods (may be NULL: UIDs
 * only). Directory inode numbers come from readdir() itself, one
 * getdents() per directory and no stat(). 0; -EOPNOTSUPP when there is no
 * cgroup2 mount there; -ENOMEM; or the -errno of opening root. Cgroups
 * that vanish during the walk are skipped. */
int podinfo_cgroups_scan(const char *root, const struct podinfo_pods *pods, size_t max_dirs,
			 struct podinfo_cgroups **out, size_t *dropped);
/* The pod of cgroup id, or NULL (not a pod's, or not seen by the scan).
 * The pointer lives as long as the map. */
const struct pod_id *podinfo_cgroups_find(const struct podinfo_cgroups *m, uint64_t id);
/* Cgroups in the map (pod directories and their containers). */
size_t podinfo_cgroups_count(const struct podinfo_cgroups *m);
/* Accepts NULL. */
void podinfo_cgroups_free(struct podinfo_cgroups *m);

#endif
