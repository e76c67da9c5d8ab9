/* privileges_drop() per mode, as root, each in a child process (the drop is
 * for good): the effective, permitted, inheritable, ambient and bounding
 * sets and no_new_privs read back from /proc/self/status, and the user
 * switch. Suite `hardening` (needs root). */
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exporter/privileges.h"
#include "testing.h"

static int passed, failed;

static uint64_t status_hex(const char *key)
{
	char line[256];
	uint64_t v = UINT64_MAX;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, strncmp(key, "Cap", 3) == 0 ? 16 : 10);
	fclose(f);
	return v;
}

/* Child: drop, then compare; exit 0 when everything matches. */
static int child(const struct privileges_want *want, uint64_t caps, unsigned uid)
{
	struct privileges_report rep;
	int rc = privileges_drop(want, &rep), bad = 0;

	if (rc) {
		printf("    privileges_drop: %d %s\n", rc, rep.msg);
		return 1;
	}
	printf("    user=%s caps=%s bounding=%s nnp=%d\n", rep.user, rep.caps,
	       rep.bounding_clear ? "reduced" : "unchanged", rep.no_new_privs);
#define EXPECT(key, want_v)                                                                        \
	do {                                                                                       \
		uint64_t got = status_hex(key);                                                    \
		if (got != (uint64_t)(want_v)) {                                                   \
			printf("    %s: got %#llx, want %#llx\n", key, (unsigned long long)got,    \
			       (unsigned long long)(want_v));                                      \
			bad = 1;                                                                   \
		}                                                                                  \
	} while (0)
	EXPECT("CapEff", caps);
	EXPECT("CapPrm", caps);
	EXPECT("CapInh", 0);
	EXPECT("CapAmb", 0);
	EXPECT("CapBnd", caps);
	EXPECT("NoNewPrivs", 1);
	if (getuid() != uid || geteuid() != uid) {
		printf("    uid %u, want %u\n", (unsigned)getuid(), uid);
		bad = 1;
	}
	return bad;
}

/* Wait for the test child pid; it passed if it exited 0. */
static void report_child(pid_t pid)
{
	int st = 0;

	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		printf("Success.\n");
		passed++;
	} else {
		printf("FAILURE.\n");
		failed++;
	}
}

static void run(const char *name, struct privileges_want want, uint64_t caps, unsigned uid)
{
	pid_t pid;

	printf("Testing %s ...\n", name);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int rc = child(&want, caps, uid);

		fflush(stdout);
		_exit(rc);
	}
	report_child(pid);
}

#define BIT(c) (1ull << (c))

int main(void)
{
	struct privileges_report rep;
	struct privileges_want bad = {.runas_user = "no-such-user-halfopen"};
	pid_t pid;

	if (geteuid() != 0)
		SKIP_MAIN("needs root (capability sets, setuid)");
	run("host_only_none", (struct privileges_want){0}, 0, 0);
	run("other_netns", (struct privileges_want){.other_netns = true},
	    BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_PTRACE), 0);
	run("remediation", (struct privileges_want){.remediation = true}, BIT(CAP_NET_ADMIN), 0);
	run("all_modes", (struct privileges_want){.other_netns = true, .remediation = true},
	    BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_PTRACE) | BIT(CAP_NET_ADMIN), 0);
	run("runas_nobody", (struct privileges_want){.runas_user = "nobody"}, 0, 65534);
	run("runas_uid_keeps_caps",
	    (struct privileges_want){.runas_user = "4242", .other_netns = true},
	    BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_PTRACE), 4242);

	printf("Testing unknown_user ...\n");
	pid = fork();
	if (pid == 0)
		_exit(privileges_drop(&bad, &rep) == -ENOENT && strstr(rep.msg, "unknown user")
			  ? 0
			  : 1);
	report_child(pid);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
