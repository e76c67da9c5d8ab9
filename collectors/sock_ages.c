/* sock_ages: two open-addressing tables of (cookie, since), swapped per
 * collection. Memory follows the number of hanging sockets, not of all
 * sockets, and is capped. */
#include "sock_ages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Hanging sockets remembered at most; past it new ones get age 0. */
#define SOCK_AGES_MAX (1u << 20)

struct age_slot {
	uint64_t cookie; /* 0: empty */
	uint64_t since_ms;
};

struct age_table {
	struct age_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
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
	free(a->cur.slots);
	free(a->prev.slots);
	free(a);
}

void sock_ages_next(struct sock_ages *a)
{
	struct age_table t = a->prev;

	a->prev = a->cur;
	a->cur = t;
	if (a->cur.slots)
		memset(a->cur.slots, 0, a->cur.cap * sizeof(*a->cur.slots));
	a->cur.n = 0;
}

static size_t slot_of(uint64_t cookie, size_t cap)
{
	/* Cookies are sequential: mix before masking. */
	cookie ^= cookie >> 33;
	cookie *= 0xff51afd7ed558ccdull;
	cookie ^= cookie >> 33;
	return (size_t)cookie & (cap - 1);
}

static struct age_slot *find(const struct age_table *t, uint64_t cookie)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = slot_of(cookie, t->cap); t->slots[i].cookie; i = (i + 1) & (t->cap - 1))
		if (t->slots[i].cookie == cookie)
			return &t->slots[i];
	return NULL;
}

static void put(struct age_table *t, uint64_t cookie, uint64_t since_ms)
{
	size_t i = slot_of(cookie, t->cap);

	while (t->slots[i].cookie)
		i = (i + 1) & (t->cap - 1);
	t->slots[i].cookie = cookie;
	t->slots[i].since_ms = since_ms;
	t->n++;
}

/* Room for one more entry at load <= 1/2. */
static int reserve(struct age_table *t)
{
	struct age_table g;

	if (t->cap && 2 * (t->n + 1) <= t->cap)
		return 0;
	if (t->n >= SOCK_AGES_MAX)
		return -E2BIG;
	g.cap = t->cap ? 2 * t->cap : 64;
	g.n = 0;
	g.slots = calloc(g.cap, sizeof(*g.slots));
	if (!g.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].cookie)
			put(&g, t->slots[i].cookie, t->slots[i].since_ms);
	free(t->slots);
	*t = g;
	return 0;
}

uint64_t sock_ages_since(struct sock_ages *a, uint64_t cookie, uint64_t now_ms)
{
	const struct age_slot *s;
	uint64_t since = now_ms;

	if (!cookie)
		return now_ms;
	s = find(&a->cur, cookie);
	if (s)
		return s->since_ms;
	s = find(&a->prev, cookie);
	if (s)
		since = s->since_ms;
	if (reserve(&a->cur) < 0)
		return now_ms;
	put(&a->cur, cookie, since);
	return since;
}

uint64_t sock_ages_count(const struct sock_ages *a)
{
	return a->cur.n;
}
