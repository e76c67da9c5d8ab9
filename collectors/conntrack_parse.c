/* conntrack_parse: decode ctnetlink dump messages. Pure and
 * allocation-free, like sockdiag_parse: bounds-checked by hand, unit
 * tested on recorded dumps. */
#include "conntrack.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include "common/hash.h"

/* Index the attributes in [data, data + len) by type into tb[0..max]
 * (sized by the caller for its level, so a parse clears only what it
 * uses): 0 or -EBADMSG. Later duplicates win; types over max are
 * skipped. */
static int index_attrs(const void *data, size_t len, int max, const struct nlattr **tb)
{
	size_t off = 0;

	memset(tb, 0, (size_t)(max + 1) * sizeof(*tb));
	while (off + NLA_HDRLEN <= len) {
		const struct nlattr *a = (const struct nlattr *)((const char *)data + off);
		int type = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			return -EBADMSG;
		if (type <= max)
			tb[type] = a;
		off += NLA_ALIGN(a->nla_len);
	}
	return 0;
}

static const void *payload(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static size_t payload_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static int nested(const struct nlattr *a, int max, const struct nlattr **tb)
{
	return index_attrs(payload(a), payload_len(a), max, tb);
}

static int get_be16(const struct nlattr *a, uint16_t *v)
{
	uint16_t n;

	if (!a || payload_len(a) < sizeof(n))
		return -EBADMSG;
	memcpy(&n, payload(a), sizeof(n));
	*v = ntohs(n);
	return 0;
}

static int get_be32(const struct nlattr *a, uint32_t *v)
{
	uint32_t n;

	if (!a || payload_len(a) < sizeof(n))
		return -EBADMSG;
	memcpy(&n, payload(a), sizeof(n));
	*v = ntohl(n);
	return 0;
}

static int get_addr(const struct nlattr *a, size_t len, uint8_t *dst)
{
	if (!a || payload_len(a) < len)
		return -EBADMSG;
	memcpy(dst, payload(a), len);
	return 0;
}

/* CTA_TUPLE_{ORIG,REPLY}: CTA_TUPLE_IP {addresses} + CTA_TUPLE_PROTO
 * {number, ports}. Ports only for protocols that have them. */
static int parse_tuple(const struct nlattr *t, struct ct_tuple *out)
{
	const struct nlattr *top[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *proto[CTA_PROTO_MAX + 1];
	uint8_t num;
	int r;

	memset(out, 0, sizeof(*out));
	r = nested(t, CTA_TUPLE_MAX, top);
	if (r < 0 || !top[CTA_TUPLE_IP] || !top[CTA_TUPLE_PROTO])
		return -EBADMSG;
	if (nested(top[CTA_TUPLE_IP], CTA_IP_MAX, ip) < 0 ||
	    nested(top[CTA_TUPLE_PROTO], CTA_PROTO_MAX, proto) < 0)
		return -EBADMSG;
	if (ip[CTA_IP_V4_SRC]) {
		out->family = AF_INET;
		r = get_addr(ip[CTA_IP_V4_SRC], 4, out->src);
		if (r == 0)
			r = get_addr(ip[CTA_IP_V4_DST], 4, out->dst);
	} else if (ip[CTA_IP_V6_SRC]) {
		out->family = AF_INET6;
		r = get_addr(ip[CTA_IP_V6_SRC], 16, out->src);
		if (r == 0)
			r = get_addr(ip[CTA_IP_V6_DST], 16, out->dst);
	} else {
		r = -EBADMSG;
	}
	if (r < 0)
		return r;
	if (!proto[CTA_PROTO_NUM] || payload_len(proto[CTA_PROTO_NUM]) < 1)
		return -EBADMSG;
	memcpy(&num, payload(proto[CTA_PROTO_NUM]), 1);
	out->proto = num;
	if (proto[CTA_PROTO_SRC_PORT] && get_be16(proto[CTA_PROTO_SRC_PORT], &out->sport) < 0)
		return -EBADMSG;
	if (proto[CTA_PROTO_DST_PORT] && get_be16(proto[CTA_PROTO_DST_PORT], &out->dport) < 0)
		return -EBADMSG;
	return 0;
}

/* The message's type within NFNL_SUBSYS_CTNETLINK and its attributes
 * after the nfgenmsg, or -ENOMSG / -EBADMSG. */
static int message(const struct nlmsghdr *nlh, int want, const void **attrs, size_t *len)
{
	size_t head = NLMSG_LENGTH(sizeof(struct nfgenmsg));

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != want)
		return -ENOMSG;
	if (nlh->nlmsg_len < head)
		return -EBADMSG;
	*attrs = (const char *)nlh + NLMSG_ALIGN(head);
	*len = nlh->nlmsg_len > NLMSG_ALIGN(head) ? nlh->nlmsg_len - NLMSG_ALIGN(head) : 0;
	return 0;
}

int conntrack_parse_flow(const struct nlmsghdr *nlh, struct ct_flow *out)
{
	const struct nlattr *top[CTA_MAX + 1];
	const void *data;
	size_t len;
	int r;

	r = message(nlh, IPCTNL_MSG_CT_NEW, &data, &len);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	if (index_attrs(data, len, CTA_MAX, top) < 0 || !top[CTA_TUPLE_ORIG] ||
	    !top[CTA_TUPLE_REPLY])
		return -EBADMSG;
	if (parse_tuple(top[CTA_TUPLE_ORIG], &out->orig) < 0 ||
	    parse_tuple(top[CTA_TUPLE_REPLY], &out->reply) < 0)
		return -EBADMSG;
	if (top[CTA_STATUS] && get_be32(top[CTA_STATUS], &out->status) < 0)
		return -EBADMSG;
	if (top[CTA_ZONE] && get_be16(top[CTA_ZONE], &out->zone) < 0)
		return -EBADMSG;
	return 0;
}

int conntrack_parse_cpu_stats(const struct nlmsghdr *nlh, struct ct_cpu_stats *sum)
{
	static const struct {
		int type;
		size_t off;
	} fields[] = {
#define F(t, f) {t, offsetof(struct ct_cpu_stats, f)}
	    F(CTA_STATS_FOUND, found),
	    F(CTA_STATS_INVALID, invalid),
	    F(CTA_STATS_INSERT, insert),
	    F(CTA_STATS_INSERT_FAILED, insert_failed),
	    F(CTA_STATS_DROP, drop),
	    F(CTA_STATS_EARLY_DROP, early_drop),
	    F(CTA_STATS_ERROR, error),
	    F(CTA_STATS_SEARCH_RESTART, search_restart),
	    F(CTA_STATS_CLASH_RESOLVE, clash_resolve),
	    F(CTA_STATS_CHAIN_TOOLONG, chaintoolong),
#undef F
	};
	const struct nlattr *top[CTA_STATS_MAX + 1];
	const void *data;
	size_t len;
	int r;

	r = message(nlh, IPCTNL_MSG_CT_GET_STATS_CPU, &data, &len);
	if (r < 0)
		return r;
	if (index_attrs(data, len, CTA_STATS_MAX, top) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint32_t v;

		if (!top[fields[i].type])
			continue; /* an older kernel: that counter does not exist */
		if (get_be32(top[fields[i].type], &v) < 0)
			return -EBADMSG;
		*(uint64_t *)((char *)sum + fields[i].off) += v;
	}
	return 0;
}

static bool tuple_is_swapped(const struct ct_tuple *o, const struct ct_tuple *r)
{
	size_t alen = o->family == AF_INET ? 4 : 16;

	return o->family == r->family && o->proto == r->proto && o->sport == r->dport &&
	       o->dport == r->sport && memcmp(o->src, r->dst, alen) == 0 &&
	       memcmp(o->dst, r->src, alen) == 0;
}

bool conntrack_flow_nat(const struct ct_flow *f)
{
	return (f->status & (IPS_SRC_NAT | IPS_DST_NAT)) || !tuple_is_swapped(&f->orig, &f->reply);
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* One endpoint as 3 words: the address (IPv4 in the last 4 bytes of an
 * IPv4-mapped form, so both spellings agree) and the port. */
static void endpoint_words(uint8_t family, const uint8_t *addr, uint16_t port, uint64_t w[3])
{
	uint8_t a[16];

	if (family == AF_INET) {
		memcpy(a, v4_mapped_prefix, 12);
		memcpy(a + 12, addr, 4);
	} else {
		memcpy(a, addr, 16);
	}
	memcpy(&w[0], a, 8);
	memcpy(&w[1], a + 8, 8);
	w[2] = port;
}

uint64_t conntrack_key(uint8_t family, const uint8_t *a, uint16_t aport, const uint8_t *b,
		       uint16_t bport)
{
	uint64_t wa[3], wb[3], h = 0x9e3779b97f4a7c15ull;
	const uint64_t *lo = wa, *hi = wb;

	endpoint_words(family, a, aport, wa);
	endpoint_words(family, b, bport, wb);
	/* Either order gives the same key: the smaller endpoint first. */
	if (memcmp(wa, wb, sizeof(wa)) > 0) {
		lo = wb;
		hi = wa;
	}
	for (int i = 0; i < 3; i++)
		h = hash_mix64(h ^ lo[i]);
	for (int i = 0; i < 3; i++)
		h = hash_mix64(h ^ hi[i]);
	return h;
}

uint64_t conntrack_tuple_key(const struct ct_tuple *t)
{
	return conntrack_key(t->family, t->src, t->sport, t->dst, t->dport);
}

uint64_t conntrack_socket_key(const struct sock_record *rec)
{
	return conntrack_key(rec->family, rec->saddr, rec->sport, rec->daddr, rec->dport);
}
