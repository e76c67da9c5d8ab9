/* suspects: the sockets under suspicion, followed across collections.
 *
 * The gauges say what is wrong at collection time; this module remembers,
 * per socket, since when. It keys every suspect socket (retransmitting,
 * keepalive probing, zero window, stale, CLOSE_WAIT) by the kernel's
 * socket cookie, which is unique host-wide and never reused while the
 * socket lives, and turns what changes between two collections into
 * events: a condition that newly appears (transition), a suspect that
 * disappeared (closed: killed by keepalive or by retries running out,
 * aborted, or closed by the application), a condition that cleared while
 * the socket lives on (recovered), and how long the socket stayed a
 * suspect (a histogram).
 *
 * Pure: no I/O, no clock, no locks. The collector thread drives it:
 *
 *     suspects_begin(t, now_ms);
 *     collector_*() with hooks { suspects_observe, t };
 *     suspects_ns_incomplete(t, ns) for each namespace whose dump failed;
 *     suspects_end(t, collection_ok, &res);
 *     suspects_remediate(t, now_ms, dry_run, &ops);   (optional)
 *     suspects_snapshot(t, max, &snap);
 *
 * Its counters are read through suspects_series_get(); the exporter
 * renders them (exporter/metrics/metrics_suspects.c).
 *
 * Memory is bounded by the number of suspects, not of sockets: a healthy
 * socket costs one hash probe per collection and nothing kept. A hard cap
 * (max_suspects) bounds it absolutely; suspects over it are not tracked
 * and are counted in halfopen_suspects_dropped_total. */
#ifndef HALFOPEN_SUSPECTS_H
#define HALFOPEN_SUSPECTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counts.h"
#include "classify.h"
#include "sock_record.h"

struct sockdestroy_target;

/* The SUSPECT classes of sock_classes.h, valued by their rank: in order
 * of severity, worst first (the page sorts by it). */
#define SUSPECT_CONDITION_X(id, field, rank, help) SUSPECT_##id = rank,
#define SUSPECT_CONDITION_ONE(id, field, rank, help) +1
enum suspect_condition {
	SOCK_CLASSES(SOCK_CLASS_NONE, SUSPECT_CONDITION_X)
	SUSPECT_NCOND = 0 SOCK_CLASSES(SOCK_CLASS_NONE, SUSPECT_CONDITION_ONE),
};
#undef SUSPECT_CONDITION_X
#undef SUSPECT_CONDITION_ONE

#define SUSPECTS_DEFAULT_MAX	    10000
#define SUSPECTS_DEFAULT_MAX_SERIES 2048 /* (service, direction) pairs with counters */
/* Upper bounds of the duration histogram, seconds (+Inf is implied). */
#define SUSPECT_DURATION_BUCKETS 10
extern const uint32_t suspect_duration_buckets_s[SUSPECT_DURATION_BUCKETS];

struct suspects_options {
	size_t max_suspects; /* 0: SUSPECTS_DEFAULT_MAX */
	size_t max_series;   /* 0: SUSPECTS_DEFAULT_MAX_SERIES */
};

/* One suspect as the page and the remediation see it. The strings belong
 * to the tracker (valid during a callback) or to a snapshot. */
