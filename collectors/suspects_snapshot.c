/* suspects_snapshot: the worst suspects, copied out of the tracker for
 * another thread (the /sockets page). */
#include "suspects_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sort_key {
	uint32_t unanswered_ms;
	uint32_t idle_ms;
	uint64_t since_ms;
	uint64_t cookie;
	uint32_t severity; /* higher is worse */
	uint32_t pos;
};

static uint32_t severity_of(unsigned conds)
{
	for (int c = 0; c < SUSPECT_NCOND; c++)
		if (conds & (1u << c))
			return SUSPECT_NCOND - (uint32_t)c;
	return 0;
}

#define CMP_DESC(a, b)                                                                             \
	do {                                                                                       \
		if ((a) != (b))                                                                    \
			return (a) > (b) ? -1 : 1;                                                 \
	} while (0)

static int cmp_worst(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	CMP_DESC(a->unanswered_ms, b->unanswered_ms);
	CMP_DESC(a->severity, b->severity);
	CMP_DESC(a->idle_ms, b->idle_ms);
	CMP_DESC(b->since_ms, a->since_ms); /* older first */
	CMP_DESC(b->cookie, a->cookie);
	return 0;
}

/* Contract: sort keys of every suspect (small, so sorting 100k is cheap),
 * the first max_rows become rows, and their strings are copied into one
 * arena sized in a first pass, so the snapshot points into nothing of the
 * tracker's. */
int suspects_snapshot(const struct suspects *t, size_t max_rows, struct suspect_snapshot **out)
{
	struct suspect_snapshot *snap = calloc(1, sizeof(*snap));
	struct sort_key *keys = NULL;
	size_t m = t->n < max_rows ? t->n : max_rows, bytes = 0;
	char *p;
	int r = -ENOMEM;

	if (!snap)
		return -ENOMEM;
	if (t->n) {
		keys = malloc(t->n * sizeof(*keys));
		if (!keys)
			goto fail;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct suspect *s = &t->v[i];

		keys[i] = (struct sort_key){
		    .unanswered_ms = s->unanswered_ms,
		    .idle_ms = s->idle_ms,
		    .since_ms = s->suspect_since_ms,
		    .cookie = s->cookie,
		    .severity = severity_of(s->prev),
		    .pos = (uint32_t)i,
		};
	}
	if (t->n)
		qsort(keys, t->n, sizeof(*keys), cmp_worst);
	if (m) {
		snap->rows = calloc(m, sizeof(*snap->rows));
		if (!snap->rows)
			goto fail;
	}
	for (size_t k = 0; k < m; k++) {
		suspects_fill_info(t, &t->v[keys[k].pos], &snap->rows[k]);
		bytes += strlen(snap->rows[k].service) + strlen(snap->rows[k].pod_namespace) +
			 strlen(snap->rows[k].pod) + 3;
	}
	snap->arena = malloc(bytes ? bytes : 1);
	if (!snap->arena)
		goto fail;
	p = snap->arena;
	for (size_t k = 0; k < m; k++) {
		const char **fields[3] = {&snap->rows[k].service, &snap->rows[k].pod_namespace,
					  &snap->rows[k].pod};

		for (int f = 0; f < 3; f++) {
			size_t l = strlen(*fields[f]) + 1;

			memcpy(p, *fields[f], l);
			*fields[f] = p;
			p += l;
		}
	}
	snap->n_rows = m;
	snap->total = t->n;
	snap->dropped = t->dropped_total;
	snap->now_ms = t->now_ms;
	atomic_init(&snap->refs, 1);
	free(keys);
	*out = snap;
	return 0;
fail:
	free(keys);
	free(snap->rows);
	free(snap);
	return r;
}

struct suspect_snapshot *suspect_snapshot_ref(struct suspect_snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void suspect_snapshot_unref(struct suspect_snapshot *s)
{
	if (!s)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(s->arena);
	free(s->rows);
	free(s);
}
