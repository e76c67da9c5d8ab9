/* sock_ages: two tables of (cookie, since) (dense arrays with an
 * oa_index by cookie), swapped per collection. Memory follows the number of hanging sockets, not of
 * all sockets, and is capped. */
#include "sock_ages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/oa_index.h"

/* Hanging sockets remembered at most; past it new ones get age 0. */
#define SOCK_AGES_MAX (1u << 20)

struct age_entry {
	uint64_t cookie;
	uint64_t since_ms;
};

struct age_table {
	struct age_entry *v;
	size_t n, cap;
	struct oa_index ix; /* of v, by cookie */
};

struct sock_ages {
	struct age_table cur, prev;
};

int sock_ages_new(struct sock_ages **out)
{
	struct sock_ages *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	*out = a;
	return 0;
}

void sock_ages_free(struct sock_ages *a)
{
	if (!a)
		return;
	free(a->cur.v);
	free(a->prev.v);
	oa_index_free(&a->cur.ix);
	oa_index_free(&a->prev.ix);
	free(a);
}

void sock_ages_next(struct sock_ages *a)
{
	struct age_table t = a->prev;

	a->prev = a->cur;
	a->cur = t;
	a->cur.n = 0;
	/* At its own size: reuses the memory, cannot fail. */
	if (a->cur.ix.cap)
		oa_index_reset(&a->cur.ix, a->cur.ix.cap / 2);
}

static const struct age_entry *find(const struct age_table *t, uint64_t cookie)
{
	size_t slot, i;

	for (i = oa_index_first(&t->ix, hash_u64(cookie), &slot); i != OA_NONE;
	     i = oa_index_next(&t->ix, &slot))
		if (t->v[i].cookie == cookie)
			return &t->v[i];
	return NULL;
}

static uint32_t hash_at(const void *ctx, size_t pos)
{
	const struct age_table *t = ctx;

	return hash_u64(t->v[pos].cookie);
}

/* Append (cookie, since_ms), growing the array and the index as needed.
 * 0, -E2BIG at SOCK_AGES_MAX, -ENOMEM. */
static int put(struct age_table *t, uint64_t cookie, uint64_t since_ms)
{
	if (t->n >= SOCK_AGES_MAX)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : OA_INDEX_MIN_SLOTS / 2;
		struct age_entry *v = reallocarray(t->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	if (oa_index_full(&t->ix, t->n)) {
		int r = oa_index_rebuild(&t->ix, t->n + 1, t->n, hash_at, t);

		if (r < 0)
			return r;
	}
	t->v[t->n].cookie = cookie;
	t->v[t->n].since_ms = since_ms;
	oa_index_put(&t->ix, hash_u64(cookie), t->n++);
	return 0;
}

uint64_t sock_ages_since(struct sock_ages *a, uint64_t cookie, uint64_t now_ms)
{
	const struct age_entry *s;
	uint64_t since = now_ms;

	if (!cookie)
		return now_ms;
	s = find(&a->cur, cookie);
	if (s)
		return s->since_ms;
	s = find(&a->prev, cookie);
	if (s)
		since = s->since_ms;
	if (put(&a->cur, cookie, since) < 0)
		return now_ms;
	return since;
}

uint64_t sock_ages_count(const struct sock_ages *a)
{
	return a->cur.n;
}
