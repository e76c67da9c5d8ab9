/* test_netns: the namespace registry against the real kernel (root).
 *
 * Namespaces are made by forked children that unshare(CLONE_NEWNET) and
 * listen on a port (pid-held), or by bind-mounting such a namespace into
 * a private netns_dir and letting the child go (name-held, like
 * `ip netns add` and the CNI). The registry scans the real /proc, so other
 * namespaces of the machine show up too: every check is about ours, found
 * by inode, and descriptors are checked as "one per held entry", which
 * holds whatever else comes and goes. Exit 77 (skipped) when not root. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>

#include "collectors/netns.h"
#include "collectors/sockdiag.h"
#include "testing.h"

#define UID   "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
#define UID_U "6f1c2b3a_4d5e_4f60_8a7b_9c0d1e2f3a4b"
#define UID2  "11111111-2222-4333-8444-555555555555"

#define MAX_CHILDREN 64

struct child {
	pid_t pid;
	int port;
	uint64_t ino; /* of its network namespace */
};

static char tmpdir[256];
static char netns_dir[300]; /* tmpdir/netns: the tests' private netns_dir */
static struct child children[MAX_CHILDREN];
static char mounted[MAX_CHILDREN][512]; /* bind mounts and the cgroup2 mount to undo */
static char cgroup_dirs[8][1024];	/* made under the cgroup2 mount, to rmdir */

/* Fork a child that (optionally) joins cgroup_procs and unshares a new
 * network namespace, then listens on an ephemeral port and waits to be
 * killed. 0 with *c filled, or -1. */
static int spawn(bool new_ns, const char *cgroup_procs, struct child *c)
{
	int p[2];
	pid_t pid;
	char path[64];
	struct stat sb;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t al = sizeof(a);
		int s, port = -1;

		close(p[0]);
		if (cgroup_procs) {
			int fd = open(cgroup_procs, O_WRONLY);

			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(1);
			close(fd);
		}
		if (new_ns && unshare(CLONE_NEWNET) < 0)
			_exit(1);
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 4) == 0 &&
		    getsockname(s, (struct sockaddr *)&a, &al) == 0)
			port = ntohs(a.sin_port);
		if (write(p[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	c->pid = pid;
	if (read(p[0], &c->port, sizeof(c->port)) != sizeof(c->port) || c->port < 0) {
		close(p[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		c->pid = 0;
		return -1;
	}
	close(p[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &sb) < 0)
		return -1;
	c->ino = (uint64_t)sb.st_ino;
	return 0;
}

static void reap(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	c->pid = 0;
}

static struct child *new_child(bool new_ns, const char *cgroup_procs)
{
	size_t i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i].pid == 0)
			return spawn(new_ns, cgroup_procs, &children[i]) == 0 ? &children[i] : NULL;
	}
	return NULL;
}

/* Pin c's namespace at <tmpdir>/netns/<name> and let c go: a namespace
 * known by name only. Its inode, or 0. */
static uint64_t pin_by_name(struct child *c, const char *name)
{
	char src[64], dst[512];
	uint64_t ino = c->ino;
	size_t i;
	int fd;

	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)c->pid);
	snprintf(dst, sizeof(dst), "%s/%s", netns_dir, name);
	fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return 0;
	close(fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return 0;
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (!mounted[i][0]) {
			snprintf(mounted[i], sizeof(mounted[i]), "%s", dst);
			break;
		}
	}
	reap(c);
	return ino;
}

