/* sockdiag_parse: decode one inet_diag reply into a sock_record.
 * Pure and allocation-free: it only reads the bytes it is given, so it is
 * unit tested on recorded dumps and fuzzed. */
#include "sockdiag.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

static void copy_tcp_info(struct sock_record *out, const void *data, size_t len)
{
	/* The kernel sends the struct as it knows it: older kernels send
	 * less (newer fields stay 0), newer kernels more (ignored). */
	size_t n = len < sizeof(out->info) ? len : sizeof(out->info);

	memcpy(&out->info, data, n);
	out->has_info = true;
	out->info_len = len > UINT16_MAX ? UINT16_MAX : (uint16_t)len;
}

int sockdiag_parse(const struct nlmsghdr *nlh, struct sock_record *out)
{
	const struct inet_diag_msg *m;
	const struct rtattr *rta;
	size_t off, total;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	m = NLMSG_DATA(nlh);

	memset(out, 0, sizeof(*out));
	out->family = m->idiag_family;
	out->state = m->idiag_state;
	out->timer = m->idiag_timer;
	out->retrans = m->idiag_retrans;
	out->sport = ntohs(m->id.idiag_sport);
	out->dport = ntohs(m->id.idiag_dport);
	if (m->idiag_family == AF_INET) {
		memcpy(out->saddr, m->id.idiag_src, 4);
		memcpy(out->daddr, m->id.idiag_dst, 4);
	} else if (m->idiag_family == AF_INET6) {
		memcpy(out->saddr, m->id.idiag_src, 16);
		memcpy(out->daddr, m->id.idiag_dst, 16);
	} else {
		return -EBADMSG;
	}
	out->expires_ms = m->idiag_expires;
	out->rqueue = m->idiag_rqueue;
	out->wqueue = m->idiag_wqueue;
	out->uid = m->idiag_uid;
	out->inode = m->idiag_inode;
	out->cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];

	total = nlh->nlmsg_len;
	off = NLMSG_LENGTH(sizeof(*m));
	off = NLMSG_ALIGN(off);
	/* Attributes: bounds-checked by hand rather than with RTA_OK on a
	 * signed length, so a hostile length can never wrap. */
	while (off + sizeof(struct rtattr) <= total) {
		size_t alen, plen;
		const void *payload;

		rta = (const struct rtattr *)((const char *)nlh + off);
		alen = rta->rta_len;
		if (alen < sizeof(struct rtattr) || alen > total - off)
			return -EBADMSG;
		payload = RTA_DATA(rta);
		plen = alen - RTA_LENGTH(0);
		switch (rta->rta_type & NLA_TYPE_MASK) {
		case INET_DIAG_INFO:
			copy_tcp_info(out, payload, plen);
			break;
		case INET_DIAG_CGROUP_ID:
			if (plen >= sizeof(uint64_t))
				memcpy(&out->cgroup_id, payload, sizeof(uint64_t));
			break;
		default:
			break;
		}
		off += RTA_ALIGN(alen);
	}
	return 0;
}
