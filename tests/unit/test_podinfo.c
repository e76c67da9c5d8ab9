#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/podinfo.h"
#include "testing.h"

#define UID   "0d6b3b4e-3c1a-4f5e-9b7d-2a8c1e4f6a90"
#define UID_U "0d6b3b4e_3c1a_4f5e_9b7d_2a8c1e4f6a90" /* as the systemd driver escapes it */
#define HASH  "5a3e9c0f6b1d4e2a8c7b9d0e1f2a3b4c"     /* a static pod's UID */
#define CTR   "3f1e2d4c5b6a79880a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"

struct path_case {
	const char *in;
	const char *uid; /* NULL: -ENOENT */
};

static const struct path_case path_cases[] = {
    /* cgroupfs driver, every QoS class, pod level and container level */
    {"/kubepods/burstable/pod" UID "/" CTR, UID},
    {"/kubepods/besteffort/pod" UID "/" CTR, UID},
    {"/kubepods/pod" UID "/" CTR, UID}, /* guaranteed */
    {"/kubepods/burstable/pod" UID, UID},
    {"/kubepods/burstable/pod" UID "/", UID},
    {"/kubepods/burstable/pod" HASH "/" CTR, HASH},
    /* systemd driver */
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
     ".slice/cri-containerd-" CTR ".scope",
     UID},
    {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_U ".slice/crio-" CTR
     ".scope",
     UID},
    {"/kubepods.slice/kubepods-pod" UID_U ".slice/docker-" CTR ".scope", UID},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U ".slice", UID},
    {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" HASH ".slice", HASH},
    /* a kind/minikube node: kubelet under its own slice */
    {"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
     "kubelet-kubepods-besteffort-pod" UID_U ".slice/cri-containerd-" CTR ".scope",
     UID},
    /* /proc/<pid>/cgroup lines, v2 and v1 */
    {"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
     ".slice/cri-containerd-" CTR ".scope",
     UID},
    {"11:memory:/kubepods/burstable/pod" UID "/" CTR, UID},
    {"4:cpu,cpuacct:/kubepods/besteffort/pod" UID "/" CTR, UID},
    {"1:name=systemd:/kubepods.slice/kubepods-pod" UID_U ".slice/cri-containerd-" CTR ".scope",
     UID},
    /* seen from inside another cgroup namespace */
    {"0::/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
     ".slice/cri-containerd-" CTR ".scope",
     UID},
    /* not in a pod */
    {"/", NULL},
    {"", NULL},
    {"0::/", NULL},
    {"0::/system.slice/containerd.service", NULL},
    {"0::/user.slice/user-1000.slice/session-2.scope", NULL},
    {"/kubepods/burstable", NULL},
    {"/kubepods.slice/kubepods-burstable.slice", NULL},
    {"/docker/" CTR, NULL},
    {"/kubepods/burstable/podnot-a-uid/" CTR, NULL},
    {"/kubepods/burstable/xpod" UID "/" CTR, NULL}, /* "pod" must start a word */
    {"/kubepods/burstable/pod" UID "x/" CTR, NULL}, /* trailing junk */
    {"/kubepods/burstable/pod0d6b3b4e3c1a-4f5e-9b7d-2a8c1e4f6a90-/x", NULL}, /* separators */
    {"/kubepods/burstable/pod0d6b3b4e-3c1a-4f5e-9b7d-2a8c1e4f6a9g/x", NULL}, /* not hex */
    {"/kubepods/burstable/pod" HASH "0/x", NULL},			     /* 33 digits */
    {"garbage", NULL},
    {"11:memory", NULL},
};