static void unpin(const char *name)
{
	char dst[512];
	size_t i;

	snprintf(dst, sizeof(dst), "%s/%s", netns_dir, name);
	umount2(dst, MNT_DETACH);
	unlink(dst);
	for (i = 0; i < MAX_CHILDREN; i++)
		if (strcmp(mounted[i], dst) == 0)
			mounted[i][0] = '\0';
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

static const struct netns_entry *find_ino(const struct netns_registry *r, uint64_t ino)
{
	size_t i;

	for (i = 0; i < netns_registry_count(r); i++)
		if (netns_registry_get(r, i)->ino == ino)
			return netns_registry_get(r, i);
	return NULL;
}

struct listen_probe {
	int port;
	bool found;
	uint64_t cgroup_id;
	unsigned sockets;
};

static int probe_cb(const struct sock_record *rec, void *ctx)
{
	struct listen_probe *p = ctx;

	p->sockets++;
	if (rec->sport == p->port) {
		p->found = true;
		p->cgroup_id = rec->cgroup_id;
	}
	return 0;
}

/* LISTEN sockets of AF_INET through e's handle. 0 or -errno. */
static int dump_listeners(const struct netns_entry *e, struct listen_probe *p)
{
	static char buf[SOCKDIAG_RECV_BUF];
	struct sockdiag_request req = {.family = AF_INET, .states = SOCKDIAG_STATE(TCPS_LISTEN)};

	p->found = false;
	p->sockets = 0;
	return sockdiag_dump(e->sk, &req, buf, sizeof(buf), probe_cb, p, NULL);
}

DEF_TEST(own_namespace_only)
{
	struct netns_options o = {.all = false};
	struct netns_registry *r = NULL;
	struct netns_refresh_stats st;
	const struct netns_entry *e;
	struct stat sb;
	int base = count_fds();

	CHECK_EQ_INT(0, netns_registry_new(&o, &r));
	CHECK_EQ_UINT(1, netns_registry_count(r));
	e = netns_registry_get(r, 0);
	CHECK(e->is_host);
	CHECK(e->sk != NULL);
	CHECK_EQ_INT(0, stat("/proc/self/ns/net", &sb));
	CHECK_EQ_UINT((uint64_t)sb.st_ino, e->ino);
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK_EQ_UINT(1, st.namespaces);
	CHECK_EQ_UINT(0, st.added);
	CHECK_EQ_UINT(0, st.scanned);
	CHECK(netns_registry_get(r, 1) == NULL);
	CHECK_EQ_INT(base + 2, count_fds()); /* home fd + its handle */
	netns_registry_free(r);
	CHECK_EQ_INT(base, count_fds());
	netns_registry_free(NULL);
	return 0;
}

DEF_TEST(discover_and_drop)
{
	struct netns_options o = {.all = true, .netns_dir = netns_dir};
	struct netns_registry *r = NULL;
	struct netns_refresh_stats st;
	struct child *c[3];
	uint64_t named[2];
	const struct netns_entry *e;
	struct listen_probe probe;
	int base = count_fds();
	size_t i;

	for (i = 0; i < 3; i++) {
		c[i] = new_child(true, NULL);
		CHECK(c[i] != NULL);
	}
	for (i = 0; i < 2; i++) {
		struct child *t = new_child(true, NULL);
		char name[32];

		CHECK(t != NULL);
		snprintf(name, sizeof(name), "cni-test-%zu", i);
		named[i] = pin_by_name(t, name);
		CHECK(named[i] != 0);
	}
	CHECK_EQ_INT(0, netns_registry_new(&o, &r));
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK(st.added >= 5);
	CHECK(st.scanned > 0);
	CHECK(netns_registry_get(r, 0)->is_host);
	for (i = 0; i < 3; i++) {
		e = find_ino(r, c[i]->ino);
		CHECK(e != NULL);
		CHECK(!e->is_host);
		CHECK_EQ_INT(c[i]->pid, e->pid);
		CHECK_EQ_STR("", e->name);
		CHECK_EQ_STR("", e->pod.uid); /* attribution is off */
		/* The handle was made inside: it sees the child's listener. */
		probe.port = c[i]->port;
		CHECK_EQ_INT(0, dump_listeners(e, &probe));
		CHECK(probe.found);
		CHECK_EQ_UINT(1, probe.sockets);
	}
	for (i = 0; i < 2; i++) {
		char want[32];

		e = find_ino(r, named[i]);
		CHECK(e != NULL);
		CHECK_EQ_INT(0, e->pid);
		snprintf(want, sizeof(want), "cni-test-%zu", i);
		CHECK_EQ_STR(want, e->name);
		/* Its process is gone: an empty namespace, but a live handle. */
		probe.port = 0;
		CHECK_EQ_INT(0, dump_listeners(e, &probe));
		CHECK_EQ_UINT(0, probe.sockets);
	}
	CHECK_EQ_INT(base + 1 + (int)netns_registry_count(r), count_fds());

	/* A second refresh opens nothing new of ours and keeps every handle. */
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	for (i = 0; i < 3; i++)
		CHECK(find_ino(r, c[i]->ino) != NULL);

	/* Delete one of each kind. */
	{
		uint64_t gone_pid = c[1]->ino, gone_named = named[0];

		reap(c[1]);
		unpin("cni-test-0");
		CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
		CHECK(st.removed >= 2);
		CHECK(find_ino(r, gone_pid) == NULL);
		CHECK(find_ino(r, gone_named) == NULL);
		CHECK(find_ino(r, c[0]->ino) != NULL);
		CHECK(find_ino(r, named[1]) != NULL);
		CHECK_EQ_INT(base + 1 + (int)netns_registry_count(r), count_fds());
	}
	reap(c[0]);
	reap(c[2]);
	unpin("cni-test-1");
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK(find_ino(r, named[1]) == NULL);
	netns_registry_free(r);
	CHECK_EQ_INT(base, count_fds());
	return 0;
}

DEF_TEST(churn_without_leaks)
{
	struct netns_options o = {.all = true, .netns_dir = netns_dir};
	struct netns_registry *r = NULL;
	struct netns_refresh_stats st;
	struct child *live[6] = {NULL};
	int base = count_fds();
	unsigned i, added = 0, removed = 0;

	CHECK_EQ_INT(0, netns_registry_new(&o, &r));
	for (i = 0; i < 100; i++) {
		unsigned k = i % 6;
		uint64_t dropped = 0, pinned = 0;
		char name[32];

		if (live[k]) {
			dropped = live[k]->ino;
			reap(live[k]);
		}
		live[k] = new_child(true, NULL);
		CHECK(live[k] != NULL);
		/* Every tenth round a named one comes and the previous goes. */
		snprintf(name, sizeof(name), "churn-%u", i / 10);
		if (i % 10 == 0) {
			struct child *t = new_child(true, NULL);
			char prev[32];

			CHECK(t != NULL);
			pinned = pin_by_name(t, name);
			CHECK(pinned != 0);
			if (i) {
				snprintf(prev, sizeof(prev), "churn-%u", i / 10 - 1);
				unpin(prev);
			}
		}
		CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
		added += st.added;
		removed += st.removed;
		CHECK(find_ino(r, live[k]->ino) != NULL);
		if (dropped)
			CHECK(find_ino(r, dropped) == NULL);
		if (pinned)
			CHECK(find_ino(r, pinned) != NULL);
		CHECK_EQ_INT(base + 1 + (int)netns_registry_count(r), count_fds());
	}
	CHECK(added >= 100);
	CHECK(removed >= 90);
	for (i = 0; i < 6; i++)
		reap(live[i]);
	unpin("churn-9");
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK_EQ_INT(base + 1 + (int)netns_registry_count(r), count_fds());
	netns_registry_free(r);
	CHECK_EQ_INT(base, count_fds());
	return 0;
}

DEF_TEST(cap)
{
	struct netns_options o = {.all = true, .netns_dir = "", .max_namespaces = 2};
	struct netns_registry *r = NULL;
	struct netns_refresh_stats st;
	struct child *c[3];
	int base = count_fds();
	size_t i;

	for (i = 0; i < 3; i++) {
		c[i] = new_child(true, NULL);
		CHECK(c[i] != NULL);
	}
	CHECK_EQ_INT(0, netns_registry_new(&o, &r));
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK_EQ_UINT(2, netns_registry_count(r));
	CHECK_EQ_UINT(2, st.namespaces);
	CHECK(st.cap_dropped >= 2);
	CHECK_EQ_INT(base + 3, count_fds());
	netns_registry_free(r);
	for (i = 0; i < 3; i++)
		reap(c[i]);
	return 0;
}

static int write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

/* A host proc tree of our own: <fake>/<pid>/ns/net points at the real
 * namespace, <fake>/<pid>/cgroup says what kubelet would have written. */
DEF_TEST(attribute_namespaces)
{
	char proc[300], pods[300], path[600], link[64];
	struct netns_options o = {.all = true, .netns_dir = "", .pods = true, .cgroup_root = ""};
	struct netns_registry *r = NULL;
	struct netns_refresh_stats st;
	const struct netns_entry *e;
	struct child *a, *b, *h;

	snprintf(proc, sizeof(proc), "%s/fakeproc", tmpdir);
	snprintf(pods, sizeof(pods), "%s/pods", tmpdir);
	o.proc_root = proc;
	o.pod_logs_dir = pods;
	CHECK_EQ_INT(0, mkdir(proc, 0755));
	CHECK_EQ_INT(0, mkdir(pods, 0755));
	a = new_child(true, NULL);
	b = new_child(true, NULL);
	h = new_child(true, NULL);
	CHECK(a && b && h);
	{
		struct child *all[3] = {a, b, h};
		const char *cg[3] = {
		    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
		    ".slice/cri-containerd-aaaa.scope\n",
		    "12:memory:/kubepods/besteffort/pod" UID2 "/bbbb\n0::/\n",
		    "0::/system.slice/something.service\n"};
		size_t i;

		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/%d", proc, (int)all[i]->pid);
			CHECK_EQ_INT(0, mkdir(path, 0755));
			snprintf(path, sizeof(path), "%s/%d/ns", proc, (int)all[i]->pid);
			CHECK_EQ_INT(0, mkdir(path, 0755));
			snprintf(path, sizeof(path), "%s/%d/ns/net", proc, (int)all[i]->pid);
			snprintf(link, sizeof(link), "/proc/%d/ns/net", (int)all[i]->pid);
			CHECK_EQ_INT(0, symlink(link, path));
			snprintf(path, sizeof(path), "%s/%d/cgroup", proc, (int)all[i]->pid);
			CHECK_EQ_INT(0, write_file(path, cg[i]));
		}
	}
	snprintf(path, sizeof(path), "%s/shop_cart-0_" UID, pods);
	CHECK_EQ_INT(0, mkdir(path, 0755));

	CHECK_EQ_INT(0, netns_registry_new(&o, &r));
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK_EQ_UINT(4, netns_registry_count(r)); /* home + 3: the fake proc has only ours */
	CHECK_EQ_UINT(2, st.attributed);
	e = find_ino(r, a->ino);
	CHECK(e != NULL);
	CHECK_EQ_STR(UID, e->pod.uid);
	CHECK_EQ_STR("shop", e->pod.namespace);
	CHECK_EQ_STR("cart-0", e->pod.name);
	e = find_ino(r, b->ino);
	CHECK(e != NULL);
	CHECK_EQ_STR(UID2, e->pod.uid);
	CHECK_EQ_STR("", e->pod.name); /* no log directory yet */
	e = find_ino(r, h->ino);
	CHECK(e != NULL);
	CHECK_EQ_STR("", e->pod.uid);
	CHECK_EQ_STR("", netns_registry_get(r, 0)->pod.uid);

	/* kubelet made b's log directory late: the next refresh names it. */
	snprintf(path, sizeof(path), "%s/batch_job-x7k2p_" UID2, pods);
	CHECK_EQ_INT(0, mkdir(path, 0755));
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	e = find_ino(r, b->ino);
	CHECK(e != NULL);
	CHECK_EQ_STR("batch", e->pod.namespace);
	CHECK_EQ_STR("job-x7k2p", e->pod.name);
	netns_registry_free(r);
	reap(a);
	reap(b);
	reap(h);
	return 0;
}

