/* netns: discovery of the node's network namespaces and one sock_diag
 * handle per namespace, opened once and closed when the namespace goes.
 *
 * A refresh scans into a hash set keyed by the nsfs (device, inode),
 * matches it against the held entries, then opens what is new. The set
 * and the name buffer are reused, so a steady-state refresh allocates
 * only the attribution tables. */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/oa_index.h"
#include "sockdiag.h"

/* Bounds of the cgroup2 walk and the pod logs directory: far above the
 * 110 (default) to ~1000 pods a node runs, each with a few cgroups. */
#define CGROUP_MAX_DIRS 65536
#define PODS_MAX	16384
/* The scan keeps distinct namespaces up to this multiple of the cap so
 * that cap_dropped counts namespaces, not the processes in them. */
#define SEEN_FACTOR 4

struct seen {
	uint64_t dev, ino;
	int pid;	   /* first process met in it, 0 when none */
	uint32_t name_off; /* 1 + offset of its netns_dir name in names, 0 when none */
	bool held;	   /* a held entry is this namespace (put in before the scan) */
	bool found;	   /* the scan met it */
};

/* An entry plus what only the registry needs. */
struct slot {
	struct netns_entry e;
	int attr_pid; /* the pid attribution last read the cgroup of; 0 never */
};

struct netns_registry {
	char *proc_root, *netns_dir, *pod_logs_dir, *cgroup_root;
	bool all, pods, foreign_userns;
	uint32_t max;
	bool userns_known; /* the owner of home's namespace could be read */
	uint64_t userns_dev, userns_ino;
	struct netns_refresh_stats totals;
	int home_fd; /* the creating thread's namespace, where refresh returns */
	uint64_t nsfs_dev;
	struct slot *v; /* v[0] is home */
	size_t n, cap;
	struct seen *seen; /* this scan's namespaces, in the order met */
	size_t seen_n, seen_cap;
	size_t seen_new;	    /* of those, namespaces not held */
	struct oa_index seen_index; /* of seen, by (dev, ino) */
	struct buf names;
	struct podinfo_cgroups *cgroups;
};

static char *dup_or(const char *s, const char *dflt)
{
	return strdup(s ? s : dflt);
}

/* Open the calling thread's own network namespace: thread-self, because
 * setns() is per thread and /proc/self names the main thread. */
