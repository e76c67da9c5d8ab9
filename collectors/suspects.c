/* suspects: three small tables, all bounded by the number of suspects or
 * of services, never by the number of sockets.
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
 * is what makes a redone dump harmless. */
#include "suspects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/oa_index.h"
#include "sockdestroy.h"

const uint32_t suspect_duration_buckets_s[SUSPECT_DURATION_BUCKETS] = {
    1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600,
};

#define NONE	     UINT32_MAX
#define MIN_CAPACITY 64
/* Lateness of a collection start that the remediation policy forgives. */
#define SUSPECT_CADENCE_SLACK_MS 100
/* Namespaces remembered as incomplete per collection; past that, the
 * whole collection is treated as incomplete (nothing closes). */
#define MAX_INCOMPLETE 4096

struct series {
	char name[SERVICE_NAME_MAX + 1];
	enum direction direction;
	bool opted_in;	   /* remediation ever found a destroy_after for it */
	uint32_t born_gen; /* collection that created it */
	uint32_t live_gen; /* last collection whose result had it */
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

static const char *const condition_names[SUSPECT_NCOND] = {
    "retransmitting", "keepalive_probing", "zero_window", "stale", "close_wait",
};

const char *suspect_condition_name(enum suspect_condition c)
{
	return (unsigned)c < SUSPECT_NCOND ? condition_names[c] : NULL;
}

unsigned suspect_conditions_of(unsigned f)
{
	return (f & SC_RETRANSMITTING ? 1u << SUSPECT_RETRANSMITTING : 0) |
	       (f & SC_KEEPALIVE_PROBING ? 1u << SUSPECT_KEEPALIVE_PROBING : 0) |
	       (f & SC_ZERO_WINDOW ? 1u << SUSPECT_ZERO_WINDOW : 0) |
	       (f & SC_STALE ? 1u << SUSPECT_STALE : 0) |
	       (f & SC_CLOSE_WAIT ? 1u << SUSPECT_CLOSE_WAIT : 0);
}

/* ------------------------------------------------------------ hashing */

static uint32_t series_hash(const char *name, enum direction dir)
{
	return fnv1a_u32(fnv1a_str(FNV1A_INIT, name), (uint32_t)dir);
}

static uint32_t owner_hash(uint32_t series, const char *pod_ns, const char *pod)
{
	return fnv1a_str(fnv1a_str(hash_u64(series), pod_ns), pod);
}

/* Grow an array of elem-byte entries to hold at least one more, doubling
 * from MIN_CAPACITY up to max. -E2BIG at max, -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
{
	size_t want;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -E2BIG;
	want = *cap ? *cap * 2 : MIN_CAPACITY;
	if (want > max)
		want = max;
	p = realloc(*arr, want * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = want;
	return 0;
}

/* ------------------------------------------------------------- series */

static size_t find_series(const struct suspects *t, const char *name, enum direction dir)
{
	size_t slot, i;

	for (i = oa_index_first(&t->series_index, series_hash(name, dir), &slot); i != OA_NONE;
	     i = oa_index_next(&t->series_index, &slot))
		if (t->series[i].direction == dir && strcmp(t->series[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static int rehash_series(struct suspects *t, size_t n)
{
	int r = oa_index_reset(&t->series_index, n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_series; i++)
		oa_index_put(&t->series_index,
			     series_hash(t->series[i].name, t->series[i].direction), i);
	return 0;
}

/* The series of (name, dir), created when new. -E2BIG over max_series,
 * -ENOMEM. */
static int series_for(struct suspects *t, const char *name, enum direction dir, size_t *out)
{
	struct series *se;
	size_t i = find_series(t, name, dir);
	int r;

	if (i != SIZE_MAX) {
		*out = i;
		return 0;
	}
	r = grow((void **)&t->series, &t->cap_series, t->n_series, sizeof(*t->series),
		 t->max_series);
	if (r < 0)
		return r;
	if (oa_index_full(&t->series_index, t->n_series)) {
		/* Rehash without the new entry first: if that fails, the
		 * table is unchanged. */
		r = rehash_series(t, t->n_series + 1);
		if (r < 0)
			return r;
	}
	se = &t->series[t->n_series];
	memset(se, 0, sizeof(*se));
	snprintf(se->name, sizeof(se->name), "%s", name);
	se->direction = dir;
	se->born_gen = t->gen;
	oa_index_put(&t->series_index, series_hash(se->name, dir), t->n_series);
	*out = t->n_series++;
	return 0;
}

/* ------------------------------------------------------------- owners */

static bool owner_is(const struct owner *o, uint32_t series, const char *pod_ns, const char *pod)
{
	return o->used && o->series == series && strcmp(o->pod_namespace, pod_ns) == 0 &&
	       strcmp(o->pod, pod) == 0;
}

static uint32_t find_owner(const struct suspects *t, uint32_t series, const char *pod_ns,
			   const char *pod)
{
	size_t slot, o;

	for (o = oa_index_first(&t->owner_index, owner_hash(series, pod_ns, pod), &slot);
	     o != OA_NONE; o = oa_index_next(&t->owner_index, &slot))
		if (owner_is(&t->owners[o], series, pod_ns, pod))
			return (uint32_t)o;
	return NONE;
}

static int rehash_owners(struct suspects *t, size_t live)
{
	int r = oa_index_reset(&t->owner_index, live);

	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_owners; i++) {
		const struct owner *o = &t->owners[i];

		if (o->used)
			oa_index_put(&t->owner_index,
				     owner_hash(o->series, o->pod_namespace, o->pod), i);
	}
	return 0;
}

/* The owner of (series, pod namespace, pod), created with no reference
 * when new. Owners are bounded by suspects (plus those of one collection
 * that end() sweeps), so max_suspects bounds them too. */
static int owner_for(struct suspects *t, uint32_t series, const char *pod_ns, const char *pod,
		     uint32_t *out)
{
	size_t lns = strlen(pod_ns), lpod = strlen(pod);
	uint32_t o = find_owner(t, series, pod_ns, pod);
	char *strings = NULL;
	struct owner *ow;
	int r;

	if (o != NONE) {
		*out = o;
		return 0;
	}
	if (t->live_owners >= t->max_suspects)
		return -E2BIG;
	if (lns || lpod) {
		strings = malloc(lns + lpod + 2);
		if (!strings)
			return -ENOMEM;
		memcpy(strings, pod_ns, lns + 1);
		memcpy(strings + lns + 1, pod, lpod + 1);
	}
	if (t->free_owner == NONE) {
		r = grow((void **)&t->owners, &t->cap_owners, t->n_owners, sizeof(*t->owners),
			 SIZE_MAX / sizeof(*t->owners));
		if (r < 0)
			goto fail;
	}
	if (oa_index_full(&t->owner_index, t->live_owners)) {
		r = rehash_owners(t, t->live_owners + 1);
		if (r < 0)
			goto fail;
	}
	if (t->free_owner != NONE) {
		o = t->free_owner;
		t->free_owner = t->owners[o].next_free;
	} else {
		o = (uint32_t)t->n_owners++;
	}
	ow = &t->owners[o];
	ow->series = series;
	ow->refs = 0;
	ow->next_free = NONE;
	ow->used = true;
	ow->strings = strings;
	ow->pod_namespace = strings ? strings : "";
	ow->pod = strings ? strings + lns + 1 : "";
	t->owner_bytes += strings ? lns + lpod + 2 : 0;
	t->live_owners++;
	oa_index_put(&t->owner_index, owner_hash(series, ow->pod_namespace, ow->pod), o);
	*out = o;
	return 0;
fail:
	free(strings);
	return r;
}

/* Free the owners no suspect points to any more. The owner index still
 * lists them: the caller rebuilds it. */
static void sweep_owners(struct suspects *t)
{
	for (size_t i = 0; i < t->n_owners; i++) {
		struct owner *o = &t->owners[i];

		if (!o->used || o->refs)
			continue;
		if (o->strings)
			t->owner_bytes -= strlen(o->pod_namespace) + strlen(o->pod) + 2;
		free(o->strings);
		memset(o, 0, sizeof(*o));
		o->next_free = t->free_owner;
		t->free_owner = (uint32_t)i;
		t->live_owners--;
	}
}

/* The owner for svc, resolving (and creating) series and owner. */
static int owner_of_service(struct suspects *t, const struct service_result *svc, uint32_t *out)
{
	size_t se;
	int r = series_for(t, svc->name, svc->direction, &se);

	if (r < 0)
		return r;
	t->series[se].live_gen = t->gen;
	return owner_for(t, (uint32_t)se, svc->pod_namespace, svc->pod, out);
}

/* ----------------------------------------------------------- suspects */

static size_t find_suspect(const struct suspects *t, uint64_t cookie)
{
	size_t slot, i;

	for (i = oa_index_first(&t->index, hash_u64(cookie), &slot); i != OA_NONE;
	     i = oa_index_next(&t->index, &slot))
		if (t->v[i].cookie == cookie)
			return i;
	return SIZE_MAX;
}

static int rehash_suspects(struct suspects *t, size_t n)
{
	int r = oa_index_reset(&t->index, n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n; i++)
		oa_index_put(&t->index, hash_u64(t->v[i].cookie), i);
	return 0;
}

/* Append a zeroed suspect for cookie. -E2BIG at max_suspects, -ENOMEM. */
static int add_suspect(struct suspects *t, uint64_t cookie, size_t *out)
{
	struct suspect *s;
	int r = grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v), t->max_suspects);

	if (r < 0)
		return r;
	if (oa_index_full(&t->index, t->n)) {
		r = rehash_suspects(t, t->n + 1);
		if (r < 0)
			return r;
	}
	s = &t->v[t->n];
	memset(s, 0, sizeof(*s));
	s->cookie = cookie;
	s->owner = NONE;
	oa_index_put(&t->index, hash_u64(cookie), t->n);
	*out = t->n++;
	return 0;
}

int suspects_new(const struct suspects_options *opt, struct suspects **out)
{
	struct suspects *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->max_suspects = opt && opt->max_suspects ? opt->max_suspects : SUSPECTS_DEFAULT_MAX;
	t->max_series = opt && opt->max_series ? opt->max_series : SUSPECTS_DEFAULT_MAX_SERIES;
	/* Positions are stored as uint32 + 1. */
	if (t->max_suspects > UINT32_MAX - 1)
		t->max_suspects = UINT32_MAX - 1;
	if (t->max_series > UINT32_MAX - 1)
		t->max_series = UINT32_MAX - 1;
	t->free_owner = NONE;
	*out = t;
	return 0;
}

void suspects_free(struct suspects *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_owners; i++)
		free(t->owners[i].strings);
	free(t->owners);
	oa_index_free(&t->owner_index);
	free(t->v);
	oa_index_free(&t->index);
	free(t->series);
	oa_index_free(&t->series_index);
	free(t->incomplete);
	free(t);
}

void suspects_begin(struct suspects *t, uint64_t now_ms)
{
	t->now_ms = now_ms;
	if (++t->gen == 0)
		t->gen = 1; /* after 2^32 collections: 0 means "never seen" */
	t->dropped_now = 0;
	t->n_incomplete = 0;
	t->all_incomplete = false;
}

static bool same_owner(const struct suspects *t, uint32_t o, const struct service_result *svc)
{
	const struct owner *ow = &t->owners[o];
	const struct series *se = &t->series[ow->series];

	return se->direction == svc->direction && strcmp(se->name, svc->name) == 0 &&
	       strcmp(ow->pod_namespace, svc->pod_namespace) == 0 && strcmp(ow->pod, svc->pod) == 0;
}

/* Contract: the hot path, run for every claimed socket. A socket that is
 * neither tracked nor suspect costs one index probe. A tracked one gets
 * the fields of this observation (a later observation of the same cookie
 * in this collection overwrites them), its owner follows the service that
 * claims it now, and a condition not active at the last end() gets this
 * collection as its first-seen time. Nothing is counted here. */
void suspects_observe(void *ctx, const struct sock_record *rec, const struct classification *cls,
		      const struct service_result *svc, uint32_t ns_index)
{
	struct suspects *t = ctx;
	unsigned conds = suspect_conditions_of(cls->flags);
	size_t i = find_suspect(t, rec->cookie);
	uint32_t owner = NONE;
	struct suspect *s;

	if (i == SIZE_MAX && !conds)
		return;
	if (i == SIZE_MAX || !same_owner(t, t->v[i].owner, svc)) {
		if (owner_of_service(t, svc, &owner) < 0) {
			if (i == SIZE_MAX) {
				t->dropped_now++;
				return;
			}
			owner = NONE; /* keep the old owner: stale names beat losing it */
		}
	}
	if (i == SIZE_MAX && add_suspect(t, rec->cookie, &i) < 0) {
		t->dropped_now++;
		return;
	}
	s = &t->v[i];
	if (owner != NONE) {
		if (s->owner != NONE)
			t->owners[s->owner].refs--;
		s->owner = owner;
		t->owners[owner].refs++;
	}

	s->seen_gen = t->gen;
	s->seen_ms = t->now_ms;
	s->cur = (uint8_t)conds;
	if (!s->prev)
		s->suspect_since_ms = t->now_ms;
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if ((conds & (1u << c)) && !(s->prev & (1u << c)))
			s->since_ms[c] = t->now_ms;

	s->ns_index = ns_index;
	s->family = rec->family;
	s->state = rec->state;
	s->timer = rec->timer;
	s->retrans = rec->retrans;
	s->sport = rec->sport;
	s->dport = rec->dport;
	memcpy(s->saddr, rec->saddr, sizeof(s->saddr));
	memcpy(s->daddr, rec->daddr, sizeof(s->daddr));
	s->rqueue = rec->rqueue;
	s->wqueue = rec->wqueue;
	s->has_info = rec->has_info;
	s->backoff = rec->info.tcpi_backoff;
	s->unacked = rec->info.tcpi_unacked;
	s->total_retrans = rec->info.tcpi_total_retrans;
	s->flags = cls->flags;
	s->idle_ms = cls->idle_ms;
	s->unanswered_ms = cls->unanswered_ms;
}

void suspects_ns_incomplete(struct suspects *t, uint32_t ns_index)
{
	if (t->all_incomplete)
		return;
	if (grow((void **)&t->incomplete, &t->cap_incomplete, t->n_incomplete,
		 sizeof(*t->incomplete), MAX_INCOMPLETE) < 0) {
		/* Cannot remember which: closing nothing is the safe side. */
		t->all_incomplete = true;
		return;
	}
	t->incomplete[t->n_incomplete++] = ns_index;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool ns_is_incomplete(const struct suspects *t, uint32_t ns)
{
	return t->n_incomplete &&
	       bsearch(&ns, t->incomplete, t->n_incomplete, sizeof(ns), cmp_u32) != NULL;
}

static void observe_duration(struct series *se, uint64_t ms)
{
	size_t b;

	for (b = 0; b < SUSPECT_DURATION_BUCKETS; b++)
		if (ms <= (uint64_t)suspect_duration_buckets_s[b] * 1000)
			break;
	if (b < SUSPECT_DURATION_BUCKETS)
		se->c.buckets[b]++;
	se->c.duration_count++;
	se->c.duration_sum_ms += ms;
}

static void count_conditions(uint64_t *counters, unsigned conds)
{
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if (conds & (1u << c))
			counters[c]++;
}

/* Contract: turn the collection into events and forget the suspects that
 * went away. For every suspect:
 *   seen: conditions new since the last end() are transitions (held back
 *     one collection for a series born in this one), conditions gone are
 *     recoveries; with no condition left it stops being a suspect (its
 *     episode goes into the histogram);
 *   not seen, the collection complete, its namespace complete, its
 *     service still there: closed, under each condition it had, and its
 *     episode goes into the histogram;
 *   not seen otherwise: kept as it was, or (service gone) forgotten.
 * Durations are now - the collection that first saw it suspect, so they
 * have the collection interval as resolution. Then the arrays shrink when
 * mostly empty and the indexes are rebuilt, which cannot fail. */
void suspects_end(struct suspects *t, bool complete, const struct collection_result *res)
{
	size_t w = 0;

	for (size_t i = 0; i < t->n_series; i++) {
		struct series *se = &t->series[i];

		if (se->born_gen == t->gen)
			continue;
		for (int c = 0; c < SUSPECT_NCOND; c++) {
			se->c.transitions[c] += se->pending[c];
			se->pending[c] = 0;
		}
	}
	if (res)
		for (size_t i = 0; i < res->n_services; i++) {
			size_t se =
			    find_series(t, res->services[i].name, res->services[i].direction);

			if (se != SIZE_MAX)
				t->series[se].live_gen = t->gen;
		}
	if (t->n_incomplete)
		qsort(t->incomplete, t->n_incomplete, sizeof(*t->incomplete), cmp_u32);
	if (t->all_incomplete)
		complete = false;

	for (size_t i = 0; i < t->n; i++) {
		struct suspect *s = &t->v[i];
		struct series *se = &t->series[t->owners[s->owner].series];
		uint64_t dur =
		    t->now_ms >= s->suspect_since_ms ? t->now_ms - s->suspect_since_ms : 0;
		bool keep = true;

		if (s->seen_gen == t->gen) {
			unsigned appeared = s->cur & ~s->prev, cleared = s->prev & ~s->cur;

			count_conditions(se->born_gen == t->gen ? se->pending : se->c.transitions,
					 appeared);
			count_conditions(se->c.recovered, cleared);
			if (s->cur) {
				s->prev = s->cur;
			} else {
				/* prev == 0: suspect only in a dump that was
				 * then redone; it never was one. */
				if (s->prev)
					observe_duration(se, dur);
				keep = false;
			}
		} else if (complete && !ns_is_incomplete(t, s->ns_index)) {
			if (!res || se->live_gen == t->gen) {
				count_conditions(se->c.closed, s->prev);
				observe_duration(se, dur);
			}
			keep = false;
		}
		if (keep)
			t->v[w++] = *s;
		else
			t->owners[s->owner].refs--;
	}
	t->n = w;

	sweep_owners(t);
	if (t->cap > MIN_CAPACITY && t->n < t->cap / 4) {
		size_t want = t->cap / 2;
		struct suspect *p = realloc(t->v, want * sizeof(*p));

		if (p) {
			t->v = p;
			t->cap = want;
		}
	}
	/* Rebuilding at the same or a smaller size: reuses the old index
	 * when a smaller one cannot be allocated. */
	rehash_suspects(t, t->n);
	rehash_owners(t, t->live_owners);

	t->dropped_total += t->dropped_now;
}

size_t suspects_count(const struct suspects *t)
{
	return t->n;
}

size_t suspects_max(const struct suspects *t)
{
	return t->max_suspects;
}

uint64_t suspects_dropped_total(const struct suspects *t)
{
	return t->dropped_total;
}

size_t suspects_series_count(const struct suspects *t)
{
	return t->n_series;
}

void suspects_series_get(const struct suspects *t, size_t i, struct suspect_series_info *out)
{
	const struct series *se = &t->series[i];

	out->service = se->name;
	out->direction = se->direction;
	out->opted_in = se->opted_in;
	out->counters = &se->c;
}

size_t suspects_memory_bytes(const struct suspects *t)
{
	return sizeof(*t) + t->cap * sizeof(*t->v) + oa_index_bytes(&t->index) +
	       t->cap_owners * sizeof(*t->owners) + oa_index_bytes(&t->owner_index) +
	       t->owner_bytes + t->cap_series * sizeof(*t->series) +
	       oa_index_bytes(&t->series_index) + t->cap_incomplete * sizeof(*t->incomplete);
}

static void fill_info(const struct suspects *t, const struct suspect *s, struct suspect_info *o)
{
	const struct owner *ow = &t->owners[s->owner];
	const struct series *se = &t->series[ow->series];

	memset(o, 0, sizeof(*o));
	o->cookie = s->cookie;
	o->ns_index = s->ns_index;
	o->family = s->family;
	o->state = s->state;
	o->timer = s->timer;
	o->retrans = s->retrans;
	o->backoff = s->backoff;
	o->has_info = s->has_info;
	o->keepalive = s->flags & SC_KEEPALIVE;
	o->current = s->seen_gen == t->gen;
	o->remediated = s->remediated;
	o->sport = s->sport;
	o->dport = s->dport;
	memcpy(o->saddr, s->saddr, sizeof(o->saddr));
	memcpy(o->daddr, s->daddr, sizeof(o->daddr));
	o->unacked = s->unacked;
	o->total_retrans = s->total_retrans;
	o->rqueue = s->rqueue;
	o->wqueue = s->wqueue;
	o->idle_ms = s->idle_ms;
	o->unanswered_ms = s->unanswered_ms;
	o->flags = s->flags;
	o->conditions = s->prev;
	o->suspect_since_ms = s->suspect_since_ms;
	for (int c = 0; c < SUSPECT_NCOND; c++)
		o->since_ms[c] = (s->prev & (1u << c)) ? s->since_ms[c] : 0;
	o->seen_ms = s->seen_ms;
	o->service = se->name;
	o->direction = se->direction;
	o->pod_namespace = ow->pod_namespace;
	o->pod = ow->pod;
}

void suspects_for_each(const struct suspects *t, suspects_visit_fn fn, void *ctx)
{
	struct suspect_info info;

	for (size_t i = 0; i < t->n; i++) {
		fill_info(t, &t->v[i], &info);
		fn(ctx, &info);
	}
}

/* ------------------------------------------------------- remediation */

bool suspect_remediation_due(const struct suspect_info *s, uint32_t destroy_after_ms,
			     uint64_t now_ms)
{
	static const enum suspect_condition hung[] = {SUSPECT_RETRANSMITTING,
						      SUSPECT_KEEPALIVE_PROBING};
	uint64_t observed = 0;

	if (!destroy_after_ms || !s->current || !s->has_info)
		return false;
	for (size_t i = 0; i < sizeof(hung) / sizeof(hung[0]); i++) {
		uint64_t since = s->since_ms[hung[i]];

		if (!(s->conditions & (1u << hung[i])))
			continue;
		if (now_ms > since && now_ms - since > observed)
			observed = now_ms - since;
	}
	/* Both clocks: ours can be older than the kernel's only when the
	 * peer answered in between (then the kernel's age is the truth), the
	 * kernel's older than ours after a quiet spell (then ours is). Ours
	 * compares two collection start times, which keep a fixed cadence but
	 * each start a few ms late: the slack keeps a destroy_after that is a
	 * multiple of the interval from slipping to the next collection. */
	return observed + SUSPECT_CADENCE_SLACK_MS >= destroy_after_ms &&
	       s->unanswered_ms >= destroy_after_ms;
}

void suspect_destroy_target(const struct suspect_info *s, struct sockdestroy_target *out)
{
	memset(out, 0, sizeof(*out));
	out->family = s->family;
	out->sport = s->sport;
	out->dport = s->dport;
	memcpy(out->saddr, s->saddr, sizeof(out->saddr));
	memcpy(out->daddr, s->daddr, sizeof(out->daddr));
	out->cookie = s->cookie;
}

size_t suspects_remediate(struct suspects *t, uint64_t now_ms, bool dry_run,
			  const struct remediation_ops *ops)
{
	const unsigned hung = (1u << SUSPECT_RETRANSMITTING) | (1u << SUSPECT_KEEPALIVE_PROBING);
	struct suspect_info info;
	size_t acted = 0;

	if (++t->pass == 0)
		t->pass = 1;
	for (size_t i = 0; i < t->n; i++) {
		struct suspect *s = &t->v[i];
		struct series *se = &t->series[t->owners[s->owner].series];
		int r;

		if (s->remediated || s->seen_gen != t->gen || !(s->prev & hung))
			continue;
		if (se->policy_pass != t->pass) {
			se->policy_pass = t->pass;
			se->destroy_after_ms =
			    ops->destroy_after_ms(ops->ctx, se->name, se->direction);
			if (se->destroy_after_ms)
				se->opted_in = true;
		}
		fill_info(t, s, &info);
		if (!suspect_remediation_due(&info, se->destroy_after_ms, now_ms))
			continue;
		r = ops->destroy(ops->ctx, &info, dry_run);
		s->remediated = true;
		acted++;
		if (r == 0 && dry_run)
			se->c.dry_run++;
		else if (r == 0)
			se->c.destroyed++;
		else if (r != -ENOENT)
			se->c.destroy_errors++;
	}
	return acted;
}

/* ----------------------------------------------------------- snapshot */

struct sort_key {
	uint32_t unanswered_ms;
	uint32_t idle_ms;
	uint64_t since_ms;
	uint64_t cookie;
	uint32_t severity; /* higher is worse */
	uint32_t pos;
};

static uint32_t severity_of(unsigned conds)
{
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if (conds & (1u << c))
			return SUSPECT_NCOND - (uint32_t)c;
	return 0;
}

#define CMP_DESC(a, b)                                                                             \
	do {                                                                                       \
		if ((a) != (b))                                                                    \
			return (a) > (b) ? -1 : 1;                                                 \
	} while (0)

static int cmp_worst(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	CMP_DESC(a->unanswered_ms, b->unanswered_ms);
	CMP_DESC(a->severity, b->severity);
	CMP_DESC(a->idle_ms, b->idle_ms);
	CMP_DESC(b->since_ms, a->since_ms); /* older first */
	CMP_DESC(b->cookie, a->cookie);
	return 0;
}

/* Contract: sort keys of every suspect (small, so sorting 100k is cheap),
 * the first max_rows become rows, and their strings are copied into one
 * arena sized in a first pass, so the snapshot points into nothing of the
 * tracker's. */
int suspects_snapshot(const struct suspects *t, size_t max_rows, struct suspect_snapshot **out)
{
	struct suspect_snapshot *snap = calloc(1, sizeof(*snap));
	struct sort_key *keys = NULL;
	size_t m = t->n < max_rows ? t->n : max_rows, bytes = 0;
	char *p;
	int r = -ENOMEM;

	if (!snap)
		return -ENOMEM;
	if (t->n) {
		keys = malloc(t->n * sizeof(*keys));
		if (!keys)
			goto fail;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct suspect *s = &t->v[i];

		keys[i] = (struct sort_key){
		    .unanswered_ms = s->unanswered_ms,
		    .idle_ms = s->idle_ms,
		    .since_ms = s->suspect_since_ms,
		    .cookie = s->cookie,
		    .severity = severity_of(s->prev),
		    .pos = (uint32_t)i,
		};
	}
	if (t->n)
		qsort(keys, t->n, sizeof(*keys), cmp_worst);
	if (m) {
		snap->rows = calloc(m, sizeof(*snap->rows));
		if (!snap->rows)
			goto fail;
	}
	for (size_t k = 0; k < m; k++) {
		fill_info(t, &t->v[keys[k].pos], &snap->rows[k]);
		bytes += strlen(snap->rows[k].service) + strlen(snap->rows[k].pod_namespace) +
			 strlen(snap->rows[k].pod) + 3;
	}
	snap->arena = malloc(bytes ? bytes : 1);
	if (!snap->arena)
		goto fail;
	p = snap->arena;
	for (size_t k = 0; k < m; k++) {
		const char **fields[3] = {&snap->rows[k].service, &snap->rows[k].pod_namespace,
					  &snap->rows[k].pod};

		for (int f = 0; f < 3; f++) {
			size_t l = strlen(*fields[f]) + 1;

			memcpy(p, *fields[f], l);
			*fields[f] = p;
			p += l;
		}
	}
	snap->n_rows = m;
	snap->total = t->n;
	snap->dropped = t->dropped_total;
	snap->now_ms = t->now_ms;
	atomic_init(&snap->refs, 1);
	free(keys);
	*out = snap;
	return 0;
fail:
	free(keys);
	free(snap->rows);
	free(snap);
	return r;
}

struct suspect_snapshot *suspect_snapshot_ref(struct suspect_snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void suspect_snapshot_unref(struct suspect_snapshot *s)
{
	if (!s)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(s->arena);
	free(s->rows);
	free(s);
}