DEF_TEST(uid_from_cgroup_path)
{
	size_t i;

	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		char uid[PODINFO_UID_MAX + 1] = "";
		int r = podinfo_uid_from_cgroup_path(c->in, uid);

		if (c->uid ? (r != 0 || strcmp(uid, c->uid) != 0) : r != -ENOENT) {
			printf("case %zu \"%s\": got %d \"%s\", want %s\n", i, c->in, r, uid,
			       c->uid ? c->uid : "-ENOENT");
			return -1;
		}
	}
	CHECK_EQ_INT(-EINVAL, podinfo_uid_from_cgroup_path(NULL, (char[PODINFO_UID_MAX + 1]){0}));
	return 0;
}

struct file_case {
	const char *text;
	const char *uid;
};

static const struct file_case file_cases[] = {
    /* cgroup v2 only */
    {"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
     ".slice/cri-containerd-" CTR ".scope\n",
     UID},
    /* hybrid: kubelet on v1, the unified line is the root */
    {"12:pids:/kubepods/burstable/pod" UID "/" CTR "\n"
     "11:memory:/kubepods/burstable/pod" UID "/" CTR "\n"
     "1:name=systemd:/kubepods/burstable/pod" UID "/" CTR "\n"
     "0::/\n",
     UID},
    /* v2 decides over a v1 line that disagrees */
    {"4:memory:/kubepods/besteffort/pod" HASH "/x\n"
     "0::/kubepods/burstable/pod" UID "/" CTR "\n",
     UID},
    /* no trailing newline */
    {"0::/kubepods/pod" UID "/" CTR, UID},
    /* a host process */
    {"12:pids:/system.slice/sshd.service\n0::/system.slice/sshd.service\n", NULL},
    {"", NULL},
    {"\n\n", NULL},
};

DEF_TEST(uid_from_cgroup_file)
{
	size_t i;

	for (i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct file_case *c = &file_cases[i];
		char uid[PODINFO_UID_MAX + 1] = "";
		int r = podinfo_uid_from_cgroup_file(c->text, strlen(c->text), uid);

		if (c->uid ? (r != 0 || strcmp(uid, c->uid) != 0) : r != -ENOENT) {
			printf("file case %zu: got %d \"%s\", want %s\n", i, r, uid,
			       c->uid ? c->uid : "-ENOENT");
			return -1;
		}
	}
	return 0;
}

struct logdir_case {
	const char *in;
	const char *ns, *name, *uid; /* ns NULL: -EINVAL */
};

static const struct logdir_case logdir_cases[] = {
    {"default_web-7d4b9c6f5-x2x9q_" UID, "default", "web-7d4b9c6f5-x2x9q", UID},
    {"kube-system_kube-apiserver-node1.example_" HASH, "kube-system",
     "kube-apiserver-node1.example", HASH},
    {"a_b_" UID, "a", "b", UID},
    {"default_web", NULL, NULL, NULL},	      /* two parts */
    {"default_web_x_" UID, NULL, NULL, NULL}, /* four parts */
    {"_web_" UID, NULL, NULL, NULL},	      /* empty namespace */
    {"default__" UID, NULL, NULL, NULL},      /* empty name */
    {"Default_web_" UID, NULL, NULL, NULL},   /* not a DNS label */
    {"default_web_not-a-uid", NULL, NULL, NULL},
    {"default_web_" UID_U, NULL, NULL, NULL},  /* '_' splits it */
    {"default.ns_web_" UID, NULL, NULL, NULL}, /* a namespace has no dots */
    {"default_we b_" UID, NULL, NULL, NULL},
    {"0123456789012345678901234567890123456789012345678901234567890123_web_" UID, NULL, NULL,
     NULL}, /* 64 chars */
    {"", NULL, NULL, NULL},
};

