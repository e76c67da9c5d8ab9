/* oa_index: see oa_index.h. */
#include "oa_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t oa_index_size_for(size_t n)
{
	size_t c = OA_INDEX_MIN_SLOTS;

	while (c < 2 * n)
		c *= 2;
	return c;
}

int oa_index_reset(struct oa_index *ix, size_t n)
{
	size_t want = oa_index_size_for(n);

	if (ix->cap != want) {
		uint32_t *p = calloc(want, sizeof(*p));

		if (p) {
			free(ix->slots);
			ix->slots = p;
			ix->cap = want;
			return 0;
		}
		if (ix->cap < want)
			return -ENOMEM;
	}
	memset(ix->slots, 0, ix->cap * sizeof(*ix->slots));
	return 0;
}

int oa_index_rebuild(struct oa_index *ix, size_t room, size_t n,
		     uint32_t (*hash_at)(const void *ctx, size_t pos), const void *ctx)
{
	int r = oa_index_reset(ix, room);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		oa_index_put(ix, hash_at(ctx, i), i);
	return 0;
}

void oa_index_free(struct oa_index *ix)
{
	if (!ix)
		return;
	free(ix->slots);
	ix->slots = NULL;
	ix->cap = 0;
}
