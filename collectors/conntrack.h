/* conntrack: what the node's connection tracking forgot.
 *
 * With --collector.conntrack, each collection first dumps the conntrack
 * table (ctnetlink: NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET with
 * NLM_F_DUMP) of every namespace the exporter watches, and keeps the
 * flows that would break if their entry went away ("guarded" flows):
 *   - NATed ones (IPS_SRC_NAT / IPS_DST_NAT, or a reply tuple that is not
 *     the original one swapped): without the entry the other side's
 *     segments are no longer translated back, whatever the namespace's
 *     rules;
 *   - every TCP flow of a namespace with strict TCP tracking
 *     (nf_conntrack_tcp_loose = 0): there a mid-stream segment of a
 *     forgotten flow cannot re-create its entry, it is INVALID, and a
 *     stateful firewall drops it. (The exporter does not read the rule
 *     set; with loose tracking, the default, a forgotten un-NATed flow
 *     is picked up again by its next segment and nothing breaks.)
 * A flow is kept as one 64-bit hash of its endpoints in either order, so
 * a socket finds it from either end and whichever table holds it: a pod's
 * SNAT and kube-proxy's DNAT live in the host's table, not the pod's.
 *
 * Then, while the sockets are counted, each ESTABLISHED socket is looked
 * up (conntrack_observe): a socket whose flow was guarded is remembered
 * by its cookie; a remembered socket whose flow is no longer in any table
 * is "forgotten" - still ESTABLISHED on this end, but its next segment
 * will be dropped or never reach the peer. Nothing is judged in a
 * collection where a table could not be read completely.
 *
 * Why plain netlink (libnl-3 core, as sock_diag) rather than
 * libnetfilter_conntrack or libnl-nf-3: one library less, and the dump is
 * parsed in place into the caller's fixed buffer with no per-entry
 * allocation (libnl-nf builds an object per entry, as libnl-idiag did
 * for sockets, which was rejected for being slow). */
#ifndef HALFOPEN_CONNTRACK_H
#define HALFOPEN_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sock_record.h"

struct nlmsghdr;
struct netns_registry;

/* One direction of a flow, host order ports; IPv4 in the first 4 bytes. */
struct ct_tuple {
	uint8_t family; /* AF_INET or AF_INET6; 0 when absent */
	uint8_t proto;	/* IPPROTO_TCP, ... */
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

/* One entry of a ctnetlink dump. */
struct ct_flow {
	struct ct_tuple orig, reply;
	uint32_t status; /* IPS_* bits */
	uint16_t zone;
};

/* Per-namespace counters of IPCTNL_MSG_CT_GET_STATS_CPU, summed over the
 * CPUs. */
struct ct_cpu_stats {
	uint64_t found, invalid, insert, insert_failed, drop, early_drop, error, search_restart,
	    clash_resolve, chaintoolong;
};

/* Decode one IPCTNL_MSG_CT_NEW message of a dump. 0, -ENOMSG for a
 * message of another type, -EBADMSG when truncated or malformed. Pure. */
int conntrack_parse_flow(const struct nlmsghdr *nlh, struct ct_flow *out);
/* Add one IPCTNL_MSG_CT_GET_STATS_CPU message (one CPU) to *sum. 0,
 * -ENOMSG, -EBADMSG. Pure. */
int conntrack_parse_cpu_stats(const struct nlmsghdr *nlh, struct ct_cpu_stats *sum);
/* Whether the flow is NATed: a NAT status bit, or a reply tuple that is
 * not the original swapped. */
bool conntrack_flow_nat(const struct ct_flow *f);
/* The flow key of endpoints (a, b) in either order: the same for the
 * original tuple, the reply tuple when not NATed, and a socket of either
 * end. IPv4-mapped IPv6 addresses count as IPv4 (conntrack tracks such a
 * socket's packets as IPv4). */
uint64_t conntrack_key(uint8_t family, const uint8_t *a, uint16_t aport, const uint8_t *b,
		       uint16_t bport);
uint64_t conntrack_tuple_key(const struct ct_tuple *t);
uint64_t conntrack_socket_key(const struct sock_record *rec);

/* What one namespace's table said in the last collection. */
struct conntrack_ns {
	char label[336];
	/* fits a netns_dir name or a pod's namespace/name */ /* "host", the netns_dir name,
								 "pod:<ns>/<name>" or "ino:<n>"
							       */
	bool tracking;			/* conntrack is active there (its sysctls exist) */
	bool strict;			/* nf_conntrack_tcp_loose = 0 */
	bool filtered;			/* the kernel filtered the dump (CTA_FILTER / CTA_STATUS) */
	int error;			/* 0, or the -errno that left the table unread */
	uint64_t count;			/* nf_conntrack_count */
	uint64_t max;			/* nf_conntrack_max */
	uint64_t timeout_established_s; /* nf_conntrack_tcp_timeout_established */
	uint64_t dumped;		/* entries received */
	uint64_t guarded;		/* of them, guarded TCP flows kept */
	struct ct_cpu_stats stats;
};

/* Totals of the last collection. */
struct conntrack_summary {
	uint64_t flows;		  /* guarded flows kept (all tables) */
	uint64_t watched;	  /* ESTABLISHED sockets remembered as guarded */
	uint64_t forgotten;	  /* of them, forgotten */
	uint64_t flows_dropped;	  /* guarded flows over the bound, not kept */
	uint64_t sockets_dropped; /* sockets over the bound, not remembered */
	bool judged;		  /* every table was read: forgotten sockets were counted */
	uint64_t bytes;		  /* memory of the tables */
	double dump_seconds;	  /* the dumps of all tables */
};

struct conntrack;

/* 0 or -ENOMEM. */
int conntrack_new(struct conntrack **out);
/* Accepts NULL. */
void conntrack_free(struct conntrack *ct);

/* Start a collection: dump the table of every namespace of reg (entering
 * each through netns_registry_run_in()). A namespace whose table cannot
 * be read is recorded (its conntrack_ns.error) and makes the collection
 * unjudged; only -ENOTRECOVERABLE (the thread could not return home) is
 * returned. Then conntrack_observe() for the sockets of the collection. */
int conntrack_collect(struct conntrack *ct, struct netns_registry *reg);
/* Dump the table of the caller's current namespace into ct under label
 * (for tests and single-namespace use): conntrack_collect() does this per
 * namespace, after conntrack_begin(). */
void conntrack_begin(struct conntrack *ct);
int conntrack_collect_here(struct conntrack *ct, const char *label);

/* Keep flow f of a table (strict: its namespace tracks TCP strictly)
 * when it is guarded. 1 kept, 0 not guarded, -ENOMEM. Over the bound the
 * flow is counted as dropped and the collection is not judged. The dumps
 * call it per entry; exposed for tests. */
int conntrack_keep_flow(struct conntrack *ct, const struct ct_flow *f, bool strict);

/* A socket of the running collection: true when it is ESTABLISHED, was
 * seen with a guarded flow, and no table holds that flow any more.
 * Idempotent within a collection (a redone socket dump observes a
 * socket twice). */
bool conntrack_observe(struct conntrack *ct, const struct sock_record *rec);

/* collect_options.extra_classes over ct: SC_CONNTRACK_FORGOTTEN when
 * conntrack_observe() says so. */
unsigned conntrack_classes(void *ct, const struct sock_record *rec);

size_t conntrack_ns_count(const struct conntrack *ct);
const struct conntrack_ns *conntrack_ns_get(const struct conntrack *ct, size_t i);
void conntrack_get_summary(const struct conntrack *ct, struct conntrack_summary *out);

#endif