struct suspect_info {
	uint64_t cookie;
	uint32_t ns_index;
	uint8_t family;	       /* AF_INET or AF_INET6 */
	uint8_t state;	       /* enum tcp_state */
	uint8_t timer;	       /* enum diag_timer */
	uint8_t retrans;       /* idiag_retrans: unanswered retransmits or probes */
	uint8_t backoff;       /* tcpi_backoff */
	bool has_info;	       /* the kernel sent tcp_info (ages and counters below) */
	bool keepalive;	       /* ESTABLISHED with the keepalive timer pending */
	bool current;	       /* seen by the last collection (false: its namespace failed) */
	bool remediated;       /* remediation acted (or pretended to) on it */
	uint16_t sport, dport; /* host order */
	uint8_t saddr[16], daddr[16]; /* network order; IPv4 in the first 4 bytes */
	uint32_t unacked;	      /* tcpi_unacked */
	uint32_t total_retrans;	      /* tcpi_total_retrans */
	uint32_t rqueue, wqueue;
	uint32_t idle_ms;		  /* classification: since anything was received */
	uint32_t unanswered_ms;		  /* classification: since the peer last ACKed (0 unless
					     retransmitting or keepalive probing) */
	/* classification: since anything was sent or received; the keepalive
	 * idle time inferred from the timer (0: unknown); when the keepalive
	 * timer runs next (0 unless keepalive is on). */
	uint32_t silent_ms, keepalive_idle_ms, keepalive_due_ms;
	unsigned flags;			  /* enum sock_class bits of the last observation */
	unsigned conditions;		  /* 1u << enum suspect_condition, active now */
	uint64_t suspect_since_ms;	  /* collection time it became a suspect */
	uint64_t since_ms[SUSPECT_NCOND]; /* per active condition: first seen */
	uint64_t seen_ms;		  /* collection time of the last observation */
	uint32_t service_id; /* as of the last collection that saw it */
	const char *service;
	enum direction direction;
	const char *pod_namespace; /* "" when unknown */
	const char *pod;	   /* "" when unknown */
};

struct suspects;

/* "retransmitting", "keepalive_probing", "zero_window", "stale",
 * "close_wait"; NULL out of range. */
const char *suspect_condition_name(enum suspect_condition c);
/* The suspect conditions (1u << enum suspect_condition) in SC_* flags. */
unsigned suspect_conditions_of(unsigned sc_flags);

/* opt may be NULL. 0 or -ENOMEM. */
int suspects_new(const struct suspects_options *opt, struct suspects **out);
/* Accepts NULL. */
void suspects_free(struct suspects *t);

/* Start a collection taken at now_ms (monotonic; never decreasing). */
void suspects_begin(struct suspects *t, uint64_t now_ms);
/* The collect_hooks.on_socket of the collector: ctx is the tracker.
 * Idempotent within a collection (the last observation of a cookie wins),
 * so a redone dump counts nothing twice. Never fails: what cannot be
 * tracked (cap, memory) is counted as dropped. */
void suspects_observe(void *ctx, const struct sock_record *rec, const struct classification *cls,
		      const struct service_result *svc, uint32_t ns_index);
/* The dump of namespace ns_index failed in this collection: its suspects
 * that were not seen are kept as they were, not closed. */
void suspects_ns_incomplete(struct suspects *t, uint32_t ns_index);
/* End the collection: count transitions and recoveries; suspects not
 * seen are closed, unless complete is false (then every unseen suspect is
 * kept), their namespace was marked incomplete, or res is given and no
 * longer has their (service, direction) (a reload dropped the service: the
 * socket may live on unclaimed; it is forgotten, not counted). res may be
 * NULL. */
void suspects_end(struct suspects *t, bool complete, const struct collection_result *res);

size_t suspects_count(const struct suspects *t);
/* Bytes the tracker holds now (structures and strings, not allocator
 * overhead). */
size_t suspects_memory_bytes(const struct suspects *t);

/* The remediation policy. True when s was seen by the last collection and
 * has been retransmitting or keepalive probing, continuously and without
 * an answer, for at least destroy_after_ms: both the kernel's age (since
 * the peer last ACKed) and our own observation of the condition (since
 * the first collection that saw it, less 100 ms for the lateness of a
 * collection's start) must be that old, so one lost segment after a long
 * quiet spell is not mistaken for a dead peer. destroy_after_ms == 0: the service did not opt in,
 * never. Sockets without tcp_info never qualify. */
bool suspect_remediation_due(const struct suspect_info *s, uint32_t destroy_after_ms,
			     uint64_t now_ms);
