/* suspects_internal: the tracker's state, shared by its files and by
 * nothing else.
 *
 * Three small tables, all bounded by the number of suspects or of
 * services, never by the number of sockets.
 *
 *   suspects  dense array + open-addressing index by cookie. Entries are
 *             only appended during a collection; end() compacts the array
 *             and rebuilds the index, so there is no deletion in the hash.
 *   owners    (series, pod namespace, pod) a suspect belongs to, shared
 *             and reference counted, so a suspect carries a 4-byte index
 *             instead of ~380 bytes of names. Freed slots are reused.
 *   series    (service, direction) with the counters and the histogram.
 *             Counters must never go backwards, so a series, once created,
 *             stays until the process exits; max_series bounds it.
 *
 * Transitions are counted at end(), from the conditions of the previous
 * end() and of the last observation, not when a socket is observed: that
 * is what makes a redone dump harmless.
 *
 * suspects.c        the collection cycle: begin, observe, end; accessors
 * suspects_tables.c the three tables (find, create, rehash, sweep)
 * suspects_remediation.c  the destroy_after policy and its pass
 * suspects_snapshot.c     the worst suspects, copied for the page */
#ifndef HALFOPEN_SUSPECTS_INTERNAL_H
#define HALFOPEN_SUSPECTS_INTERNAL_H

#include "common/hash.h"
#include "common/oa_index.h"
#include "suspects.h"

#define NONE	     UINT32_MAX
#define MIN_CAPACITY 64

struct series {
	char name[SERVICE_NAME_MAX + 1];
	enum direction direction;
	bool opted_in;	   /* remediation ever found a destroy_after for it */
	uint32_t born_gen; /* collection that created it */
	uint32_t live_gen; /* last collection whose result had it */
	uint32_t service_id; /* service_result.service_id as of live_gen */
	uint32_t policy_pass;
	uint32_t destroy_after_ms; /* as of policy_pass */
	struct suspect_counters c; /* what is published */
	/* Transitions of the collection that created the series, published
	 * one collection late so the series is first scraped at 0 and
	 * increase() sees the first event too. */
	uint64_t pending[SUSPECT_NCOND];
};

struct owner {
	uint32_t series;
	uint32_t refs;	    /* suspects pointing here */
	uint32_t next_free; /* free-list link while unused */
	bool used;
	char *strings; /* "pod_namespace\0pod\0", NULL when both are empty */
	const char *pod_namespace;
	const char *pod;
};

struct suspect {
	uint64_t cookie;
	uint64_t suspect_since_ms;
	uint64_t since_ms[SUSPECT_NCOND];
	uint64_t seen_ms;
	uint32_t owner;
	uint32_t ns_index;
	uint32_t seen_gen;
	uint32_t idle_ms, unanswered_ms;
	uint32_t silent_ms, keepalive_idle_ms, keepalive_due_ms; /* classification's */
	uint32_t unacked, total_retrans, rqueue, wqueue;
	unsigned flags; /* SC_* of the last observation */
	uint16_t sport, dport;
	uint8_t saddr[16], daddr[16];
	uint8_t family, state, timer, retrans, backoff;
	uint8_t cur;  /* conditions of the last observation (valid when seen_gen == gen) */
	uint8_t prev; /* conditions as of the last end() */
	bool has_info;
	bool remediated;
};

struct suspects {
	size_t max_suspects, max_series;
	uint64_t now_ms;
	uint32_t gen;  /* collection number; 0 is never a collection */
	uint32_t pass; /* remediation pass number */

	struct suspect *v;
	size_t n, cap;
	struct oa_index index; /* of v, by cookie */

	struct owner *owners;
	size_t n_owners, cap_owners; /* slots ever used, allocated */
	size_t live_owners;
	uint32_t free_owner;
	size_t owner_bytes;	     /* strings */
	struct oa_index owner_index; /* of owners in use */

	struct series *series;
	size_t n_series, cap_series;
	struct oa_index series_index;

	uint32_t *incomplete;
	size_t n_incomplete, cap_incomplete;
	bool all_incomplete;

	uint64_t dropped_now;	/* this collection */
	uint64_t dropped_total; /* published at end() */
};

/* suspects_tables.c */

/* Grow an array of elem-byte entries to hold at least one more, doubling
 * from MIN_CAPACITY up to max. -E2BIG at max, -ENOMEM. */
int suspects_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t max);
/* The series of (name, dir), or SIZE_MAX. */
size_t suspects_find_series(const struct suspects *t, const char *name, enum direction dir);
/* The owner for svc, resolving (and creating) series and owner. */
int suspects_owner_of_service(struct suspects *t, const struct service_result *svc, uint32_t *out);
/* Free the owners no suspect points to any more. The owner index still
 * lists them: the caller rebuilds it (suspects_rehash_owners). */
void suspects_sweep_owners(struct suspects *t);
int suspects_rehash_owners(struct suspects *t, size_t live);
/* The position of cookie in t->v, or SIZE_MAX. Inline: one probe per
 * claimed socket. */
static inline size_t suspects_find(const struct suspects *t, uint64_t cookie)
{
	size_t slot, i;

	for (i = oa_index_first(&t->index, hash_u64(cookie), &slot); i != OA_NONE;
	     i = oa_index_next(&t->index, &slot))
		if (t->v[i].cookie == cookie)
			return i;
	return SIZE_MAX;
}

/* Append a zeroed suspect for cookie. -E2BIG at max_suspects, -ENOMEM. */
int suspects_add(struct suspects *t, uint64_t cookie, size_t *out);
/* Rebuild the cookie index with room for room suspects. */
int suspects_rehash(struct suspects *t, size_t room);

/* suspects.c */

/* s as the page and the remediation see it. */
void suspects_fill_info(const struct suspects *t, const struct suspect *s, struct suspect_info *o);

#endif
