/* hash: FNV-1a (32-bit), the one string hash of the tree's hash tables,
 * and splitmix64's finalizer for integer keys.
 *
 * Composable: start from FNV1A_INIT (or any seed), feed strings and small
 * integers in order, use the result. Each string is followed by a 0xff
 * separator, a byte no valid UTF-8 text contains, so ("ab", "c") and
 * ("a", "bc") hash differently. */
#ifndef HALFOPEN_HASH_H
#define HALFOPEN_HASH_H

#include <stdint.h>

#define FNV1A_INIT  2166136261u
#define FNV1A_PRIME 16777619u

/* h extended by the bytes of s and a separator. */
uint32_t fnv1a_str(uint32_t h, const char *s);
/* h extended by one small value (an enum, an index) as a single step. */
uint32_t fnv1a_u32(uint32_t h, uint32_t v);

/* x mixed so that sequential keys (socket cookies, inode numbers) spread
 * over an index: splitmix64's finalizer. Inline: it is on the per-socket
 * path. Full width, so keys of several words (a flow's tuple) chain it. */
static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* hash_mix64, truncated to an index hash. */
static inline uint32_t hash_u64(uint64_t x)
{
	return (uint32_t)hash_mix64(x);
}

#endif