/* The exact kernel identity of s, for sockdestroy(). */
void suspect_destroy_target(const struct suspect_info *s, struct sockdestroy_target *out);

struct remediation_ops {
	/* The destroy_after in ms of the service with id service_id
	 * (service_entry.id, of the config the last collection used); 0 when
	 * it did not opt in (auto and unmatched services, SERVICE_ID_NONE,
	 * never do). Asked once per (service, direction) and pass. */
	uint32_t (*destroy_after_ms)(void *ctx, uint32_t service_id);
	/* Destroy s, or in a dry run only log it. 0 on success (dry run:
	 * always), -ENOENT when the socket was already gone, another -errno
	 * on failure. */
	int (*destroy)(void *ctx, const struct suspect_info *s, bool dry_run);
	void *ctx;
};

/* Run the policy over the suspects of the last collection and call
 * ops->destroy once for each that is due: at most once per socket,
 * whatever the result, so a failing destroy (no CAP_NET_ADMIN) or a dry
 * run does not repeat every interval. Counts the outcomes per service
 * (destroyed, dry run, error; an already gone socket counts in none).
 * Returns the number of sockets acted on. */
size_t suspects_remediate(struct suspects *t, uint64_t now_ms, bool dry_run,
			  const struct remediation_ops *ops);

/* What the tracker counts per (service, direction) series. Counters
 * never go backwards: a series, once created, stays until the process
 * exits. */
struct suspect_counters {
	uint64_t transitions[SUSPECT_NCOND];	    /* condition newly seen */
	uint64_t closed[SUSPECT_NCOND];		    /* suspect disappeared, per condition it had */
	uint64_t recovered[SUSPECT_NCOND];	    /* condition cleared, socket lives on */
	uint64_t buckets[SUSPECT_DURATION_BUCKETS]; /* per bucket, not cumulative */
	uint64_t duration_count;
	uint64_t duration_sum_ms;
	uint64_t destroyed, dry_run, destroy_errors; /* remediation outcomes */
};

struct suspect_series_info {
	const char *service;
	enum direction direction;
	bool opted_in; /* remediation ever found a destroy_after for it */
	const struct suspect_counters *counters;
};

/* Series that ever had a suspect, in creation order; valid until the
 * next suspects_observe(). i < suspects_series_count(t). */
size_t suspects_series_count(const struct suspects *t);
void suspects_series_get(const struct suspects *t, size_t i, struct suspect_series_info *out);
/* The hard cap on suspects (max_suspects as in force). */
size_t suspects_max(const struct suspects *t);
/* Observations not tracked (cap, memory), published at each end(). */
uint64_t suspects_dropped_total(const struct suspects *t);

/* An immutable, self-contained copy of the worst suspects, safe to hand
 * to another thread (the HTTP server) and to free after the tracker moved
 * on. Reference counted; the last suspect_snapshot_unref() frees it. */
struct suspect_snapshot {
	struct suspect_info *rows; /* worst first */
	size_t n_rows;
	size_t total;	  /* suspects tracked when it was taken */
	uint64_t dropped; /* halfopen_suspects_dropped_total then */
	uint64_t now_ms;  /* the collection time the ages refer to */
	double unix_time; /* set by the caller (0: unknown) */
	/* private */
	char *arena;
	atomic_uint refs;
};

/* Take up to max_rows suspects, worst first: longest unanswered, then the
 * most severe condition, then longest idle, then oldest suspect, then
 * cookie (a total order, so the page is stable). Refcount 1. 0 or
 * -ENOMEM. */
int suspects_snapshot(const struct suspects *t, size_t max_rows, struct suspect_snapshot **out);
/* Returns s. Thread-safe. */
struct suspect_snapshot *suspect_snapshot_ref(struct suspect_snapshot *s);
/* Accepts NULL. Thread-safe. */
void suspect_snapshot_unref(struct suspect_snapshot *s);

#endif
