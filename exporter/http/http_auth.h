/* Password checks off the HTTP workers.
 *
 * bcrypt costs tens of milliseconds of CPU by design. Run on the workers
 * that serve scrapes, a few clients sending wrong passwords would delay
 * every scrape; so checks go to a small pool of niced threads with a
 * bounded queue, at most a few queued per source address, and a
 * credential that keeps failing from one address is refused there without
 * a check for a while (never another credential: an attacker sharing a
 * scraper's address, behind SNAT say, cannot lock the scraper out). The pool is
 * generic: the caller's done() callback resumes whatever waited. */
#ifndef HALFOPEN_HTTP_AUTH_H
#define HALFOPEN_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_THREADS	    1u	/* one core stays for scrapes and collections */
#define AUTH_QUEUE_MAX	    16u /* checks queued or running, all sources */
#define AUTH_PER_SOURCE	    2u	/* of which from one address */
#define AUTH_FAIL_LIMIT	    5u	/* failures of one credential from one source ... */
#define AUTH_FAIL_WINDOW_MS (10u * 1000u) /* ... in this window: refused unchecked */
#define AUTH_FAIL_ENTRIES   256u	  /* (source, credential) pairs remembered */
#define AUTH_THREAD_NICE    10

struct auth_job {
	struct auth_job *next; /* the pool's */
	char *pass;	       /* owned by the job's submitter; wiped by it */
	const char *hash;      /* kept alive by the submitter until done() */
	unsigned char src[16]; /* the client's address, IPv4 as mapped IPv6 */
	/* What is checked, as a digest (user, password, hash): failures are
	 * counted per (source, key), so a wrong password sent from an
	 * address never locks out the right one from there. */
	unsigned char key[32];
	bool ok;	       /* the result, set before done() */
	/* Called under the pool's lock once the job is admitted, before a
	 * thread can take it (to suspend what waits: done() cannot come
	 * first). May be NULL. */
	void (*admitted)(struct auth_job *j);
	void (*done)(struct auth_job *j);
	void *arg;
};

struct auth_pool;

/* 0 and *out, or -errno (threads could not start). */
int auth_pool_new(struct auth_pool **out);
/* Contract: queue j; done(j) is then called exactly once, from a pool
 * thread (or from auth_pool_free()). 0, -EBUSY (queue full, or the source
 * has AUTH_PER_SOURCE checks queued), -EACCES (this credential failed
 * AUTH_FAIL_LIMIT times from this source in the window: refused without a
 * check), or
 * -ECANCELED (stopping). On error done() is never called. */
int auth_pool_submit(struct auth_pool *p, struct auth_job *j);
/* Stops the threads; jobs still queued get done() with ok false, and
 * submits from then on -ECANCELED. Idempotent; NULL ok. */
void auth_pool_stop(struct auth_pool *p);
/* auth_pool_stop(), then frees. NULL ok. */
void auth_pool_free(struct auth_pool *p);

/* Whether n bytes of a and b are equal, in time independent of where
 * they differ. */
bool auth_ct_equal(const void *a, const void *b, size_t n);

/* Contract: whether pass matches the bcrypt hash, compared in constant
 * time. Allocates libcrypt's 32 KiB state (false if it cannot). */
bool auth_bcrypt_matches(const char *pass, const char *hash);

/* Contract: split an Authorization header value of the Basic scheme
 * (scheme name case-insensitive, RFC 7617) into malloc()ed user and
 * password. 0; -EINVAL when it decodes to a NUL byte (a credential cut
 * short there must not match: the caller answers 400); -ENOENT for
 * anything else that is no usable credential (NULL, another scheme,
 * malformed base64, no ':'); -ENOMEM. */
int auth_parse_basic(const char *value, char **user, char **pass);

#endif
