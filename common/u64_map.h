/* u64_map: a flat map of 64-bit keys to 64-bit values (a dense array in
 * insertion order with an oa_index by key), for the per-collection
 * tables keyed by a socket cookie or a flow's tuple hash.
 *
 * No deletion: a per-collection table is cleared and refilled, and
 * clearing keeps the memory, so a table of a steady size allocates
 * nothing in steady state. Bounded: put() refuses past max entries. */
#ifndef HALFOPEN_U64_MAP_H
#define HALFOPEN_U64_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "oa_index.h"

struct u64_map_entry {
	uint64_t key;
	uint64_t val;
};

struct u64_map {
	struct u64_map_entry *v;
	size_t n, cap;
	size_t max;	    /* entries at most; 0: OA_INDEX_MAX_ENTRIES */
	struct oa_index ix; /* of v, by key */
};

/* An empty map of at most max entries (0: no bound but the index's). */
void u64_map_init(struct u64_map *m, size_t max);
/* Accepts NULL. Leaves m empty (usable again after u64_map_init). */
void u64_map_free(struct u64_map *m);
/* Forget every entry, keeping the memory. Cannot fail. */
void u64_map_clear(struct u64_map *m);
/* The value stored under key, or NULL. */
uint64_t *u64_map_find(const struct u64_map *m, uint64_t key);
/* Append (key, val); the caller knows key is absent (find first). 0,
 * -E2BIG at max entries, -ENOMEM. */
int u64_map_put(struct u64_map *m, uint64_t key, uint64_t val);
/* The value under key, adding (key, val) first when absent: one probe
 * for both (the per-socket path). *added tells which. NULL: -E2BIG or
 * -ENOMEM in *err (may be NULL), the map unchanged. */
uint64_t *u64_map_upsert(struct u64_map *m, uint64_t key, uint64_t val, int *added, int *err);
/* Bytes held (array and index), for memory figures. */
size_t u64_map_bytes(const struct u64_map *m);

#endif
