/* web_users: basic_auth_users, user names and their bcrypt hashes, each
 * checked to be a hash libcrypt verifies at a cost a request can afford. */
#include "config/web_parse.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether hash looks like a bcrypt hash libcrypt will verify: "$2y$NN$"
 * then 53 characters of bcrypt's base64. */
static bool is_bcrypt(const char *hash, size_t len)
{
	int cost;

	if (len != 60 || hash[0] != '$' || hash[1] != '2' ||
	    (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$' ||
	    hash[6] != '$' || hash[4] < '0' || hash[4] > '3' || hash[5] < '0' || hash[5] > '9')
		return false;
	/* libcrypt takes cost 99 here and then fails every check. */
	cost = (hash[4] - '0') * 10 + (hash[5] - '0');
	if (cost < 4 || cost > 31)
		return false;
	return crypt_checksalt(hash) == CRYPT_SALT_OK;
}

static int bcrypt_cost(const char *hash)
{
	return (hash[4] - '0') * 10 + (hash[5] - '0');
}

/* Contract: user "name: hash" into its slot user; the hash is checked to
 * be bcrypt at an affordable cost and is never quoted back. */
static int parse_user(struct ytree *c, yaml_node_t *k, const char *name, yaml_node_t *v,
		      const char *path, void *user, void *ctx)
{
	struct web_config *wc = ctx;
	struct web_user *u = user;
	size_t i = (size_t)(u - wc->users);
	const char *hash;
	size_t j;
	int rc;

	if (strchr(name, ':'))
		return ytree_fail(c, k, path,
				  "user name contains ':', which Basic authentication cannot "
				  "carry");
	for (j = 0; j < i; j++)
		if (strcmp(wc->users[j].name, name) == 0)
			return ytree_fail(c, k, path, "duplicate user");
	rc = ytree_scalar(c, v, path, "a bcrypt password hash", &hash);
	if (rc)
		return rc;
	/* The value is never quoted back: it may be a password typed where
	 * its hash belongs. */
	if (!is_bcrypt(hash, v->data.scalar.length))
		return ytree_fail(c, v, path,
				  "not a bcrypt hash (want $2y$, $2b$ or $2a$, cost 04..31, 60 "
				  "characters); make one with `htpasswd -nbBC 10 USER PASS` or "
				  "Python's bcrypt.hashpw");
	if (bcrypt_cost(hash) > WEB_BCRYPT_MAX_COST)
		return ytree_fail(c, v, path,
				  "bcrypt cost %d is more than %d: every request would "
				  "hold a CPU for seconds; rehash with a cost of 10 to 12",
				  bcrypt_cost(hash), WEB_BCRYPT_MAX_COST);
	u->name = strdup(name);
	u->hash = strdup(hash);
	if (!u->name || !u->hash)
		return ytree_nomem(c);
	return 0;
}

int web_parse_users(struct ytree *c, yaml_node_t *n, struct web_config *wc)
{
	static const struct ylist users = {
	    .pairs = true,
	    .noun = "users",
	    .max = WEB_CONFIG_MAX_USERS,
	    .size = sizeof(struct web_user),
	    .pair = parse_user,
	    .key_want = "a user name",
	};
	int rc, max_cost = 4;
	size_t i;

	rc = ytree_list(c, n, "basic_auth_users", &users, &wc->users, &wc->n_users, wc);
	if (rc || !wc->users)
		return rc;
	/* Each cost is 4..WEB_BCRYPT_MAX_COST by now; the bound is for the
	 * compiler's view of the snprintf below. */
	for (i = 0; i < wc->n_users; i++) {
		int cost = bcrypt_cost(wc->users[i].hash);

		if (cost > max_cost && cost <= WEB_BCRYPT_MAX_COST)
			max_cost = cost;
	}
	/* bcrypt's base64 of an all-zero salt and digest: no password's
	 * digest is all zeros in practice, and the cost is what matters. */
	snprintf(wc->dummy_hash, sizeof(wc->dummy_hash), "$2b$%02d$%s", max_cost,
		 ".....................................................");
	return 0;
}
