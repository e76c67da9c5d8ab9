/* sock_ages: two u64_maps of cookie -> since, swapped per collection.
 * Memory follows the number of hanging sockets, not of all sockets, and
 * is capped. */
#include "sock_ages.h"

#include <errno.h>
#include <stdlib.h>

#include "common/u64_map.h"

/* Hanging sockets remembered at most; past it new ones get age 0. */
#define SOCK_AGES_MAX (1u << 20)

struct sock_ages {
	struct u64_map cur, prev;
};

int sock_ages_new(struct sock_ages **out)
{
	struct sock_ages *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	u64_map_init(&a->cur, SOCK_AGES_MAX);
	u64_map_init(&a->prev, SOCK_AGES_MAX);
	*out = a;
	return 0;
}

void sock_ages_free(struct sock_ages *a)
{
	if (!a)
		return;
	u64_map_free(&a->cur);
	u64_map_free(&a->prev);
	free(a);
}

void sock_ages_next(struct sock_ages *a)
{
	struct u64_map t = a->prev;

	a->prev = a->cur;
	a->cur = t;
	u64_map_clear(&a->cur);
}

uint64_t sock_ages_since(struct sock_ages *a, uint64_t cookie, uint64_t now_ms)
{
	const uint64_t *s;
	uint64_t since = now_ms;

	if (!cookie)
		return now_ms;
	s = u64_map_find(&a->cur, cookie);
	if (s)
		return *s;
	s = u64_map_find(&a->prev, cookie);
	if (s)
		since = *s;
	if (u64_map_put(&a->cur, cookie, since) < 0)
		return now_ms;
	return since;
}

uint64_t sock_ages_count(const struct sock_ages *a)
{
	return a->cur.n;
}
