/* libFuzzer: sockdiag_parse(), the netlink message parser, on arbitrary
 * datagrams: every message NLMSG_OK accepts goes through it, as
 * sockdiag_dump() does with what the kernel sends, and what it parses goes
 * through the classifier (classify_socket), as in a collection. Seeded with
 * the messages of tests/fixtures/states.nldump, one per file. */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/classify.h"
#include "collectors/sock_record.h"
#include "collectors/sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sock_record rec;
	const char *p;
	void *buf;
	size_t rem = size;

	/* The kernel's datagrams are 4-byte aligned; an exact-size copy also
	 * lets ASan see any read past the datagram. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* Not NLMSG_NEXT: with a size_t length it wraps past an unaligned
	 * last message (see docs/security.md, "Fuzzing"). */
	for (p = buf; rem >= sizeof(struct nlmsghdr);) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)p;
		size_t adv;

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > rem)
			break;
		memset(&rec, 0xa5, sizeof(rec));
		if (sockdiag_parse(h, &rec) == 0) {
			struct classification cl;

			classify_socket(&rec, 1000, &cl);
			classify_socket(&rec, 0, &cl);
		}
		adv = NLMSG_ALIGN(h->nlmsg_len);
		if (adv >= rem)
			break;
		p += adv;
		rem -= adv;
	}
	free(buf);
	return 0;
}
