/* suspects: the collection cycle of the tracker (begin, observe, end)
 * and its accessors. The tables and why they are shaped so:
 * suspects_internal.h. */
#include "suspects_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const uint32_t suspect_duration_buckets_s[SUSPECT_DURATION_BUCKETS] = {
    1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600,
};

/* Namespaces remembered as incomplete per collection; past that, the
 * whole collection is treated as incomplete (nothing closes). */
#define MAX_INCOMPLETE 4096

static const char *const condition_names[SUSPECT_NCOND] = {
#define SUSPECT_NAME(id, field, rank, help) [SUSPECT_##id] = #field,
    SOCK_CLASSES(SOCK_CLASS_NONE, SUSPECT_NAME)
#undef SUSPECT_NAME
};

/* The ranks are 0..SUSPECT_NCOND-1, each once. */
#define SUSPECT_RANK_BIT(id, field, rank, help) | (1u << (rank))
_Static_assert((0 SOCK_CLASSES(SOCK_CLASS_NONE, SUSPECT_RANK_BIT)) == (1u << SUSPECT_NCOND) - 1,
	       "suspect ranks in sock_classes.h must be 0..n-1, each once");
#undef SUSPECT_RANK_BIT

const char *suspect_condition_name(enum suspect_condition c)
{
	return (unsigned)c < SUSPECT_NCOND ? condition_names[c] : NULL;
}

unsigned suspect_conditions_of(unsigned f)
{
#define SUSPECT_BIT(id, field, rank, help) | (f & SC_##id ? 1u << SUSPECT_##id : 0)
	return 0 SOCK_CLASSES(SOCK_CLASS_NONE, SUSPECT_BIT);
#undef SUSPECT_BIT
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
	size_t i = suspects_find(t, rec->cookie);
	uint32_t owner = NONE;
	struct suspect *s;

	if (i == SIZE_MAX && !conds)
		return;
	if (i == SIZE_MAX || !same_owner(t, t->v[i].owner, svc)) {
		if (suspects_owner_of_service(t, svc, &owner) < 0) {
			if (i == SIZE_MAX) {
				t->dropped_now++;
				return;
			}
			owner = NONE; /* keep the old owner: stale names beat losing it */
		}
	}
	if (i == SIZE_MAX && suspects_add(t, rec->cookie, &i) < 0) {
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
	s->silent_ms = cls->silent_ms;
	s->keepalive_idle_ms = cls->keepalive_idle_ms;
	s->keepalive_due_ms = cls->keepalive_due_ms;
}

void suspects_ns_incomplete(struct suspects *t, uint32_t ns_index)
{
	if (t->all_incomplete)
		return;
	if (suspects_grow((void **)&t->incomplete, &t->cap_incomplete, t->n_incomplete,
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
			size_t se = suspects_find_series(t, res->services[i].name,
							 res->services[i].direction);

			if (se != SIZE_MAX) {
				t->series[se].live_gen = t->gen;
				t->series[se].service_id = res->services[i].service_id;
			}
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

	suspects_sweep_owners(t);
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
	suspects_rehash(t, t->n);
	suspects_rehash_owners(t, t->live_owners);

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

void suspects_fill_info(const struct suspects *t, const struct suspect *s, struct suspect_info *o)
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
	o->silent_ms = s->silent_ms;
	o->keepalive_idle_ms = s->keepalive_idle_ms;
	o->keepalive_due_ms = s->keepalive_due_ms;
	o->flags = s->flags;
	o->conditions = s->prev;
	o->suspect_since_ms = s->suspect_since_ms;
	for (int c = 0; c < SUSPECT_NCOND; c++)
		o->since_ms[c] = (s->prev & (1u << c)) ? s->since_ms[c] : 0;
	o->seen_ms = s->seen_ms;
	o->service_id = se->service_id;
	o->service = se->name;
	o->direction = se->direction;
	o->pod_namespace = ow->pod_namespace;
	o->pod = ow->pod;
}
