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
