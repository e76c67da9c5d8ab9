/* podinfo: pod UIDs from cgroup paths, pod names from kubelet's pod log
 * directories, and the cgroup id -> pod map for per-socket attribution. */
#include "podinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/buf.h"
#include "common/file.h"

/* Deeper than any kubelet layout (root, kubepods, QoS, pod, container,
 * and a few levels of --cgroup-root or nested systemd slices), shallow
 * enough to bound the open descriptors of a walk. */
#define CGROUP_WALK_MAX_DEPTH 16
/* /proc/<pid>/cgroup is a few hundred bytes; a cap keeps a corrupt or
 * hostile procfs from making us allocate without end. */
#define CGROUP_FILE_MAX (256 * 1024)

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether s[0..n) is a pod UID as the cgroup drivers write it: a UUID
 * whose separators are '-' (cgroupfs) or '_' (systemd escapes '-'), or a
 * 32 hex digit static pod hash. Writes the canonical '-' form to uid. */
static bool parse_uid(const char *s, size_t n, char uid[PODINFO_UID_MAX + 1])
{
	size_t i;

	if (n == 32) {
		for (i = 0; i < n; i++)
			if (!is_hex(s[i]))
				return false;
	} else if (n == 36) {
		for (i = 0; i < n; i++) {
			bool sep = i == 8 || i == 13 || i == 18 || i == 23;

			if (sep ? (s[i] != '-' && s[i] != '_') : !is_hex(s[i]))
				return false;
		}
	} else {
		return false;
	}
	for (i = 0; i < n; i++)
		uid[i] = s[i] == '_' ? '-' : s[i];
	uid[n] = '\0';
	return true;
}

/* One path component: "pod<uid>" (cgroupfs) or "<prefix>-pod<uid>.slice"
 * (systemd). "pod" must start the component or follow a '-', so that a
 * name merely ending in hex digits is not taken for a pod. */
static bool component_uid(const char *s, size_t n, char uid[PODINFO_UID_MAX + 1])
{
	static const size_t lens[] = {36, 32};
	size_t i;

	if (n > 6 && memcmp(s + n - 6, ".slice", 6) == 0)
		n -= 6;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t start;

		if (n < lens[i] + 3)
			continue;
		start = n - lens[i] - 3;
		if (memcmp(s + start, "pod", 3) != 0)
			continue;
		if (start > 0 && s[start - 1] != '-')
			continue;
		if (parse_uid(s + start + 3, lens[i], uid))
			return true;
	}
	return false;
}

/* Skip the "N:controllers:" prefix of a /proc/<pid>/cgroup line; a path
 * (starting with '/') is returned as is. NULL when s is neither. */
static const char *line_path(const char *s, size_t n, size_t *path_len)
{
	size_t i = 0, colons = 0;

	if (n > 0 && s[0] == '/') {
		*path_len = n;
		return s;
	}
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return NULL;
	for (; i < n; i++) {
		if (s[i] == ':' && ++colons == 2) {
			*path_len = n - i - 1;
			return s + i + 1;
		}
	}
	return NULL;
}

/* podinfo_uid_from_cgroup_path() on s[0..n), which need not be
 * NUL-terminated. The last (innermost) pod component wins. */
static int uid_from_line(const char *s, size_t n, char uid[PODINFO_UID_MAX + 1])
{
	const char *p;
	size_t len, end;

	p = line_path(s, n, &len);
	if (!p)
		return -ENOENT;
	end = len;
	while (end > 0) {
		size_t start = end;

		while (start > 0 && p[start - 1] != '/')
			start--;
		if (end > start && component_uid(p + start, end - start, uid))
			return 0;
		end = start > 0 ? start - 1 : 0;
	}
	return -ENOENT;
}

int podinfo_uid_from_cgroup_path(const char *path, char uid[PODINFO_UID_MAX + 1])
{
	if (!path)
		return -EINVAL;
	return uid_from_line(path, strlen(path), uid);
}

