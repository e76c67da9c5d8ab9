/* bcrypt_hash.h: a real bcrypt hash of a password for the tests of basic
 * auth (test_web_config.c, test_http_hardening.c), made by libcrypt as
 * htpasswd would. */
#ifndef HALFOPEN_TEST_BCRYPT_HASH_H
#define HALFOPEN_TEST_BCRYPT_HASH_H

#include <crypt.h>
#include <stdio.h>
#include <string.h>

/* Hash password at cost into out; 0, or -1 when libcrypt cannot make
 * bcrypt ($2y$) hashes here. */
static inline int bcrypt_hash(const char *password, int cost, char *out, size_t out_len)
{
	struct crypt_data cd;
	const char *salt, *h;

	memset(&cd, 0, sizeof(cd));
	salt = crypt_gensalt_rn("$2y$", (unsigned long)cost, NULL, 0, cd.setting,
				(int)sizeof(cd.setting));
	h = salt ? crypt_rn(password, salt, &cd, (int)sizeof(cd)) : NULL;
	if (!h || h[0] != '$')
		return -1;
	snprintf(out, out_len, "%s", h);
	return 0;
}

#endif
