/* common/hash: FNV-1a against the published test vectors, the string
 * separator, and values pinned so a change to the hash is a decision. */
#include "common/hash.h"
#include "testing.h"

DEF_TEST(published_vectors)
{
	/* FNV-1a 32 of "a" and "foobar" (draft-eastlake-fnv), then the
	 * separator byte 0xff as one more step. */
	CHECK_EQ_UINT(fnv1a_u32(0xe40c292cu, 0xff), fnv1a_str(FNV1A_INIT, "a"));
	CHECK_EQ_UINT(fnv1a_u32(0xbf9cf968u, 0xff), fnv1a_str(FNV1A_INIT, "foobar"));
	CHECK_EQ_UINT(0x7a0b824eu, fnv1a_str(FNV1A_INIT, ""));
	return 0;
}

DEF_TEST(separator_splits_fields)
{
	uint32_t ab_c = fnv1a_str(fnv1a_str(FNV1A_INIT, "ab"), "c");
	uint32_t a_bc = fnv1a_str(fnv1a_str(FNV1A_INIT, "a"), "bc");

	CHECK(ab_c != a_bc);
	CHECK(fnv1a_str(FNV1A_INIT, "x") != fnv1a_str(fnv1a_str(FNV1A_INIT, "x"), ""));
	return 0;
}

DEF_TEST(pinned_keys)
{
	/* The collector's (service, direction, pod namespace, pod) key and
	 * the suspect tracker's (service, direction). */
	CHECK_EQ_UINT(0xd0c6ba30u,
		      fnv1a_u32(fnv1a_str(fnv1a_str(fnv1a_str(FNV1A_INIT, "web"), ""), ""), 0));
	CHECK_EQ_UINT(0x07038006u, fnv1a_u32(fnv1a_str(FNV1A_INIT, "postgres"), 1));
	CHECK(fnv1a_u32(fnv1a_str(FNV1A_INIT, "postgres"), 0) !=
	      fnv1a_u32(fnv1a_str(FNV1A_INIT, "postgres"), 1));
	return 0;
}

int main(void)
{
	RUN_TEST(published_vectors);
	RUN_TEST(separator_splits_fields);
	RUN_TEST(pinned_keys);
	END_TEST;
}