int podinfo_uid_from_cgroup_file(const char *text, size_t len, char uid[PODINFO_UID_MAX + 1])
{
	char v1[PODINFO_UID_MAX + 1];
	bool have_v1 = false;
	size_t pos = 0;

	if (!text)
		return -EINVAL;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		pos += n + 1;
		if (n >= 3 && memcmp(line, "0::", 3) == 0) {
			/* The unified hierarchy is the one kubelet uses on v2
			 * and hybrid-v2 nodes: it decides when it names a pod. */
			if (uid_from_line(line, n, uid) == 0)
				return 0;
		} else if (!have_v1 && uid_from_line(line, n, v1) == 0) {
			have_v1 = true;
		}
	}
	if (!have_v1)
		return -ENOENT;
	memcpy(uid, v1, sizeof(v1));
	return 0;
}

int podinfo_uid_of_pid(const char *proc_root, int pid, char uid[PODINFO_UID_MAX + 1])
{
	char path[4096];
	struct buf b;
	int r;

	if (!proc_root || pid <= 0)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid) >= sizeof(path))
		return -ENAMETOOLONG;
	buf_init(&b);
	r = file_read_pseudo(path, CGROUP_FILE_MAX, &b);
	/* A process that exited between the scan and now: not an error of
	 * ours, just nothing to attribute. */
	if (r == -ESRCH)
		r = -ENOENT;
	if (r == 0)
		r = podinfo_uid_from_cgroup_file(b.data ? b.data : "", b.len, uid);
	buf_free(&b);
	return r;
}

/* A DNS-1123 name: lower-case alphanumerics, '-' and (for subdomains) '.'.
 * Checked so that a stray directory cannot put arbitrary bytes into a
 * label value. */
static bool dns_name(const char *s, size_t n, size_t max, bool dots)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    (dots && c == '.'))
			continue;
		return false;
	}
	return true;
}

int podinfo_parse_pod_log_dir(const char *entry, struct pod_id *out)
{
	const char *a, *b;
	size_t len;

	if (!entry || !out)
		return -EINVAL;
	len = strlen(entry);
	a = strchr(entry, '_');
	b = strrchr(entry, '_');
	if (!a || a == b || memchr(a + 1, '_', (size_t)(b - a - 1)))
		return -EINVAL;
	if (!dns_name(entry, (size_t)(a - entry), PODINFO_NAMESPACE_MAX, false) ||
	    !dns_name(a + 1, (size_t)(b - a - 1), PODINFO_NAME_MAX, true))
		return -EINVAL;
	/* b is the last '_': a systemd-escaped UID cannot pass here, and
	 * kubelet always spells it with '-'. */
	if (!parse_uid(b + 1, len - (size_t)(b + 1 - entry), out->uid))
		return -EINVAL;
	memcpy(out->namespace, entry, (size_t)(a - entry));
	out->namespace[a - entry] = '\0';
	memcpy(out->name, a + 1, (size_t)(b - a - 1));
	out->name[b - a - 1] = '\0';
	return 0;
}

/* Whether a pod log directory name ends in "_<uid>": a cheap filter
 * before the full parse. */
static bool ends_with_uid(const char *entry, const char *uid, size_t uid_len)
{
	size_t n = strlen(entry);

	return n > uid_len + 1 && entry[n - uid_len - 1] == '_' &&
	       memcmp(entry + n - uid_len, uid, uid_len) == 0;
}

int podinfo_lookup_pod_logs(const char *pod_logs_dir, const char *uid, char *ns, size_t ns_len,
			    char *name, size_t name_len)
{
	struct pod_id pod;
	struct dirent *de;
	size_t uid_len;
	DIR *d;
	int r = -ENOENT;

	if (!pod_logs_dir || !uid || !ns || !name)
		return -EINVAL;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > PODINFO_UID_MAX)
		return -ENOENT;
	d = opendir(pod_logs_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (!ends_with_uid(de->d_name, uid, uid_len))
			continue;
		if (podinfo_parse_pod_log_dir(de->d_name, &pod) < 0)
			continue;
		if (strlen(pod.namespace) >= ns_len || strlen(pod.name) >= name_len) {
			r = -ERANGE;
			break;
		}
		memcpy(ns, pod.namespace, strlen(pod.namespace) + 1);
		memcpy(name, pod.name, strlen(pod.name) + 1);
		r = 0;
		break;
	}
	closedir(d);
	return r;
}

