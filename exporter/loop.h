/* loop: the collector loop's decisions, without clocks, signals or I/O
 * (the daemon brings those): when to collect and when to reload, and
 * what a collection's outcome does to the self metrics and to the log.
 * Times are monotonic milliseconds given by the caller. */
#ifndef HALFOPEN_LOOP_H
#define HALFOPEN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "exporter/metrics/exposition.h"

/* Reloads run at most this often, however many SIGHUPs arrive. */
#define LOOP_RELOAD_MIN_GAP_MS 100u

struct loop_schedule {
	uint32_t interval_ms;
	uint64_t next_collection; /* the next slot of the fixed cadence */
	uint64_t reload_at;	  /* when the pending reload may run */
	uint64_t last_reload;	  /* when the last reload ended */
	bool reload_pending;
	bool reloaded; /* last_reload is set */
};

/* The first collection is due at now. */
void loop_schedule_init(struct loop_schedule *s, uint32_t interval_ms, uint64_t now);
/* When the loop must wake: the next collection or the pending reload. */
uint64_t loop_schedule_deadline(const struct loop_schedule *s);
/* A SIGHUP: SIGHUPs coalesce into one pending reload, run no sooner than
 * LOOP_RELOAD_MIN_GAP_MS after the previous one ended. */
void loop_schedule_sighup(struct loop_schedule *s, uint64_t now);
/* Whether the pending reload is due at now; true clears it (the caller
 * reloads, then calls loop_schedule_reloaded()). */
bool loop_schedule_take_reload(struct loop_schedule *s, uint64_t now);
void loop_schedule_reloaded(struct loop_schedule *s, uint64_t now);
/* Whether a collection is due at now (whatever woke the loop: a storm of
 * signals never starves collection). */
bool loop_schedule_collection_due(const struct loop_schedule *s, uint64_t now);
/* After a collection that ended at now: the next slot of the fixed
 * cadence; an overrun skips the missed slots rather than collecting back
 * to back. */
void loop_schedule_collected(struct loop_schedule *s, uint64_t now);

/* What the log should say after an event: each kind once per streak (a
 * broken netlink must not flood the log at every interval). Bits. */
enum loop_say {
	LOOP_SAY_FAILED = 1u << 0,    /* the first failed collection of a streak */
	LOOP_SAY_RECOVERED = 1u << 1, /* a good one after a streak (streak_ended) */
	LOOP_SAY_OVERRUN = 1u << 2,   /* the first of a run of overruns */
	LOOP_SAY_NS_FAILED = 1u << 3, /* namespace discovery failed, first of a streak */
	LOOP_SAY_NS_DENIED = 1u << 4, /* some namespaces cannot be entered (once) */
};

struct loop_streaks {
	unsigned failures; /* failed collections in a row */
	unsigned overruns; /* collections longer than half the interval, in a row */
	unsigned ns_failures;
	bool ns_denied_said;
	unsigned streak_ended; /* after LOOP_SAY_RECOVERED: how many had failed */
};

struct collection_outcome {
	int err;		 /* 0, or the collection's -errno */
	double duration_seconds; /* of a good one */
	double unix_time;	 /* when a good one ended */
	uint64_t sockets;	 /* seen by a good one */
	uint64_t dump_retries;	 /* of a good one */
};

/* Account one collection into the self metrics; returns what to log
 * (enum loop_say bits). A failed collection keeps the last good figures
 * (the last good counts stay served). */
unsigned loop_account_collection(struct loop_streaks *k, struct exporter_stats *st,
				 uint32_t interval_ms, const struct collection_outcome *o);

/* Account one namespace refresh (err: its -errno; denied/open_failed:
 * namespaces skipped for want of a capability). Enum loop_say bits. */
unsigned loop_account_refresh(struct loop_streaks *k, int err, uint64_t denied,
			      uint64_t open_failed);

/* Account a reload attempt ending at unix_time. */
void loop_account_reload(struct exporter_stats *st, int err, double unix_time);

/* When enforce's passes run. A pass walks every socket of every watched
 * namespace, about what the collection's dump costs, yet in a steady state
 * it finds nothing to do: every socket it could set is one it has seen.
 * So after a whole good collection whose enforcing services' ESTABLISHED
 * sockets are the ones the last pass saw (the collection's
 * enforce_fingerprint), the pass is skipped, up to max_gap_ms after the
 * last one (which also bounds how late an application's revert or a
 * failed set is seen). max_gap_ms 0: a pass after every collection. */
struct loop_enforce {
	uint64_t max_gap_ms;
	uint64_t fingerprint; /* of the collection before the last pass */
	uint64_t last_pass;   /* when it ran */
	bool valid;	      /* a pass ran since the start or the last reload */
};
void loop_enforce_init(struct loop_enforce *e, uint64_t max_gap_ms);
/* Whether a pass is due after a collection ending at now; whole: the
 * collection was good and read every namespace. True records the pass. */
bool loop_enforce_pass_due(struct loop_enforce *e, bool whole, uint64_t fingerprint, uint64_t now);
/* A reload may have changed what enforce does: the next pass runs. */
void loop_enforce_reset(struct loop_enforce *e);

#endif
