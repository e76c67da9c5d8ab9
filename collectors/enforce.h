/* enforce: the retrofit of TCP keepalive and TCP_USER_TIMEOUT onto the
 * live ESTABLISHED sockets of services with an `enforce` block, by a BPF
 * TCP iterator (collectors/bpf/enforce.bpf.c) that calls bpf_setsockopt()
 * on each socket it visits. See docs/remediation.md.
 *
 * Lifecycle: enforce_open() loads the program (needs CAP_BPF and
 * CAP_PERFMON, before privileges are dropped); enforce_configure() puts a
 * config in force (maps only: no privilege); enforce_attach_connect()
 * makes new connections get it as they are established (needs
 * CAP_NET_ADMIN too, at start); enforce_pass() walks the
 * sockets of the network namespace the calling thread is in (an iterator
 * sees only that one); enforce_end_collection() folds the passes of one
 * collection into the totals the exporter renders
 * (exporter/metrics/metrics_enforce.c) through enforce_service_get() and
 * enforce_pass_stats_get().
 *
 * Built without the meson feature `bpf`, enforce_open() fails with
 * -EOPNOTSUPP and every other call is a no-op. Nothing here prints. */
#ifndef HALFOPEN_ENFORCE_H
#define HALFOPEN_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct enforce;

/* One service's counts: per collection (sum over namespaces) or totals. */
struct enforce_counts {
	uint64_t matched;	/* ESTABLISHED sockets of the service visited */
	uint64_t set[2];	/* [0] keepalive, [1] user_timeout: given (or would be) */
	uint64_t chosen[2];	/* their own choice, kept: keepalive on with an idle the
				   application set; a user timeout (enforce.bpf.c) */
	uint64_t reverted[2];	/* we set it, the application cleared it again */
	uint64_t errors[2];	/* bpf_{get,set}sockopt failed */
	uint64_t at_connect[2]; /* of set: given as the connection was established */
};

#define ENFORCE_OPT_KEEPALIVE	 0
#define ENFORCE_OPT_USER_TIMEOUT 1

/* How the program reads what an application chose (enforce.bpf.c):
 * CO-RE field reads (any kernel with the iterator's bpf_setsockopt,
 * >= 5.15) or bpf_getsockopt (>= 6.1; cannot tell a keepalive idle the
 * application set from the sysctl's). AUTO: fields where the kernel
 * takes them, else getsockopt. */
enum enforce_read_path {
	ENFORCE_READ_AUTO,
	ENFORCE_READ_FIELDS,
	ENFORCE_READ_GETSOCKOPT,
};
/* "auto", "fields", "getsockopt". */
const char *enforce_read_path_name(enum enforce_read_path p);
/* 0, or -EINVAL when s names no read path. */
int enforce_read_path_parse(const char *s, enum enforce_read_path *out);

/* Whether any service of cfg has an enforce block. */
bool config_wants_enforce(const struct config *cfg);

/* Load and verify the program of the read path want (AUTO: probe fields,
 * then getsockopt), and self-test it on two loopback connections it makes
 * in the calling thread's namespace (a real pass on those two only). 0,
 * or a negative errno with why filled for the operator (-EOPNOTSUPP:
 * built without BPF, or a kernel whose BPF cannot do the read path;
 * -EPERM: missing CAP_BPF/CAP_PERFMON; others: kernel refused, e.g. no
 * BTF or < 5.15). */
int enforce_open(struct enforce **out, enum enforce_read_path want, char *why, size_t why_len);
/* Contract: attach the connection-time program (enforce.bpf.c's
 * enforce_connect_*, of the read path loaded) to the cgroup v2 directory
 * cgroup_dir, so each connection of its processes (and of their
 * descendants' cgroups) gets enforce as it becomes ESTABLISHED, in the
 * network namespace netns_ino only (0: every one), and prove it on a
 * loopback connection of this process. Call after enforce_configure();
 * the link lives until enforce_free(). 0, or a negative errno with why
 * filled (-EPERM: loading a sock_ops program needs CAP_NET_ADMIN or
 * CAP_SYS_ADMIN; -ENOENT: no such directory; -EOPNOTSUPP: this kernel's
 * BPF refused the program, or the process is not in that cgroup's
 * subtree); enforce keeps working by passes either way. */
int enforce_attach_connect(struct enforce *e, const char *cgroup_dir, uint32_t netns_ino, char *why,
			   size_t why_len);
/* Fold what the connection-time program did since the last call into
 * the totals (and each service's connect_last, for the log). NULL ok. */
void enforce_fold_connect(struct enforce *e);
/* Put cfg's enforce blocks in force. dry_run: count what would be set,
 * set nothing. Totals of services that keep their name and direction
 * survive; cfg need not outlive the call. 0 or -ENOMEM/-errno. */
int enforce_configure(struct enforce *e, const struct config *cfg, bool dry_run);
/* One pass over the calling thread's network namespace. 0 or -errno of
 * creating or reading the iterator (the caller counts it with
 * enforce_pass_failed()). */
int enforce_pass(struct enforce *e);
/* A pass failed in some namespace: counted for the errors metric. */
void enforce_pass_failed(struct enforce *e);
/* A collection's passes were skipped (nothing new to enforce on): the
 * last passes' figures stay. NULL ok. */
void enforce_passes_skipped(struct enforce *e);
/* Fold the counts of the passes since the last call into the totals. */
void enforce_end_collection(struct enforce *e);
size_t enforce_service_count(const struct enforce *e);
/* Service i (< count) of the config in force, when it enforces an
 * option: name, direction, the options, and its counts (the last
 * collection's and the totals; valid until the next configure). false
 * otherwise. */
struct enforce_service_info {
	const char *name;
	enum direction direction;
	bool keepalive, user_timeout; /* the options it enforces */
	const struct enforce_counts *last, *total;
	uint64_t connect_last[2]; /* given at connect by the last enforce_fold_connect() */
};
bool enforce_service_get(const struct enforce *e, size_t i, struct enforce_service_info *out);
/* The passes' own figures. e must not be NULL. */
struct enforce_pass_stats {
	bool dry_run;
	uint64_t passes, pass_errors;
	double last_pass_seconds;	  /* the slowest pass of the last collection */
	uint64_t pass_cpu_ns;		  /* CPU the passes cost their threads, in all */
	uint64_t skipped;		  /* collections whose passes were skipped */
	enum enforce_read_path read_path; /* the one loaded: FIELDS or GETSOCKOPT */
	bool on_connect;		  /* the connection-time program is attached */
};
void enforce_pass_stats_get(const struct enforce *e, struct enforce_pass_stats *out);
/* The name of the read path loaded ("fields", "getsockopt"). e not NULL. */
const char *enforce_loaded_read_path(const struct enforce *e);
/* Accepts NULL. Detaches the program. */
void enforce_free(struct enforce *e);

#endif
