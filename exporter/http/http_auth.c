#include "http_auth.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct fail_entry {
	unsigned char src[16];
	unsigned char key[32];
	uint64_t window_ms; /* start of the window; 0: free */
	unsigned fails;
};

struct auth_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	struct auth_job *head, *tail;
	unsigned pending; /* queued or running */
	unsigned n_threads;
	pthread_t threads[AUTH_THREADS];
	/* Sources of checks running now, to count them per source. */
	struct auth_job *running[AUTH_THREADS];
	struct fail_entry fails[AUTH_FAIL_ENTRIES];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool auth_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

bool auth_bcrypt_matches(const char *pass, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	bool ok = false;

	if (!cd)
		return false;
	out = crypt_rn(pass, hash, cd, (int)sizeof(*cd));
	if (out && strlen(out) == strlen(hash) && auth_ct_equal(out, hash, strlen(hash)))
		ok = true;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int auth_parse_basic(const char *value, char **user, char **pass)
{
	gnutls_datum_t in, out = {NULL, 0};
	const char *p = value;
	char *colon;
	int ret;

	*user = *pass = NULL;
	if (!p || strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return -ENOENT;
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	in.data = (unsigned char *)p;
	in.size = (unsigned)strcspn(p, " \t");
	if (in.size == 0 || p[in.size + strspn(p + in.size, " \t")] != '\0')
		return -ENOENT;
	if (gnutls_base64_decode2(&in, &out) < 0)
		return -ENOENT;
	ret = -EINVAL;
	if (memchr(out.data, '\0', out.size))
		goto out;
	ret = -ENOENT;
	colon = memchr(out.data, ':', out.size);
	if (!colon)
		goto out;
	ret = -ENOMEM;
	*user = strndup((char *)out.data, (size_t)(colon - (char *)out.data));
	*pass = strndup(colon + 1, out.size - (size_t)(colon + 1 - (char *)out.data));
	if (!*user || !*pass) {
		free(*user);
		if (*pass)
			explicit_bzero(*pass, strlen(*pass));
		free(*pass);
		*user = *pass = NULL;
		goto out;
	}
	ret = 0;
out:
	explicit_bzero(out.data, out.size);
	gnutls_free(out.data);
	return ret;
}

/* The failure entry of (the job's source, its credential), or NULL.
 * Under the lock. */
static struct fail_entry *fail_find(struct auth_pool *p, const struct auth_job *j, uint64_t now)
{
	for (unsigned i = 0; i < AUTH_FAIL_ENTRIES; i++) {
		struct fail_entry *e = &p->fails[i];

		if (e->window_ms && now - e->window_ms < AUTH_FAIL_WINDOW_MS &&
		    memcmp(e->src, j->src, 16) == 0 && memcmp(e->key, j->key, 32) == 0)
			return e;
	}
	return NULL;
}

/* One more failure for the job's (source, credential): into its entry, a
 * free or expired one, or over the oldest window. Under the lock. */
static void fail_note(struct auth_pool *p, const struct auth_job *j)
{
	uint64_t now = mono_ms();
	struct fail_entry *e = fail_find(p, j, now), *victim = &p->fails[0];

	if (!e) {
		for (unsigned i = 0; i < AUTH_FAIL_ENTRIES; i++) {
			struct fail_entry *f = &p->fails[i];

			if (!f->window_ms || now - f->window_ms >= AUTH_FAIL_WINDOW_MS) {
				victim = f;
				break;
			}
			if (f->window_ms < victim->window_ms)
				victim = f;
		}
		e = victim;
		memcpy(e->src, j->src, 16);
		memcpy(e->key, j->key, 32);
		e->window_ms = now ? now : 1;
		e->fails = 0;
	}
	e->fails++;
}

static unsigned pending_from(const struct auth_pool *p, const unsigned char src[16])
{
	unsigned n = 0;

	for (const struct auth_job *j = p->head; j; j = j->next)
		n += memcmp(j->src, src, 16) == 0;
	for (unsigned i = 0; i < AUTH_THREADS; i++)
		n += p->running[i] && memcmp(p->running[i]->src, src, 16) == 0;
	return n;
}

int auth_pool_submit(struct auth_pool *p, struct auth_job *j)
{
	struct fail_entry *e;
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	e = fail_find(p, j, mono_ms());
	if (p->stopping)
		ret = -ECANCELED;
	else if (e && e->fails >= AUTH_FAIL_LIMIT)
		ret = -EACCES;
	else if (p->pending >= AUTH_QUEUE_MAX || pending_from(p, j->src) >= AUTH_PER_SOURCE)
		ret = -EBUSY;
	if (ret == 0) {
		j->next = NULL;
		j->ok = false;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->pending++;
		if (j->admitted)
			j->admitted(j);
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

struct thread_arg {
	struct auth_pool *p;
	unsigned slot;
};

static void *auth_thread(void *arg)
{
	struct auth_pool *p = ((struct thread_arg *)arg)->p;
	unsigned slot = ((struct thread_arg *)arg)->slot;
	struct auth_job *j;

	free(arg);
	/* Scrapes first: the workers keep the default priority. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), AUTH_THREAD_NICE);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->running[slot] = j;
		pthread_mutex_unlock(&p->lock);
		j->ok = auth_bcrypt_matches(j->pass, j->hash);
		pthread_mutex_lock(&p->lock);
		p->running[slot] = NULL;
		p->pending--;
		if (!j->ok)
			fail_note(p, j);
		/* done() may resume a connection, which takes MHD's locks;
		 * never under ours. */
		pthread_mutex_unlock(&p->lock);
		j->done(j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int auth_pool_new(struct auth_pool **out)
{
	struct auth_pool *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	ret = -pthread_mutex_init(&p->lock, NULL);
	if (ret) {
		free(p);
		return ret;
	}
	ret = -pthread_cond_init(&p->cond, NULL);
	if (ret) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return ret;
	}
	for (unsigned i = 0; i < AUTH_THREADS; i++) {
		struct thread_arg *a = malloc(sizeof(*a));

		if (!a) {
			ret = -ENOMEM;
			break;
		}
		a->p = p;
		a->slot = i;
		ret = -pthread_create(&p->threads[i], NULL, auth_thread, a);
		if (ret) {
			free(a);
			break;
		}
		p->n_threads++;
	}
	if (ret) {
		auth_pool_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void auth_pool_stop(struct auth_pool *p)
{
	struct auth_job *j;
	unsigned n;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	n = p->n_threads;
	p->n_threads = 0;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
	/* No thread left and no submit admitted: the queue is ours. */
	while ((j = p->head)) {
		p->head = j->next;
		j->ok = false;
		j->done(j);
	}
	p->tail = NULL;
}

void auth_pool_free(struct auth_pool *p)
{
	if (!p)
		return;
	auth_pool_stop(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
