/* hash: FNV-1a, http://www.isthe.com/chongo/tech/comp/fnv/ */
#include "hash.h"

uint32_t fnv1a_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * FNV1A_PRIME;
	return (h ^ 0xff) * FNV1A_PRIME;
}

uint32_t fnv1a_u32(uint32_t h, uint32_t v)
{
	return (h ^ v) * FNV1A_PRIME;
}

uint32_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint32_t)x;
}
