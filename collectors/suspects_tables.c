/* suspects_tables: the tracker's three tables (suspects_internal.h):
 * lookup, creation, rehash; owners are swept and their slots reused. */
#include "suspects_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

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
int suspects_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
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

size_t suspects_find_series(const struct suspects *t, const char *name, enum direction dir)
{
	size_t slot, i;

	for (i = oa_index_first(&t->series_index, series_hash(name, dir), &slot); i != OA_NONE;
	     i = oa_index_next(&t->series_index, &slot))
		if (t->series[i].direction == dir && strcmp(t->series[i].name, name) == 0)
			return i;
	return SIZE_MAX;
}

static uint32_t series_hash_at(const void *ctx, size_t pos)
{
	const struct suspects *t = ctx;

	return series_hash(t->series[pos].name, t->series[pos].direction);
}

/* The series of (name, dir), created when new. -E2BIG over max_series,
 * -ENOMEM. */
static int series_for(struct suspects *t, const char *name, enum direction dir, size_t *out)
{
	struct series *se;
	size_t i = suspects_find_series(t, name, dir);
	int r;

	if (i != SIZE_MAX) {
		*out = i;
		return 0;
	}
	r = suspects_grow((void **)&t->series, &t->cap_series, t->n_series, sizeof(*t->series),
			  t->max_series);
	if (r < 0)
		return r;
	if (oa_index_full(&t->series_index, t->n_series)) {
		/* Rehash without the new entry first: if that fails, the
		 * table is unchanged. */
		r = oa_index_rebuild(&t->series_index, t->n_series + 1, t->n_series, series_hash_at,
				     t);
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

int suspects_rehash_owners(struct suspects *t, size_t live)
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
		r = suspects_grow((void **)&t->owners, &t->cap_owners, t->n_owners,
				  sizeof(*t->owners), SIZE_MAX / sizeof(*t->owners));
		if (r < 0)
			goto fail;
	}
	if (oa_index_full(&t->owner_index, t->live_owners)) {
		r = suspects_rehash_owners(t, t->live_owners + 1);
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
void suspects_sweep_owners(struct suspects *t)
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
int suspects_owner_of_service(struct suspects *t, const struct service_result *svc, uint32_t *out)
{
	size_t se;
	int r = series_for(t, svc->name, svc->direction, &se);

	if (r < 0)
		return r;
	t->series[se].live_gen = t->gen;
	t->series[se].service_id = svc->service_id;
	return owner_for(t, (uint32_t)se, svc->pod_namespace, svc->pod, out);
}

/* ----------------------------------------------------------- suspects */


static uint32_t cookie_hash_at(const void *ctx, size_t pos)
{
	const struct suspects *t = ctx;

	return hash_u64(t->v[pos].cookie);
}

int suspects_rehash(struct suspects *t, size_t room)
{
	return oa_index_rebuild(&t->index, room, t->n, cookie_hash_at, t);
}

/* Append a zeroed suspect for cookie. -E2BIG at max_suspects, -ENOMEM. */
int suspects_add(struct suspects *t, uint64_t cookie, size_t *out)
{
	struct suspect *s;
	int r = suspects_grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v), t->max_suspects);

	if (r < 0)
		return r;
	if (oa_index_full(&t->index, t->n)) {
		r = suspects_rehash(t, t->n + 1);
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
