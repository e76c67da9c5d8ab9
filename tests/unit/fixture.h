/* fixture.h: iterate the netlink messages of a recorded dump
 * (tests/fixtures/NAME.nldump: raw datagrams as the kernel sent them). */
#ifndef HALFOPEN_TEST_FIXTURE_H
#define HALFOPEN_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "collectors/sockdiag.h"

/* Read a whole file; NULL on error. */
static inline char *fixture_read(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *data = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)n);
		if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return data;
}

/* Parse every SOCK_DIAG_BY_FAMILY message; cb(rec, ctx) for each.
 * Returns the number parsed, or -1 on a parse error. */
static inline int fixture_each(const char *data, size_t len,
			       void (*cb)(const struct sock_record *, void *), void *ctx)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)data;
	struct sock_record rec;
	size_t rem = len;
	int n = 0;

	for (; NLMSG_OK(h, rem); h = NLMSG_NEXT(h, rem)) {
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		if (sockdiag_parse(h, &rec) < 0)
			return -1;
		cb(&rec, ctx);
		n++;
	}
	return n;
}

#endif