struct podinfo_pods {
	struct pod_id *pods; /* sorted by uid */
	size_t n;
};

static int pod_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pod_id *)a)->uid, ((const struct pod_id *)b)->uid);
}

int podinfo_pods_load(const char *pod_logs_dir, size_t max, struct podinfo_pods **out,
		      size_t *dropped)
{
	struct podinfo_pods *p;
	struct dirent *de;
	size_t cap = 0, lost = 0;
	DIR *d = NULL;
	int r = 0;

	if (!pod_logs_dir || !out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	d = opendir(pod_logs_dir);
	if (!d) {
		r = errno == ENOENT ? 0 : -errno;
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		struct pod_id pod;

		if (podinfo_parse_pod_log_dir(de->d_name, &pod) < 0)
			continue;
		if (p->n >= max) {
			lost++;
			continue;
		}
		if (p->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pod_id *np = reallocarray(p->pods, ncap, sizeof(*np));

			if (!np) {
				r = -ENOMEM;
				goto done;
			}
			p->pods = np;
			cap = ncap;
		}
		p->pods[p->n++] = pod;
	}
	if (p->n > 1)
		qsort(p->pods, p->n, sizeof(*p->pods), pod_cmp);
done:
	if (d)
		closedir(d);
	if (r < 0) {
		podinfo_pods_free(p);
		return r;
	}
	if (dropped)
		*dropped = lost;
	*out = p;
	return 0;
}

const struct pod_id *podinfo_pods_find(const struct podinfo_pods *p, const char *uid)
{
	struct pod_id key;
	size_t n;

	if (!p || !uid || p->n == 0)
		return NULL;
	n = strlen(uid);
	if (n > PODINFO_UID_MAX)
		return NULL;
	memcpy(key.uid, uid, n + 1);
	return bsearch(&key, p->pods, p->n, sizeof(*p->pods), pod_cmp);
}

size_t podinfo_pods_count(const struct podinfo_pods *p)
{
	return p ? p->n : 0;
}

void podinfo_pods_free(struct podinfo_pods *p)
{
	if (!p)
		return;
	free(p->pods);
	free(p);
}

struct cgroup_pod {
	uint64_t id;
	size_t pod; /* index into pods */
};

struct podinfo_cgroups {
	struct cgroup_pod *v; /* sorted by id */
	size_t n, cap;
	struct pod_id *pods; /* one per pod directory met in the walk */
	size_t n_pods, cap_pods;
};

static int cgroup_pod_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct cgroup_pod *)a)->id, y = ((const struct cgroup_pod *)b)->id;

	return x < y ? -1 : x > y;
}

/* Map cgroup id to m->pods[pod]. 0 or -ENOMEM. */
static int cgroups_add(struct podinfo_cgroups *m, uint64_t id, size_t pod)
{
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct cgroup_pod *nv = reallocarray(m->v, ncap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = ncap;
	}
	m->v[m->n].id = id;
	m->v[m->n].pod = pod;
	m->n++;
	return 0;
}

/* Append the pod with uid, named from pods when it knows it. Its index,
 * or -ENOMEM. */
static long cgroups_add_pod(struct podinfo_cgroups *m, const struct podinfo_pods *pods,
			    const char *uid)
{
	const struct pod_id *known = podinfo_pods_find(pods, uid);
	struct pod_id *p;

	if (m->n_pods == m->cap_pods) {
		size_t ncap = m->cap_pods ? m->cap_pods * 2 : 16;
		struct pod_id *np = reallocarray(m->pods, ncap, sizeof(*np));

		if (!np)
			return -ENOMEM;
		m->pods = np;
		m->cap_pods = ncap;
	}
	p = &m->pods[m->n_pods];
	if (known) {
		*p = *known;
	} else {
		memset(p, 0, sizeof(*p));
		memcpy(p->uid, uid, strlen(uid) + 1);
	}
	return (long)m->n_pods++;
}

/* Open root's cgroup2 mount as a directory: root itself on a unified
 * node, root/unified on a hybrid one. The descriptor, or -errno. */
