/* oa_index: the one open-addressing hash index of the tree.
 *
 * It maps hashes to positions in an array the caller owns (dense, in
 * insertion order), and nothing else: the caller keeps the keys and
 * compares them while probing, so one index serves any key type. Slots
 * hold position + 1 (0: empty), linear probing, a power-of-two size kept
 * at a load of at most 1/2. There is no deletion: a caller that removes
 * entries compacts its array and rebuilds the index (oa_index_reset, then
 * oa_index_put for each), which is what a per-collection table does
 * anyway. Flat and allocation-free in steady state: reset reuses the
 * memory when the size does not change.
 *
 *     for (pos = oa_index_first(ix, h, &slot); pos != OA_NONE;
 *          pos = oa_index_next(ix, &slot))
 *             if (key_equal(&array[pos], key))
 *                     return pos;
 */
#ifndef HALFOPEN_OA_INDEX_H
#define HALFOPEN_OA_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OA_NONE		     SIZE_MAX
#define OA_INDEX_MIN_SLOTS   64
#define OA_INDEX_MAX_ENTRIES (UINT32_MAX - 1) /* positions are stored + 1 */

struct oa_index {
	uint32_t *slots; /* position + 1; 0: empty */
	size_t cap;	 /* a power of two, or 0 before the first reset */
};

/* Slots for n entries at a load of at most 1/2 (at least
 * OA_INDEX_MIN_SLOTS). */
size_t oa_index_size_for(size_t n);
/* Make ix an empty index with room for n entries. Reuses the memory when
 * the size is unchanged; when a new size cannot be allocated and the
 * current one is large enough, keeps that (so a shrinking rebuild never
 * fails). 0 or -ENOMEM (ix unchanged). */
int oa_index_reset(struct oa_index *ix, size_t n);
/* Whether one more entry (n + 1 in all) needs a larger index first. */
static inline bool oa_index_full(const struct oa_index *ix, size_t n)
{
	return 2 * (n + 1) > ix->cap;
}
/* Reset ix with room for room entries and put positions 0..n-1
 * (n <= room), hashed by hash_at. 0 or -ENOMEM (ix unchanged). */
int oa_index_rebuild(struct oa_index *ix, size_t room, size_t n,
		     uint32_t (*hash_at)(const void *ctx, size_t pos), const void *ctx);
/* Record position pos under hash. The index must have room
 * (!oa_index_full). Inline: rebuilds call it once per entry. */
static inline void oa_index_put(struct oa_index *ix, uint32_t hash, size_t pos)
{
	size_t mask = ix->cap - 1, slot;

	for (slot = hash & mask; ix->slots[slot]; slot = (slot + 1) & mask)
		;
	ix->slots[slot] = (uint32_t)(pos + 1);
}
/* Accepts NULL and an index never reset. Leaves ix empty. */
void oa_index_free(struct oa_index *ix);
/* Bytes of slots. */
static inline size_t oa_index_bytes(const struct oa_index *ix)
{
	return ix->cap * sizeof(*ix->slots);
}

/* Probing: the first candidate position for hash (*slot set for
 * oa_index_next), or OA_NONE when there is none. */
static inline size_t oa_index_first(const struct oa_index *ix, uint32_t hash, size_t *slot)
{
	if (!ix->cap)
		return OA_NONE;
	*slot = hash & (ix->cap - 1);
	return ix->slots[*slot] ? ix->slots[*slot] - 1 : OA_NONE;
}

/* The next candidate position of the same probe, or OA_NONE. */
static inline size_t oa_index_next(const struct oa_index *ix, size_t *slot)
{
	*slot = (*slot + 1) & (ix->cap - 1);
	return ix->slots[*slot] ? ix->slots[*slot] - 1 : OA_NONE;
}

#endif