static int open_home(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static uint32_t seen_hash(uint64_t dev, uint64_t ino)
{
	return hash_u64(ino ^ (dev << 32 | dev >> 32));
}

static uint32_t seen_hash_at(const void *ctx, size_t pos)
{
	const struct netns_registry *r = ctx;

	return seen_hash(r->seen[pos].dev, r->seen[pos].ino);
}

/* Namespace (dev, ino) in this scan's set, or NULL. Valid until the next
 * seen_add(). */
static struct seen *seen_find(const struct netns_registry *r, uint64_t dev, uint64_t ino)
{
	size_t slot, i;

	for (i = oa_index_first(&r->seen_index, seen_hash(dev, ino), &slot); i != OA_NONE;
	     i = oa_index_next(&r->seen_index, &slot))
		if (r->seen[i].dev == dev && r->seen[i].ino == ino)
			return &r->seen[i];
	return NULL;
}

/* Room for one more namespace in the set. 0 or -ENOMEM. */
static int seen_grow(struct netns_registry *r)
{
	if (r->seen_n == r->seen_cap) {
		size_t cap = r->seen_cap ? r->seen_cap * 2 : OA_INDEX_MIN_SLOTS / 2;
		struct seen *nv = reallocarray(r->seen, cap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->seen = nv;
		r->seen_cap = cap;
	}
	if (oa_index_full(&r->seen_index, r->seen_n))
		return oa_index_rebuild(&r->seen_index, r->seen_n + 1, r->seen_n, seen_hash_at, r);
	return 0;
}

/* Record namespace (dev, ino): held (put in before the scan, so that a
 * full set can never make a held namespace look vanished), or met by the
 * scan through pid or netns_dir name (either may be absent). 0; 1 when
 * the set is full and a new namespace was dropped; -ENOMEM. */
static int seen_add(struct netns_registry *r, uint64_t dev, uint64_t ino, bool held, int pid,
		    const char *name)
{
	struct seen *s = seen_find(r, dev, ino);

	if (!s) {
		if (!held && r->seen_new >= (size_t)r->max * SEEN_FACTOR)
			return 1;
		if (seen_grow(r) < 0)
			return -ENOMEM;
		oa_index_put(&r->seen_index, seen_hash(dev, ino), r->seen_n);
		s = &r->seen[r->seen_n];
		memset(s, 0, sizeof(*s));
		s->held = held;
		s->dev = dev;
		s->ino = ino;
		r->seen_n++;
		if (!held)
			r->seen_new++;
	}
	if (held)
		return 0;
	s->found = true;
	if (pid && !s->pid)
		s->pid = pid;
	if (name && !s->name_off) {
		size_t off = r->names.len;

		if (buf_append(&r->names, name, strlen(name) + 1) < 0)
			return -ENOMEM;
		s->name_off = (uint32_t)off + 1;
	}
	return 0;
}

static void count_stat_error(int err, struct netns_refresh_stats *st)
{
	if (err == EACCES || err == EPERM)
		st->denied++;
	else
		st->gone++; /* ENOENT, ESRCH: the process exited mid-scan */
}

/* One candidate of a scan: rel (under the scanned directory dirfd) is
 * added when it is an nsfs inode. 0 (added, known or not a namespace:
 * errors are counted in st) or -ENOMEM. */
static int scan_add(struct netns_registry *r, int dirfd, const char *rel, int pid,
		    const char *name, struct netns_refresh_stats *st)
{
	struct stat sb;
	int a;

	st->scanned++;
	if (fstatat(dirfd, rel, &sb, 0) < 0) {
		count_stat_error(errno, st);
		return 0;
	}
	if ((uint64_t)sb.st_dev != r->nsfs_dev)
		return 0;
	a = seen_add(r, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, false, pid, name);
	if (a < 0)
		return a;
	st->cap_dropped += (uint32_t)a;
	return 0;
}

/* Every <proc_root>/<pid>/ns/net. 0, -ENOMEM, or the -errno of opendir. */
static int scan_proc(struct netns_registry *r, struct netns_refresh_stats *st)
{
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(r->proc_root);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char rel[64];
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (*end || errno || pid <= 0 || pid > INT32_MAX)
			continue;
		snprintf(rel, sizeof(rel), "%ld/ns/net", pid);
		ret = scan_add(r, dirfd(d), rel, (int)pid, NULL, st);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

/* Every bind mount in netns_dir. A missing directory is a node without
 * named namespaces, not an error; an entry that is not an nsfs inode (a
 * leftover file whose mount is gone) is no namespace. 0 or -ENOMEM. */
static int scan_netns_dir(struct netns_registry *r, struct netns_refresh_stats *st)
{
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(r->netns_dir);
	if (!d) {
		if (errno != ENOENT)
			st->denied++;
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		ret = scan_add(r, dirfd(d), de->d_name, 0, de->d_name, st);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

static void copy_name(struct netns_entry *e, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n > NETNS_NAME_MAX)
		n = NETNS_NAME_MAX;
	if (n)
		memcpy(e->name, name, n);
	e->name[n] = '\0';
}

/* Hold *s (taking over its handle). 0 or -ENOMEM. */
static int slot_append(struct netns_registry *r, const struct slot *s)
{
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		struct slot *nv = reallocarray(r->v, ncap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = ncap;
	}
	r->v[r->n++] = *s;
	return 0;
}

/* Open a sock_diag handle inside the namespace open at fd and come back
 * home. 0 with *sk set; the -errno of setns() in or of sockdiag_open()
 * (the namespace is skipped); -ENOTRECOVERABLE when the way back failed. */
static int open_inside(struct netns_registry *r, int fd, struct nl_sock **sk)
{
	int ret;

	if (setns(fd, CLONE_NEWNET) < 0)
		return -errno;
	ret = sockdiag_open(sk);
	if (setns(r->home_fd, CLONE_NEWNET) < 0) {
		if (ret == 0)
			sockdiag_close(*sk);
		return -ENOTRECOVERABLE;
	}
	return ret;
}

/* The (dev, ino) of the user namespace owning the namespace open at fd.
 * 0 or -errno (EPERM: an owner outside the caller's user namespace). */
static int owner_userns(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat sb;
	int ufd = ioctl(fd, NS_GET_USERNS);

	if (ufd < 0)
		return -errno;
	if (fstat(ufd, &sb) < 0) {
		int ret = -errno;

		close(ufd);
		return ret;
	}
	close(ufd);
	*dev = (uint64_t)sb.st_dev;
	*ino = (uint64_t)sb.st_ino;
	return 0;
}

/* Whether the namespace open at fd belongs to a user namespace other
 * than home's owner (one that cannot be told counts as other). */
static bool foreign_owner(const struct netns_registry *r, int fd)
{
	uint64_t dev = 0, ino = 0; /* set on success; -O3 cannot see the || */

	if (r->foreign_userns || !r->userns_known)
		return false;
	return owner_userns(fd, &dev, &ino) < 0 || dev != r->userns_dev || ino != r->userns_ino;
}

/* Open one newly seen namespace and hold it. Skips (and counts) what
 * cannot be opened. 0, -ENOMEM or -ENOTRECOVERABLE. */
static int add_entry(struct netns_registry *r, const struct seen *s, struct netns_refresh_stats *st)
{
	const char *name = s->name_off ? r->names.data + s->name_off - 1 : NULL;
	struct slot sl;
	struct stat sb;
	char path[4096];
	int fd, ret;

	/* A bind mount stays put; a pid may exit and be reused. */
	if (name)
		ret = snprintf(path, sizeof(path), "%s/%s", r->netns_dir, name);
	else
		ret = snprintf(path, sizeof(path), "%s/%d/ns/net", r->proc_root, s->pid);
	if (ret < 0 || (size_t)ret >= sizeof(path)) {
		st->open_failed++;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		count_stat_error(errno, st);
		return 0;
	}
	/* Between the scan and now the pid may have been reused, or the
	 * name mounted over: only the namespace the scan saw is wanted. */
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_dev != s->dev || (uint64_t)sb.st_ino != s->ino) {
		st->gone++;
		close(fd);
		return 0;
	}
	if (name && ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		st->open_failed++;
		close(fd);
		return 0;
	}
	if (foreign_owner(r, fd)) {
		st->foreign_skipped++;
		close(fd);
		return 0;
	}
	memset(&sl, 0, sizeof(sl));
	ret = open_inside(r, fd, &sl.e.sk);
	close(fd);
	if (ret == -ENOTRECOVERABLE || ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		st->open_failed++;
		return 0;
	}
	sl.e.dev = s->dev;
	sl.e.ino = s->ino;
	sl.e.pid = s->pid;
	copy_name(&sl.e, name);
	ret = slot_append(r, &sl);
	if (ret < 0) {
		sockdiag_close(sl.e.sk);
		return ret;
	}
	st->added++;
	return 0;
}

int netns_registry_run_in(struct netns_registry *r, size_t i, int (*fn)(void *), void *arg)
{
	const struct netns_entry *e = netns_registry_get(r, i);
	struct stat sb;
	char path[4096];
	int fd, ret;

	if (!e)
		return -ENOENT;
	if (e->is_host)
		return fn(arg);
	if (e->name[0])
		ret = snprintf(path, sizeof(path), "%s/%s", r->netns_dir, e->name);
	else
		ret = snprintf(path, sizeof(path), "%s/%d/ns/net", r->proc_root, e->pid);
	if (ret < 0 || (size_t)ret >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_dev != e->dev || (uint64_t)sb.st_ino != e->ino) {
		close(fd);
		return -ENOENT;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	close(fd);
	ret = fn(arg);
	if (setns(r->home_fd, CLONE_NEWNET) < 0)
		return -ENOTRECOVERABLE;
	return ret;
}

/* Fill each non-home entry's pod and rebuild the cgroup map. An entry's
 * cgroup is read again only when its representative pid changed; its
 * name is looked up again while it is missing (kubelet may create the log
 * directory after the sandbox). Failures leave entries unattributed. */
static void attribute(struct netns_registry *r, struct netns_refresh_stats *st)
{
	struct podinfo_pods *pods = NULL;
	bool need_pods = r->cgroup_root[0] != '\0';
	size_t i;

	for (i = 1; i < r->n; i++) {
		struct slot *s = &r->v[i];

		if (s->e.pid && s->e.pid != s->attr_pid && !s->e.pod.uid[0]) {
			s->attr_pid = s->e.pid;
			if (podinfo_uid_of_pid(r->proc_root, s->e.pid, s->e.pod.uid) < 0)
				s->e.pod.uid[0] = '\0';
		}
		if (s->e.pod.uid[0] && !s->e.pod.name[0])
			need_pods = true;
	}
	if (need_pods && podinfo_pods_load(r->pod_logs_dir, PODS_MAX, &pods, NULL) < 0)
		pods = NULL;
	for (i = 1; i < r->n; i++) {
		struct slot *s = &r->v[i];
		const struct pod_id *p;

		if (s->e.pod.uid[0] && !s->e.pod.name[0] &&
		    (p = podinfo_pods_find(pods, s->e.pod.uid)) != NULL)
			s->e.pod = *p;
		if (s->e.pod.uid[0])
			st->attributed++;
	}
	podinfo_cgroups_free(r->cgroups);
	r->cgroups = NULL;
	if (r->cgroup_root[0]) {
		size_t dropped = 0;

		if (podinfo_cgroups_scan(r->cgroup_root, pods, CGROUP_MAX_DIRS, &r->cgroups,
					 &dropped) == 0) {
			st->cgroups = (uint32_t)podinfo_cgroups_count(r->cgroups);
			st->cgroups_dropped = (uint32_t)dropped;
		}
	}
	podinfo_pods_free(pods);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Running sums of what refreshes dropped or skipped; namespaces as now. */
static void totals_add(struct netns_refresh_stats *t, const struct netns_refresh_stats *st)
{
	t->namespaces = st->namespaces;
	t->added += st->added;
	t->removed += st->removed;
	t->scanned += st->scanned;
	t->gone += st->gone;
	t->denied += st->denied;
	t->open_failed += st->open_failed;
	t->cap_dropped += st->cap_dropped;
	t->attributed = st->attributed;
	t->cgroups = st->cgroups;
	t->cgroups_dropped += st->cgroups_dropped;
	t->foreign_skipped += st->foreign_skipped;
	t->deferred += st->deferred;
}

int netns_registry_refresh(struct netns_registry *r, struct netns_refresh_stats *stats)
{
	struct netns_refresh_stats st;
	struct seen *s;
	uint64_t t0;
	size_t i, w;
	int ret = 0;

	if (!r)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	/* Same size as the last scan: no allocation. */
	ret = oa_index_reset(&r->seen_index, r->seen_n);
	if (ret < 0)
		return ret;
	r->seen_n = 0;
	r->seen_new = 0;
	buf_reset(&r->names);
	if (r->all) {
		for (i = 0; i < r->n; i++) {
			ret = seen_add(r, r->v[i].e.dev, r->v[i].e.ino, true, 0, NULL);
			if (ret < 0)
				goto out;
		}
		/* Pinned first: the order met is the order taken under the
		 * cap and the time budget. */
		if (r->netns_dir[0])
			ret = scan_netns_dir(r, &st);
		if (ret == 0)
			ret = scan_proc(r, &st);
		if (ret < 0)
			goto out;
		/* home stays whatever the scan saw (in a container without
		 * hostPID the exporter is the only process of its namespace,
		 * and proc_root may be the host's). */
		for (i = 1, w = 1; i < r->n; i++) {
			struct slot *sl = &r->v[i];

			s = seen_find(r, sl->e.dev, sl->e.ino);
			if (!s || !s->found) {
				sockdiag_close(sl->e.sk);
				st.removed++;
				continue;
			}
			sl->e.pid = s->pid;
			copy_name(&sl->e, s->name_off ? r->names.data + s->name_off - 1 : NULL);
			r->v[w++] = *sl;
		}
		r->n = w;
		t0 = mono_ms();
		for (i = 0; i < r->seen_n; i++) {
			s = &r->seen[i];
			if (s->held)
				continue;
			if (r->n >= r->max) {
				st.cap_dropped++;
				continue;
			}
			if (mono_ms() - t0 >= NETNS_ADD_BUDGET_MS) {
				st.deferred++;
				continue;
			}
			ret = add_entry(r, s, &st);
			if (ret < 0)
				goto out;
		}
	}
	if (r->pods)
		attribute(r, &st);
out:
	st.namespaces = (uint32_t)r->n;
	totals_add(&r->totals, &st);
	if (stats)
		*stats = st;
	return ret;
}

void netns_registry_totals(const struct netns_registry *r, struct netns_refresh_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (r)
		*out = r->totals;
}

int netns_registry_new(const struct netns_options *opt, struct netns_registry **out)
{
	static const struct netns_options defaults;
	struct netns_registry *r;
	struct slot home;
	struct stat sb;
	int ret;

	if (!out)
		return -EINVAL;
	if (!opt)
		opt = &defaults;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->home_fd = -1;
	buf_init(&r->names);
	r->proc_root = dup_or(opt->proc_root, "/proc");
	r->netns_dir = dup_or(opt->netns_dir, "/var/run/netns");
	r->pod_logs_dir = dup_or(opt->pod_logs_dir, "/var/log/pods");
	r->cgroup_root = dup_or(opt->cgroup_root, "/sys/fs/cgroup");
	if (!r->proc_root || !r->netns_dir || !r->pod_logs_dir || !r->cgroup_root) {
		ret = -ENOMEM;
		goto fail;
	}
	if (!r->proc_root[0]) {
		ret = -EINVAL;
		goto fail;
	}
	r->all = opt->all;
	r->pods = opt->pods;
	r->max = opt->max_namespaces ? opt->max_namespaces : NETNS_MAX_DEFAULT;
	ret = open_home();
	if (ret < 0)
		goto fail;
	r->home_fd = ret;
	if (fstat(r->home_fd, &sb) < 0) {
		ret = -errno;
		goto fail;
	}
	/* Every nsfs inode lives on one superblock: its device tells a
	 * namespace file from anything else in netns_dir. */
	r->nsfs_dev = (uint64_t)sb.st_dev;
	r->foreign_userns = opt->foreign_userns;
	/* Only where other namespaces are entered (valgrind, for one, does
	 * not know this ioctl). */
	r->userns_known = r->all && !r->foreign_userns &&
			  owner_userns(r->home_fd, &r->userns_dev, &r->userns_ino) == 0;
	memset(&home, 0, sizeof(home));
	home.e.dev = (uint64_t)sb.st_dev;
	home.e.ino = (uint64_t)sb.st_ino;
	home.e.pid = (int)getpid();
	home.e.is_host = true;
	ret = sockdiag_open(&home.e.sk);
	if (ret < 0)
		goto fail;
	ret = slot_append(r, &home);
	if (ret < 0) {
		sockdiag_close(home.e.sk);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	netns_registry_free(r);
	return ret;
}

size_t netns_registry_count(const struct netns_registry *r)
{
	return r ? r->n : 0;
}

const struct netns_entry *netns_registry_get(const struct netns_registry *r, size_t i)
{
	if (!r || i >= r->n)
		return NULL;
	return &r->v[i].e;
}

const struct pod_id *netns_registry_pod_by_cgroup(const struct netns_registry *r,
						  uint64_t cgroup_id)
{
	return r ? podinfo_cgroups_find(r->cgroups, cgroup_id) : NULL;
}

bool netns_registry_pod_of_cgroup(void *ctx, uint64_t cgroup_id, struct pod_ref *out)
{
	return podinfo_ref(netns_registry_pod_by_cgroup(ctx, cgroup_id), out);
}

const struct pod_ref *netns_entry_pod(const struct netns_entry *e, struct pod_ref *out)
{
	return !e->is_host && podinfo_ref(&e->pod, out) ? out : NULL;
}

void netns_registry_free(struct netns_registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		sockdiag_close(r->v[i].e.sk);
	free(r->v);
	free(r->seen);
	oa_index_free(&r->seen_index);
	buf_free(&r->names);
	podinfo_cgroups_free(r->cgroups);
	if (r->home_fd >= 0)
		close(r->home_fd);
	free(r->proc_root);
	free(r->netns_dir);
	free(r->pod_logs_dir);
	free(r->cgroup_root);
	free(r);
}