DEF_TEST(parse_pod_log_dir)
{
	size_t i;

	for (i = 0; i < sizeof(logdir_cases) / sizeof(logdir_cases[0]); i++) {
		const struct logdir_case *c = &logdir_cases[i];
		struct pod_id p;
		int r;

		memset(&p, 0, sizeof(p));
		r = podinfo_parse_pod_log_dir(c->in, &p);
		if (!c->ns) {
			if (r != -EINVAL) {
				printf("log dir case %zu \"%s\": got %d, want -EINVAL\n", i, c->in,
				       r);
				return -1;
			}
			continue;
		}
		if (r != 0 || strcmp(p.namespace, c->ns) || strcmp(p.name, c->name) ||
		    strcmp(p.uid, c->uid)) {
			printf("log dir case %zu \"%s\": got %d %s/%s/%s\n", i, c->in, r,
			       p.namespace, p.name, p.uid);
			return -1;
		}
	}
	return 0;
}

static char tmpdir[256];

static int mkpath(const char *rel, bool dir, const char *content)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if (dir)
		return mkdir(path, 0755);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		printf("warning: could not remove %s\n", path);
}

DEF_TEST(pod_logs)
{
	char ns[PODINFO_NAMESPACE_MAX + 1], name[PODINFO_NAME_MAX + 1], small[4];
	char dir[300];
	struct podinfo_pods *pods = NULL;
	const struct pod_id *p;
	size_t dropped = 99;

	snprintf(dir, sizeof(dir), "%s/pods", tmpdir);
	CHECK_EQ_INT(0, mkpath("pods", true, NULL));
	CHECK_EQ_INT(0, mkpath("pods/default_web-0_" UID, true, NULL));
	CHECK_EQ_INT(0, mkpath("pods/kube-system_etcd-node1_" HASH, true, NULL));
	CHECK_EQ_INT(0, mkpath("pods/not-a-pod", true, NULL));
	CHECK_EQ_INT(0, mkpath("pods/x_y_zz", false, ""));

	CHECK_EQ_INT(0, podinfo_lookup_pod_logs(dir, UID, ns, sizeof(ns), name, sizeof(name)));
	CHECK_EQ_STR("default", ns);
	CHECK_EQ_STR("web-0", name);
	CHECK_EQ_INT(0, podinfo_lookup_pod_logs(dir, HASH, ns, sizeof(ns), name, sizeof(name)));
	CHECK_EQ_STR("kube-system", ns);
	CHECK_EQ_STR("etcd-node1", name);
	CHECK_EQ_INT(-ENOENT, podinfo_lookup_pod_logs(dir, "11111111-2222-3333-4444-555555555555",
						      ns, sizeof(ns), name, sizeof(name)));
	CHECK_EQ_INT(-ENOENT, podinfo_lookup_pod_logs(dir, "", ns, sizeof(ns), name, sizeof(name)));
	CHECK_EQ_INT(-ERANGE,
		     podinfo_lookup_pod_logs(dir, UID, small, sizeof(small), name, sizeof(name)));
	CHECK_EQ_INT(-ENOENT, podinfo_lookup_pod_logs("/nonexistent/pods", UID, ns, sizeof(ns),
						      name, sizeof(name)));

	CHECK_EQ_INT(0, podinfo_pods_load(dir, 100, &pods, &dropped));
	CHECK_EQ_UINT(2, podinfo_pods_count(pods));
	CHECK_EQ_UINT(0, dropped);
	p = podinfo_pods_find(pods, UID);
	CHECK(p != NULL);
	CHECK_EQ_STR("web-0", p->name);
	p = podinfo_pods_find(pods, HASH);
	CHECK(p != NULL);
	CHECK_EQ_STR("kube-system", p->namespace);
	CHECK(podinfo_pods_find(pods, "11111111-2222-3333-4444-555555555555") == NULL);
	CHECK(podinfo_pods_find(NULL, UID) == NULL);
	podinfo_pods_free(pods);

	/* The bound keeps one, counts the other. */
	CHECK_EQ_INT(0, podinfo_pods_load(dir, 1, &pods, &dropped));
	CHECK_EQ_UINT(1, podinfo_pods_count(pods));
	CHECK_EQ_UINT(1, dropped);
	podinfo_pods_free(pods);

	/* A node without pods yet: empty, not an error. */
	CHECK_EQ_INT(0, podinfo_pods_load("/nonexistent/pods", 100, &pods, NULL));
	CHECK_EQ_UINT(0, podinfo_pods_count(pods));
	podinfo_pods_free(pods);
	podinfo_pods_free(NULL);
	return 0;
}