static void rm_cgroup_dirs(void)
{
	int i;

	for (i = 7; i >= 0; i--) {
		if (cgroup_dirs[i][0]) {
			rmdir(cgroup_dirs[i]);
			cgroup_dirs[i][0] = '\0';
		}
	}
}

/* A hostNetwork pod: its socket lives in the host namespace, and only its
 * cgroup (INET_DIAG_CGROUP_ID) says whose it is. */
DEF_TEST(attribute_cgroup_ids)
{
	static const char *const levels[] = {"kubepods.slice", "kubepods-besteffort.slice",
					     "kubepods-besteffort-pod" UID_U ".slice",
					     "cri-containerd-0123abcd.scope"};
	char cg[300], pods[300], path[1024] = "", procs[1100];
	struct netns_options o = {.all = false, .pods = true};
	struct netns_registry *r = NULL;
	struct netns_refresh_stats st;
	const struct pod_id *p;
	struct listen_probe probe;
	struct child *c;
	struct stat sb;
	size_t i;

	snprintf(cg, sizeof(cg), "%s/cgroup2", tmpdir);
	snprintf(pods, sizeof(pods), "%s/pods-hostnet", tmpdir);
	CHECK_EQ_INT(0, mkdir(cg, 0755));
	CHECK_EQ_INT(0, mkdir(pods, 0755));
	if (mount("none", cg, "cgroup2", 0, NULL) < 0) {
		SKIP_TEST("cannot mount cgroup2 here: %s", strerror(errno));
	}
	snprintf(mounted[MAX_CHILDREN - 1], sizeof(mounted[0]), "%s", cg);
	snprintf(path, sizeof(path), "%s", cg);
	for (i = 0; i < 4; i++) {
		size_t n = strlen(path);

		snprintf(path + n, sizeof(path) - n, "/%s", levels[i]);
		/* kubepods.slice may exist already on a real node; ours is
		 * then removed only if we made it. */
		if (mkdir(path, 0755) == 0)
			snprintf(cgroup_dirs[i], sizeof(cgroup_dirs[i]), "%s", path);
		else
			CHECK_EQ_INT(EEXIST, errno);
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	CHECK_EQ_INT(0, stat(path, &sb));
	snprintf(path, sizeof(path), "%s/monitoring_node-agent-abcde_" UID, pods);
	CHECK_EQ_INT(0, mkdir(path, 0755));

	c = new_child(false, procs);
	CHECK(c != NULL);
	o.cgroup_root = cg;
	o.pod_logs_dir = pods;
	CHECK_EQ_INT(0, netns_registry_new(&o, &r));
	CHECK_EQ_INT(0, netns_registry_refresh(r, &st));
	CHECK(st.cgroups >= 2); /* the pod slice and its container scope */
	probe.port = c->port;
	CHECK_EQ_INT(0, dump_listeners(netns_registry_get(r, 0), &probe));
	CHECK(probe.found);
	/* The kernel's cgroup id is the directory's inode. */
	CHECK_EQ_UINT((uint64_t)sb.st_ino, probe.cgroup_id);
	p = netns_registry_pod_by_cgroup(r, probe.cgroup_id);
	CHECK(p != NULL);
	CHECK_EQ_STR(UID, p->uid);
	CHECK_EQ_STR("monitoring", p->namespace);
	CHECK_EQ_STR("node-agent-abcde", p->name);
	CHECK(netns_registry_pod_by_cgroup(r, 1) == NULL); /* the root cgroup */
	netns_registry_free(r);
	reap(c);
	rm_cgroup_dirs();
	umount2(cg, MNT_DETACH);
	mounted[MAX_CHILDREN - 1][0] = '\0';
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Whatever a failed test left: children, mounts, cgroups, files. */
static void cleanup(void)
{
	size_t i;

	for (i = 0; i < MAX_CHILDREN; i++)
		reap(&children[i]);
	rm_cgroup_dirs();
	for (i = 0; i < MAX_CHILDREN; i++)
		if (mounted[i][0])
			umount2(mounted[i], MNT_DETACH);
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void on_signal(int sig)
{
	(void)sig;
	cleanup();
	_exit(1);
}

int main(void)
{
	if (geteuid() != 0)
		SKIP_MAIN("needs root (setns, mount, cgroup2)");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_netns.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(netns_dir, sizeof(netns_dir), "%s/netns", tmpdir);
	if (mkdir(netns_dir, 0755) < 0) {
		perror("mkdir");
		return 1;
	}
	RUN_TEST(own_namespace_only);
	RUN_TEST(discover_and_drop);
	RUN_TEST(churn_without_leaks);
	RUN_TEST(cap);
	RUN_TEST(attribute_namespaces);
	RUN_TEST(attribute_cgroup_ids);
	cleanup();
	END_TEST;
}
