#include "config/config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Largest to smallest: Prometheus requires this order and each unit at most
 * once, so "1h30m" is accepted and "30m1h" or "1m1m" are not. */
static const struct {
	const char *suffix;
	size_t len;
	uint64_t ms;
} units[] = {
    {"d", 1, 24u * 60u * 60u * 1000u},
    {"h", 1, 60u * 60u * 1000u},
    {"m", 1, 60u * 1000u},
    {"s", 1, 1000u},
    {"ms", 2, 1u},
};

#define N_UNITS (sizeof(units) / sizeof(units[0]))

/* The unit at s, longest match first so "ms" is not read as "m" followed by
 * garbage. N_UNITS when s starts no unit. */
static size_t match_unit(const char *s)
{
	size_t best = N_UNITS, i;

	for (i = 0; i < N_UNITS; i++) {
		if (strncmp(s, units[i].suffix, units[i].len) != 0)
			continue;
		if (best == N_UNITS || units[i].len > units[best].len)
			best = i;
	}
	return best;
}

/* See config.h. The syntax is checked to the end before overflow is
 * reported, so -ERANGE always means "well formed but too long". A bare "0"
 * is accepted as Prometheus does; every other number needs a unit. */
int parse_duration_ms(const char *s, uint32_t *out_ms)
{
	uint64_t total = 0;
	size_t next_unit = 0; /* units before this index are used up */
	const char *p = s;

	if (!s || !out_ms || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	while (*p) {
		uint64_t v = 0;
		size_t u;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		/* Saturate just past the limit instead of wrapping: any
		 * value above UINT32_MAX overflows whatever its unit. */
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > (uint64_t)UINT32_MAX + 1)
				v = (uint64_t)UINT32_MAX + 1;
		}
		u = match_unit(p);
		if (u == N_UNITS || u < next_unit)
			return -EINVAL;
		p += units[u].len;
		next_unit = u + 1;
		/* v <= 2^32 and ms < 2^27, five terms at most: no wrap. */
		total += v * units[u].ms;
	}
	if (total > UINT32_MAX)
		return -ERANGE;
	*out_ms = (uint32_t)total;
	return 0;
}
