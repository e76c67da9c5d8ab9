/* counts: the counting of one collection, pure: classified sockets into
 * per-service counts (one per class of sock_classes.h), and counts
 * merged across namespaces. */
#include "counts.h"

#include <stdlib.h>

static void keep_max(uint32_t *longest, uint32_t v)
{
	if (v > *longest)
		*longest = v;
}

void service_counts_add(struct service_counts *c, const struct classification *cls)
{
	unsigned f = cls->flags;

#define SOCK_CLASS_X(id, field, help) c->field += !!(f & SC_##id);
	SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X
	keep_max(&c->longest_unanswered_ms, cls->unanswered_ms);
	keep_max(&c->longest_hanging_ms, cls->hanging_ms);
}

void service_counts_merge(struct service_counts *a, const struct service_counts *b)
{
#define SOCK_CLASS_X(id, field, help) a->field += b->field;
	SOCK_CLASSES(SOCK_CLASS_X, SOCK_CLASS_AS_CLASS)
#undef SOCK_CLASS_X
	keep_max(&a->longest_unanswered_ms, b->longest_unanswered_ms);
	keep_max(&a->longest_hanging_ms, b->longest_hanging_ms);
}

void collection_result_free(struct collection_result *res)
{
	if (!res)
		return;
	free(res->services);
	res->services = NULL;
	res->n_services = res->cap_services = 0;
}
