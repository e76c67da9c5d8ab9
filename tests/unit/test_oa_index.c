/* common/oa_index: the one open-addressing index. */
#include <stdint.h>
#include <stdlib.h>

#include "common/hash.h"
#include "common/oa_index.h"
#include "testing.h"

#define N 5000

static size_t find(const struct oa_index *ix, const uint64_t *keys, uint64_t key, uint32_t h)
{
	size_t slot, i;

	for (i = oa_index_first(ix, h, &slot); i != OA_NONE; i = oa_index_next(ix, &slot))
		if (keys[i] == key)
			return i;
	return OA_NONE;
}

static uint32_t key_hash_at(const void *ctx, size_t pos)
{
	return hash_u64(((const uint64_t *)ctx)[pos]);
}

/* Grows (rebuilt) as entries are added, finds each where it was put, and misses
 * what is absent; colliding hashes (every key under one hash) still
 * resolve by the caller's comparison. */
DEF_TEST(put_find_grow)
{
	static uint64_t keys[N];
	struct oa_index ix = {0};

	CHECK_EQ_UINT(OA_NONE, find(&ix, keys, 1, hash_u64(1))); /* never reset */
	for (size_t i = 0; i < N; i++) {
		keys[i] = 1000 + 7 * (uint64_t)i;
		if (oa_index_full(&ix, i))
			CHECK_EQ_INT(0, oa_index_rebuild(&ix, i + 1, i, key_hash_at, keys));
		oa_index_put(&ix, hash_u64(keys[i]), i);
		CHECK(2 * (i + 1) <= ix.cap);
	}
	for (size_t i = 0; i < N; i++)
		CHECK_EQ_UINT(i, find(&ix, keys, keys[i], hash_u64(keys[i])));
	CHECK_EQ_UINT(OA_NONE, find(&ix, keys, 3, hash_u64(3)));
	CHECK_EQ_UINT(16384, ix.cap); /* 2 * 5000 rounded up to a power of two */

	CHECK_EQ_INT(0, oa_index_reset(&ix, 100));
	for (size_t i = 0; i < 100; i++)
		oa_index_put(&ix, 42, i); /* one hash for all */
	for (size_t i = 0; i < 100; i++)
		CHECK_EQ_UINT(i, find(&ix, keys, keys[i], 42));
	CHECK_EQ_UINT(OA_NONE, find(&ix, keys, keys[100], 42));
	oa_index_free(&ix);
	CHECK_EQ_UINT(0, ix.cap);
	oa_index_free(NULL);
	return 0;
}

/* A reset to the same size reuses the memory (steady state allocates
 * nothing) and empties it. */
DEF_TEST(reset_reuses)
{
	struct oa_index ix = {0};
	uint32_t *slots;

	CHECK_EQ_UINT(64, oa_index_size_for(0));
	CHECK_EQ_UINT(64, oa_index_size_for(32));
	CHECK_EQ_UINT(128, oa_index_size_for(33));
	CHECK_EQ_INT(0, oa_index_reset(&ix, 10));
	slots = ix.slots;
	oa_index_put(&ix, 5, 0);
	CHECK_EQ_INT(0, oa_index_reset(&ix, 20));
	CHECK(slots == ix.slots);
	for (size_t i = 0; i < ix.cap; i++)
		CHECK_EQ_UINT(0, ix.slots[i]);
	CHECK_EQ_UINT(64 * sizeof(uint32_t), oa_index_bytes(&ix));
	oa_index_free(&ix);
	return 0;
}

int main(void)
{
	RUN_TEST(put_find_grow);
	RUN_TEST(reset_reuses);
	END_TEST;
}
