#include "exporter/privileges.h"

#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static int fail(struct privileges_report *rep, int rc,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* Contract: the uid and gid of name (a user name, or digits for a uid
 * without a passwd entry, as containers often use; its gid is then the
 * same number). 0 or -ENOENT/-errno. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char tmp[4096], *end;
	unsigned long v;
	int rc;

	rc = getpwnam_r(name, &pw, tmp, sizeof(tmp), &res);
	if (rc == 0 && res) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && errno == 0 && v < 0xffffffffu) {
		*uid = (uid_t)v;
		*gid = (gid_t)v;
		return 0;
	}
	return rc ? -rc : -ENOENT;
}

/* Contract: switch every thread (glibc syncs set*id across threads) to
 * uid/gid with only gid as group, keeping the permitted set so the wanted
 * capabilities can be raised again afterwards. */
static int switch_user(uid_t uid, gid_t gid, struct privileges_report *rep)
{
	char eb[128];

	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return fail(rep, -errno, "prctl(PR_SET_KEEPCAPS): %s",
			    strerror_r(errno, eb, sizeof(eb)));
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return fail(rep, -errno, "switching to uid %u gid %u: %s", (unsigned)uid,
			    (unsigned)gid, strerror_r(errno, eb, sizeof(eb)));
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return fail(rep, -errno, "prctl(PR_SET_KEEPCAPS): %s",
			    strerror_r(errno, eb, sizeof(eb)));
	return 0;
}

static void cap_list_text(const cap_value_t *v, size_t n, char *out, size_t size)
{
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		char *name = cap_to_name(v[i]);
		int w = snprintf(out + off, size - off, "%s%s", off ? "," : "", name ? name : "?");

		cap_free(name);
		if (w < 0 || (size_t)w >= size - off)
			break;
		off += (size_t)w;
	}
}

int privileges_drop(const struct privileges_want *want, struct privileges_report *rep)
{
	cap_value_t keep[3], missing[3];
	size_t n_keep = 0, n_missing = 0, i;
	cap_t cur = NULL, next = NULL, now = NULL;
	cap_flag_value_t have;
	char eb[128], *text = NULL;
	uid_t uid;
	gid_t gid;
	int rc, c;

	memset(rep, 0, sizeof(*rep));
	if (!want)
		return fail(rep, -EINVAL, "invalid arguments");
	if (want->other_netns) {
		keep[n_keep++] = CAP_SYS_ADMIN;
		keep[n_keep++] = CAP_SYS_PTRACE;
	}
	/* SOCK_DESTROY and ctnetlink both need CAP_NET_ADMIN: kept once. */
	if (want->remediation || want->conntrack)
		keep[n_keep++] = CAP_NET_ADMIN;

	cur = cap_get_proc();
	if (!cur)
		return fail(rep, -errno, "cap_get_proc: %s", strerror_r(errno, eb, sizeof(eb)));
	for (i = 0; i < n_keep; i++)
		if (cap_get_flag(cur, keep[i], CAP_PERMITTED, &have) < 0 || have != CAP_SET)
			missing[n_missing++] = keep[i];
	cap_list_text(missing, n_missing, rep->missing, sizeof(rep->missing));
	/* Before anything changes: an unknown user leaves the process as it was. */
	if (want->runas_user) {
		rc = lookup_user(want->runas_user, &uid, &gid);
		if (rc) {
			rc = fail(rep, rc, "unknown user \"%s\"", want->runas_user);
			goto out;
		}
	}

	/* The bounding set limits what any later exec could gain; cutting it
	 * needs CAP_SETPCAP, so it goes before the user switch clears the effective
	 * set (the permitted set, so CAP_SETUID, is not affected by it). */
	rep->bounding_clear = true;
	for (c = 0; c <= (int)cap_max_bits() - 1; c++) {
		bool kept = false;

		for (i = 0; i < n_keep; i++)
			kept |= keep[i] == c;
		if (kept || cap_get_bound(c) != 1)
			continue;
		if (cap_drop_bound(c) < 0)
			rep->bounding_clear = false;
	}
	if (want->runas_user) {
		rc = switch_user(uid, gid, rep);
		if (rc)
			goto out;
	}

	/* Ambient capabilities would survive an exec; there is none to keep. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L);

	next = cap_init();
	if (!next) {
		rc = fail(rep, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n_keep; i++) {
		bool held = true;
		size_t j;

		for (j = 0; j < n_missing; j++)
			held &= missing[j] != keep[i];
		if (!held)
			continue;
		if (cap_set_flag(next, CAP_EFFECTIVE, 1, &keep[i], CAP_SET) < 0 ||
		    cap_set_flag(next, CAP_PERMITTED, 1, &keep[i], CAP_SET) < 0) {
			rc = fail(rep, -EINVAL, "cap_set_flag failed");
			goto out;
		}
	}
	/* Nothing to drop (a unit that grants exactly the mode's capabilities
	 * and no inheritable ones, or none at all): no capset(), which a
	 * seccomp filter such as systemd's ~@privileged may deny. */
	now = cap_get_proc(); /* the user switch has changed them */
	if (!now) {
		rc = fail(rep, -errno, "cap_get_proc: %s", strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	if (cap_compare(now, next) != 0 && cap_set_proc(next) < 0) {
		int err = errno;

		/* Dropping never asks for more than is permitted, so EPERM here
		 * is a seccomp filter, not a missing capability. */
		rc = fail(rep, -err, "capset() to drop capabilities: %s%s",
			  strerror_r(err, eb, sizeof(eb)),
			  err == EPERM ? " (denied by a seccomp filter? systemd: "
					 "SystemCallFilter=capset)"
				       : "");
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		rc = fail(rep, -errno, "prctl(PR_SET_NO_NEW_PRIVS): %s",
			  strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	rep->no_new_privs = true;
	text = cap_to_text(next, NULL);
	snprintf(rep->caps, sizeof(rep->caps), "%s", text ? text : "?");
	snprintf(rep->user, sizeof(rep->user), "uid %u gid %u", (unsigned)getuid(),
		 (unsigned)getgid());
	rc = 0;
out:
	if (text)
		cap_free(text);
	if (next)
		cap_free(next);
	if (now)
		cap_free(now);
	cap_free(cur);
	return rc;
}
