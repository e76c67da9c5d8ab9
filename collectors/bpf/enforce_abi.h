/* enforce_abi: the maps shared by collectors/bpf/enforce.bpf.c and its
 * loader collectors/enforce.c. Plain fixed-width types only: this header
 * is compiled both for the host and with clang -target bpf. */
#ifndef HALFOPEN_ENFORCE_ABI_H
#define HALFOPEN_ENFORCE_ABI_H

#include "service_rule.h"

#define ENFORCE_MAX_SERVICES 256 /* CONFIG_MAX_SERVICES */
/* One more slot: the loader's self-test at start (a loopback connection). */
#define ENFORCE_SELFTEST_ID ENFORCE_MAX_SERVICES
#define ENFORCE_SLOTS	    (ENFORCE_MAX_SERVICES + 1)
#define ENFORCE_NO_SERVICE  SERVICE_RULE_NONE

/* policy[i].kind: what the first claimant i of a socket's port means. */
#define ENFORCE_KIND_NONE    0 /* the socket is i's, and i has no enforce: leave it */
#define ENFORCE_KIND_ENFORCE 1 /* the socket is i's, and i enforces */
#define ENFORCE_KIND_AMBIGUOUS                                                                     \
	2 /* i has cidrs: the kernel side does not match                                           \
	     them, so the socket is left alone */

struct enforce_policy {
	__u32 kind;
	__u32 keepalive; /* 1: give SO_KEEPALIVE to sockets without it */
	__u32 idle_s, interval_s, count;
	__u32 user_timeout_ms; /* 0: none */
	__u32 dry_run;	       /* count, set nothing */
};

/* stats[i], per service and pass: the loader zeroes and reads them. */
struct enforce_stats {
	__u64 matched;		   /* ESTABLISHED sockets of the service visited */
	__u64 keepalive_set;	   /* given keepalive (or would be, dry run) */
	__u64 user_timeout_set;	   /* given TCP_USER_TIMEOUT (or would be) */
	__u64 keepalive_chosen;	   /* had SO_KEEPALIVE already: kept its own */
	__u64 user_timeout_chosen; /* had a user timeout already */
	__u64 keepalive_reverted;  /* we set it, the application cleared it */
	__u64 user_timeout_reverted;
	__u64 keepalive_errors; /* bpf_{get,set}sockopt failed */
	__u64 user_timeout_errors;
};

/* done_flags, a socket's storage: what was done to it, so a socket is
 * handled once and a revert is reported once, never fought. */
#define ENFORCE_DONE_KEEPALIVE	      1u
#define ENFORCE_DONE_USER_TIMEOUT     2u
#define ENFORCE_DONE_DRY	      4u
#define ENFORCE_REVERTED_KEEPALIVE    8u
#define ENFORCE_REVERTED_USER_TIMEOUT 16u

#endif