static int open_cgroup2(const char *root)
{
	struct statfs sf;
	int fd, sub;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sf) < 0) {
		sub = -errno;
		close(fd);
		return sub;
	}
	if (sf.f_type == CGROUP2_SUPER_MAGIC)
		return fd;
	sub = openat(fd, "unified", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if (sub < 0)
		return -EOPNOTSUPP;
	if (fstatfs(sub, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
		close(sub);
		return -EOPNOTSUPP;
	}
	return sub;
}

struct walk_frame {
	DIR *d;
	long pod; /* index into the map's pods of this subtree's pod, -1 if none */
};

/* Inside a pod only the pod directory itself is read: its children are
 * the containers, recorded from that one listing. Reading every container
 * directory too would triple the walk (each lists dozens of control
 * files) to find only nested cgroups, which kubelet never makes. */

int podinfo_cgroups_scan(const char *root, const struct podinfo_pods *pods, size_t max_dirs,
			 struct podinfo_cgroups **out, size_t *dropped)
{
	struct walk_frame st[CGROUP_WALK_MAX_DEPTH];
	struct podinfo_cgroups *m;
	size_t depth = 0, visited = 0, lost = 0;
	int fd, r = 0;

	if (!root || !out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	fd = open_cgroup2(root);
	if (fd < 0) {
		r = fd;
		goto done;
	}
	st[0].d = fdopendir(fd);
	if (!st[0].d) {
		r = -errno;
		close(fd);
		goto done;
	}
	st[0].pod = -1;
	depth = 1;
	while (depth > 0) {
		struct walk_frame *f = &st[depth - 1];
		char uid[PODINFO_UID_MAX + 1];
		struct dirent *de;
		long pod = f->pod;
		int sub;

		de = readdir(f->d);
		if (!de) {
			/* End of this directory, or it was removed under us:
			 * either way its subtree is done. */
			closedir(f->d);
			depth--;
			continue;
		}
		/* kernfs always fills d_type. */
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (visited >= max_dirs) {
			lost++;
			continue;
		}
		visited++;
		if (component_uid(de->d_name, strlen(de->d_name), uid)) {
			pod = cgroups_add_pod(m, pods, uid);
			if (pod < 0) {
				r = (int)pod;
				goto done;
			}
		}
		/* kernfs reports the node id as d_ino: the very number
		 * INET_DIAG_CGROUP_ID carries. */
		if (pod >= 0 && (r = cgroups_add(m, (uint64_t)de->d_ino, (size_t)pod)) < 0)
			goto done;
		if (f->pod >= 0)
			continue; /* a container: not read, see walk_frame */
		if (depth == CGROUP_WALK_MAX_DEPTH) {
			lost++;
			continue;
		}
		sub = openat(dirfd(f->d), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			continue; /* gone, or not ours to read: skip the subtree */
		st[depth].d = fdopendir(sub);
		if (!st[depth].d) {
			r = -errno;
			close(sub);
			goto done;
		}
		st[depth].pod = pod;
		depth++;
	}
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), cgroup_pod_cmp);
done:
	while (depth > 0)
		closedir(st[--depth].d);
	if (r < 0) {
		podinfo_cgroups_free(m);
		return r;
	}
	if (dropped)
		*dropped = lost;
	*out = m;
	return 0;
}

const struct pod_id *podinfo_cgroups_find(const struct podinfo_cgroups *m, uint64_t id)
{
	struct cgroup_pod key, *hit;

	if (!m || m->n == 0)
		return NULL;
	key.id = id;
	hit = bsearch(&key, m->v, m->n, sizeof(*m->v), cgroup_pod_cmp);
	return hit ? &m->pods[hit->pod] : NULL;
}

size_t podinfo_cgroups_count(const struct podinfo_cgroups *m)
{
	return m ? m->n : 0;
}

void podinfo_cgroups_free(struct podinfo_cgroups *m)
{
	if (!m)
		return;
	free(m->v);
	free(m->pods);
	free(m);
}

bool podinfo_ref(const struct pod_id *p, struct pod_ref *out)
{
	if (!p || !p->uid[0])
		return false;
	out->pod_namespace = p->namespace;
	out->pod = p->name[0] ? p->name : p->uid;
	return true;
}