DEF_TEST(uid_of_pid)
{
	char proc[300], uid[PODINFO_UID_MAX + 1];

	snprintf(proc, sizeof(proc), "%s/proc", tmpdir);
	CHECK_EQ_INT(0, mkpath("proc", true, NULL));
	CHECK_EQ_INT(0, mkpath("proc/42", true, NULL));
	CHECK_EQ_INT(0, mkpath("proc/42/cgroup", false,
			       "0::/kubepods.slice/kubepods-pod" UID_U ".slice/cri-containerd-" CTR
			       ".scope\n"));
	CHECK_EQ_INT(0, mkpath("proc/43", true, NULL));
	CHECK_EQ_INT(0, mkpath("proc/43/cgroup", false, "0::/system.slice/cron.service\n"));

	CHECK_EQ_INT(0, podinfo_uid_of_pid(proc, 42, uid));
	CHECK_EQ_STR(UID, uid);
	CHECK_EQ_INT(-ENOENT, podinfo_uid_of_pid(proc, 43, uid));
	CHECK_EQ_INT(-ENOENT, podinfo_uid_of_pid(proc, 44, uid)); /* exited */
	CHECK_EQ_INT(-EINVAL, podinfo_uid_of_pid(proc, 0, uid));
	/* Our own process is in no pod on a build machine. */
	CHECK(podinfo_uid_of_pid("/proc", (int)getpid(), uid) == -ENOENT ||
	      podinfo_uid_of_pid("/proc", (int)getpid(), uid) == 0);
	return 0;
}

DEF_TEST(cgroups_scan_needs_cgroup2)
{
	struct podinfo_cgroups *m = NULL;

	/* A plain directory is no cgroup2 mount, nor has one as "unified". */
	CHECK_EQ_INT(-EOPNOTSUPP, podinfo_cgroups_scan(tmpdir, NULL, 100, &m, NULL));
	CHECK(m == NULL);
	CHECK_EQ_INT(-ENOENT, podinfo_cgroups_scan("/nonexistent", NULL, 100, &m, NULL));
	CHECK(podinfo_cgroups_find(NULL, 1) == NULL);
	CHECK_EQ_UINT(0, podinfo_cgroups_count(NULL));
	podinfo_cgroups_free(NULL);
	return 0;
}

/* The labels of a pod: its name, or its UID while the name is unknown;
 * nothing for an entry that is not a pod's. */
DEF_TEST(pod_ref)
{
	struct pod_id p = {"0e6d8b0c-4a1f-4c1e-9d3b-2f4c6a8e0b1d", "shop", "cart-0"};
	struct pod_ref r = {"x", "y"};

	CHECK(!podinfo_ref(NULL, &r));
	CHECK_EQ_STR("x", r.pod_namespace);
	CHECK(podinfo_ref(&p, &r));
	CHECK_EQ_STR("shop", r.pod_namespace);
	CHECK_EQ_STR("cart-0", r.pod);
	p.name[0] = '\0';
	CHECK(podinfo_ref(&p, &r));
	CHECK_EQ_STR(p.uid, r.pod);
	p.uid[0] = '\0';
	CHECK(!podinfo_ref(&p, &r));
	return 0;
}

int main(void)
{
	RUN_TEST(pod_ref);
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_podinfo.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(uid_from_cgroup_path);
	RUN_TEST(uid_from_cgroup_file);
	RUN_TEST(parse_pod_log_dir);
	RUN_TEST(pod_logs);
	RUN_TEST(uid_of_pid);
	RUN_TEST(cgroups_scan_needs_cgroup2);
	rm_rf(tmpdir);
	END_TEST;
}
