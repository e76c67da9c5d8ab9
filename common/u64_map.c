/* u64_map: see u64_map.h. The keys are mixed by hash_u64, so sequential
 * cookies and already-hashed tuples spread alike. */
#include "u64_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

void u64_map_init(struct u64_map *m, size_t max)
{
	memset(m, 0, sizeof(*m));
	m->max = max && max < OA_INDEX_MAX_ENTRIES ? max : OA_INDEX_MAX_ENTRIES;
}

void u64_map_free(struct u64_map *m)
{
	if (!m)
		return;
	free(m->v);
	oa_index_free(&m->ix);
	m->v = NULL;
	m->n = m->cap = 0;
}

void u64_map_clear(struct u64_map *m)
{
	m->n = 0;
	/* At its own size: reuses the memory, cannot fail. */
	if (m->ix.cap)
		oa_index_reset(&m->ix, m->ix.cap / 2);
}

uint64_t *u64_map_find(const struct u64_map *m, uint64_t key)
{
	size_t slot, i;

	for (i = oa_index_first(&m->ix, hash_u64(key), &slot); i != OA_NONE;
	     i = oa_index_next(&m->ix, &slot))
		if (m->v[i].key == key)
			return &m->v[i].val;
	return NULL;
}

static uint32_t hash_at(const void *ctx, size_t pos)
{
	const struct u64_map *m = ctx;

	return hash_u64(m->v[pos].key);
}

/* Room for one more entry: the array and the index grown as needed. */
static int reserve(struct u64_map *m)
{
	if (m->n >= m->max)
		return -E2BIG;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : OA_INDEX_MIN_SLOTS / 2;
		struct u64_map_entry *v;

		if (cap > m->max)
			cap = m->max;
		v = reallocarray(m->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	if (oa_index_full(&m->ix, m->n))
		return oa_index_rebuild(&m->ix, m->n + 1, m->n, hash_at, m);
	return 0;
}

int u64_map_put(struct u64_map *m, uint64_t key, uint64_t val)
{
	int r = reserve(m);

	if (r < 0)
		return r;
	m->v[m->n].key = key;
	m->v[m->n].val = val;
	oa_index_put(&m->ix, hash_u64(key), m->n++);
	return 0;
}

uint64_t *u64_map_upsert(struct u64_map *m, uint64_t key, uint64_t val, int *added, int *err)
{
	uint32_t h = hash_u64(key);
	size_t mask, slot;
	int r;

	*added = 0;
	/* Room first, so the probe below ends at the slot to fill. */
	r = reserve(m);
	if (r < 0) {
		uint64_t *v = u64_map_find(m, key); /* a full map still finds */

		if (!v && err)
			*err = r;
		return v;
	}
	mask = m->ix.cap - 1;
	for (slot = h & mask; m->ix.slots[slot]; slot = (slot + 1) & mask)
		if (m->v[m->ix.slots[slot] - 1].key == key)
			return &m->v[m->ix.slots[slot] - 1].val;
	m->v[m->n].key = key;
	m->v[m->n].val = val;
	m->ix.slots[slot] = (uint32_t)(m->n + 1);
	*added = 1;
	return &m->v[m->n++].val;
}

size_t u64_map_bytes(const struct u64_map *m)
{
	return m->cap * sizeof(*m->v) + oa_index_bytes(&m->ix);
}
