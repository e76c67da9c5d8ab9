/* libFuzzer: conntrack_parse_flow() and conntrack_parse_cpu_stats(), the
 * ctnetlink message parsers, on arbitrary datagrams: every message the
 * walk accepts goes through both, as the conntrack dumps do with what
 * the kernel sends, and a parsed flow through the NAT test and the flow
 * keys, as conntrack_keep_flow() does. Seeded with the messages of
 * tests/fixtures/conntrack.nldump and conntrack_stats.nldump. */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/conntrack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_cpu_stats st;
	struct ct_flow f;
	const char *p;
	void *buf;
	size_t rem = size;

	/* An exact-size copy lets ASan see any read past the datagram. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(&st, 0, sizeof(st));
	for (p = buf; rem >= sizeof(struct nlmsghdr);) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)p;
		size_t adv;

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > rem)
			break;
		memset(&f, 0xa5, sizeof(f));
		if (conntrack_parse_flow(h, &f) == 0) {
			volatile uint64_t k = conntrack_tuple_key(&f.orig) ^ conntrack_tuple_key(&f.reply);

			(void)k;
			(void)conntrack_flow_nat(&f);
		}
		(void)conntrack_parse_cpu_stats(h, &st);
		adv = NLMSG_ALIGN(h->nlmsg_len);
		if (adv >= rem)
			break;
		p += adv;
		rem -= adv;
	}
	free(buf);
	return 0;
}
