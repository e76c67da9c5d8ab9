#include "enforce_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "collectors/enforce.h"
#include "collectors/netns.h"
#include "exporter/log.h"

static int pass_fn(void *arg)
{
	return enforce_pass(arg);
}

/* What the passes of one collection did, in the log: dry-run findings
 * and what was set at INFO, reverts (once per socket by construction) at
 * WARN, socket errors once per process (the metric keeps counting). */
static void log_passes(const struct enforce *e, bool dry_run, bool *errors_logged)
{
	static const char *const opt[2] = {"keepalive", "user_timeout"};
	struct enforce_service_info si;

	for (size_t i = 0; i < enforce_service_count(e); i++) {
		if (!enforce_service_get(e, i, &si))
			continue;
		for (int o = 0; o < 2; o++) {
			const struct {
				uint64_t n;
				enum log_level level;
				const char *msg;
			} ev[] = {
			    {si.last->set[o], LOG_LEVEL_INFO,
			     dry_run ? "Would enforce on sockets without it (dry run)"
				     : "Enforced on sockets without it"},
			    {si.last->reverted[o], LOG_LEVEL_WARN,
			     "An application turned off what enforce had set; left as it wants, "
			     "not "
			     "set again"},
			    {*errors_logged ? 0 : si.last->errors[o], LOG_LEVEL_WARN,
			     "Enforce failed on some sockets (counted in "
			     "halfopen_enforce_errors_total; logged once)"},
			};

			for (size_t k = 0; k < sizeof(ev) / sizeof(ev[0]); k++) {
				char n[24];

				if (!ev[k].n)
					continue;
				snprintf(n, sizeof(n), "%" PRIu64, ev[k].n);
				log_kv(ev[k].level, ev[k].msg, "service", si.name, "direction",
				       direction_name(si.direction), "option", opt[o], "sockets", n,
				       NULL);
				*errors_logged |= k == 2;
			}
		}
	}
}

int enforce_run_passes(struct enforce *e, const struct config *cfg, struct netns_registry *nsreg,
		       bool dry_run, bool *errors_logged)
{
	if (!e || !config_wants_enforce(cfg))
		return 0;
	for (size_t i = 0; i < netns_registry_count(nsreg); i++) {
		int r = netns_registry_run_in(nsreg, i, pass_fn, e);

		if (r == -ENOTRECOVERABLE)
			return r; /* nothing more may run on this thread */
		if (r < 0 && r != -ENOENT)
			enforce_pass_failed(e);
	}
	enforce_end_collection(e);
	log_passes(e, dry_run, errors_logged);
	return 0;
}

#define CGROUP2_MAGIC 0x63677270 /* linux/magic.h's CGROUP2_SUPER_MAGIC */

int enforce_cgroup_auto(const char *sysfs, char *out, size_t len)
{
	static const char *const under[] = {"/fs/cgroup", "/fs/cgroup/unified"};

	for (size_t i = 0; i < sizeof(under) / sizeof(under[0]); i++) {
		struct statfs sf;
		int n = snprintf(out, len, "%s%s", sysfs, under[i]);

		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		if (statfs(out, &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
			return 0;
	}
	return -ENOENT;
}

enum enforce_on_connect enforce_run_attach_connect(struct enforce *e, const char *cgroup,
						   const char *sysfs, bool all_netns)
{
	static const char *const no =
	    "New connections get enforce at the next pass, not as they are "
	    "established";
	char dir[4096], why[400];
	struct stat st;
	uint32_t ino = 0;
	bool root;
	int r;

	if (!e)
		return ENFORCE_ON_CONNECT_NONE;
	if (strcmp(cgroup, "none") == 0) {
		log_kv(LOG_LEVEL_INFO,
		       "New connections get enforce at the next pass (--enforce.cgroup=none)",
		       NULL);
		return ENFORCE_ON_CONNECT_NONE;
	}
	if (strcmp(cgroup, "auto") != 0) {
		snprintf(dir, sizeof(dir), "%s", cgroup);
	} else if (enforce_cgroup_auto(sysfs, dir, sizeof(dir)) < 0) {
		log_kv(LOG_LEVEL_WARN, no, "err",
		       "no cgroup v2 hierarchy at {path.sysfs}/fs/cgroup or its unified/", "sysfs",
		       sysfs, NULL);
		return ENFORCE_ON_CONNECT_NONE;
	}
	/* This thread's namespace, which the collector calls home. */
	if (!all_netns) {
		if (stat("/proc/thread-self/ns/net", &st) < 0) {
			log_kv(LOG_LEVEL_WARN, no, "err",
			       "cannot tell this process's network namespace", NULL);
			return ENFORCE_ON_CONNECT_NONE;
		}
		ino = (uint32_t)st.st_ino;
	}
	r = enforce_attach_connect(e, dir, ino, why, sizeof(why));
	if (r < 0) {
		log_kv(LOG_LEVEL_WARN, no, "err", why, NULL);
		return ENFORCE_ON_CONNECT_NONE;
	}
	/* A cgroup v2 hierarchy's root directory is inode 1; a container's
	 * cgroup namespace shows it only its own subtree. */
	root = stat(dir, &st) == 0 && st.st_ino == 1;
	log_kv(LOG_LEVEL_INFO, "Enforce on new connections as they are established", "cgroup", dir,
	       "netns", all_netns ? "all" : "host", "processes",
	       root ? "all" : "this cgroup's only: passes still look for other new connections",
	       NULL);
	return root ? ENFORCE_ON_CONNECT_ALL : ENFORCE_ON_CONNECT_SUBTREE;
}

void enforce_run_fold_connect(struct enforce *e, bool dry_run)
{
	static const char *const opt[2] = {"keepalive", "user_timeout"};
	struct enforce_service_info si;

	if (!e)
		return;
	enforce_fold_connect(e);
	for (size_t i = 0; i < enforce_service_count(e); i++) {
		if (!enforce_service_get(e, i, &si))
			continue;
		for (int o = 0; o < 2; o++) {
			char n[24];

			if (!si.connect_last[o])
				continue;
			snprintf(n, sizeof(n), "%" PRIu64, si.connect_last[o]);
			log_kv(LOG_LEVEL_INFO,
			       dry_run ? "Would enforce on new connections (dry run)"
				       : "Enforced on new connections as they were established",
			       "service", si.name, "direction", direction_name(si.direction),
			       "option", opt[o], "sockets", n, NULL);
		}
	}
}
