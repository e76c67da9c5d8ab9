/* privileges: keep only what the configured mode needs, once start-up has
 * opened what needed more.
 *
 *   host network namespace only      no capability at all
 *   other namespaces (netns=all)     CAP_SYS_ADMIN (setns) + CAP_SYS_PTRACE
 *                                    (/proc/<pid>/ns of other users' tasks)
 *   remediation (opt-in)             + CAP_NET_ADMIN (SOCK_DESTROY)
 *   --collector.conntrack (opt-in)   + CAP_NET_ADMIN (ctnetlink dumps)
 *
 * and optionally run as another user. Capabilities are per thread on
 * Linux: call this before any thread is created (the HTTP server calls its
 * after_bind hook at exactly that point). Library code: it reports, the
 * caller logs. */
#ifndef HALFOPEN_PRIVILEGES_H
#define HALFOPEN_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>

struct privileges_want {
	bool other_netns;	/* CAP_SYS_ADMIN + CAP_SYS_PTRACE */
	bool remediation;	/* CAP_NET_ADMIN */
	bool conntrack;		/* CAP_NET_ADMIN */
	const char *runas_user; /* NULL: keep the user; else a name or a numeric uid */
};

struct privileges_report {
	char user[64];	     /* "root (uid 0, gid 0)" */
	char caps[160];	     /* what is kept, libcap text ("=" means none) */
	char missing[160];   /* wanted but not held at start ("" when none) */
	bool bounding_clear; /* the bounding set was cut down to the kept set */
	bool no_new_privs;   /* PR_SET_NO_NEW_PRIVS is set */
	char msg[256];	     /* on failure: what failed */
};

/* Contract: switch to runas_user (when given: groups, gid, uid, keeping
 * the capabilities wanted across the switch), drop every capability not
 * wanted from the effective, permitted, inheritable and ambient sets, cut
 * the bounding set down to them where allowed (CAP_SETPCAP), and set
 * no_new_privs so no exec can regain any. A wanted capability that is not
 * held is reported in rep->missing, not an error: the mode then fails the
 * way it would have anyway, with its own message. 0, or -errno with
 * rep->msg (-ENOENT: unknown user; -EPERM: switching users needs
 * CAP_SETUID/CAP_SETGID). rep is always filled. */
int privileges_drop(const struct privileges_want *want, struct privileges_report *rep);

#endif
