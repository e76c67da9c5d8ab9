/* conntrack_parse and the conntrack correlation on recorded ctnetlink
 * dumps (tests/fixtures/record_conntrack.py), and u64_map. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include "collectors/conntrack.h"
#include "common/u64_map.h"
#include "fixture.h"
#include "testing.h"

#define MAX_FLOWS 16

/* Every message of a recorded dump, as parse() sees it. */
static int each_message(const char *data, size_t len,
			int (*fn)(const struct nlmsghdr *h, void *ctx), void *ctx)
{
	int n = 0;

	for (size_t off = 0; off + sizeof(struct nlmsghdr) <= len;) {
		const struct nlmsghdr *h = (const void *)(data + off);

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > len - off)
			return -1;
		if (h->nlmsg_type != NLMSG_DONE && h->nlmsg_type != NLMSG_ERROR) {
			if (fn(h, ctx) < 0)
				return -1;
			n++;
		}
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	return n;
}

struct flows {
	struct ct_flow v[MAX_FLOWS];
	int n;
};

static int add_flow(const struct nlmsghdr *h, void *ctx)
{
	struct flows *f = ctx;

	if (f->n == MAX_FLOWS)
		return -1;
	return conntrack_parse_flow(h, &f->v[f->n++]);
}

static const struct ct_flow *by_port(const struct flows *f, uint16_t dport)
{
	for (int i = 0; i < f->n; i++)
		if (f->v[i].orig.dport == dport)
			return &f->v[i];
	return NULL;
}

static void v4(uint8_t *dst, const char *text)
{
	memset(dst, 0, 16);
	inet_pton(AF_INET, text, dst);
}

DEF_TEST(recorded_table)
{
	size_t len = 0;
	char *data = fixture_read("conntrack.nldump", &len);
	struct flows f = {.n = 0};
	const struct ct_flow *nat, *v6, *udp;
	uint8_t a[16];

	CHECK(data != NULL);
	CHECK_EQ_INT(3, each_message(data, len, add_flow, &f));
	free(data);
	nat = by_port(&f, 15001);
	v6 = by_port(&f, 15002);
	udp = by_port(&f, 15003);
	CHECK(nat && v6 && udp);
	/* Masqueraded: the reply goes to the router's outside address. */
	CHECK_EQ_INT(AF_INET, nat->orig.family);
	CHECK_EQ_INT(IPPROTO_TCP, nat->orig.proto);
	CHECK(nat->status & IPS_SRC_NAT);
	CHECK(nat->status & IPS_ASSURED);
	v4(a, "198.18.0.1");
	CHECK(memcmp(nat->orig.src, a, 4) == 0);
	v4(a, "198.19.0.2");
	CHECK(memcmp(nat->orig.dst, a, 4) == 0);
	CHECK(memcmp(nat->reply.src, a, 4) == 0);
	v4(a, "198.19.0.1");
	CHECK(memcmp(nat->reply.dst, a, 4) == 0);
	CHECK_EQ_INT(15001, nat->reply.sport);
	CHECK(conntrack_flow_nat(nat));
	/* Routed, not NATed. */
	CHECK_EQ_INT(AF_INET6, v6->orig.family);
	CHECK_EQ_INT(IPPROTO_TCP, v6->orig.proto);
	CHECK(!(v6->status & (IPS_SRC_NAT | IPS_DST_NAT)));
	CHECK(!conntrack_flow_nat(v6));
	CHECK_EQ_UINT(conntrack_tuple_key(&v6->orig), conntrack_tuple_key(&v6->reply));
	CHECK_EQ_INT(IPPROTO_UDP, udp->orig.proto);
	CHECK(conntrack_flow_nat(udp));
	return 0;
}

static int add_stats(const struct nlmsghdr *h, void *ctx)
{
	return conntrack_parse_cpu_stats(h, ctx);
}

DEF_TEST(recorded_stats)
{
	size_t len = 0;
	char *data = fixture_read("conntrack_stats.nldump", &len);
	struct ct_cpu_stats st;
	int cpus;

	CHECK(data != NULL);
	memset(&st, 0, sizeof(st));
	cpus = each_message(data, len, add_stats, &st);
	free(data);
	CHECK(cpus >= 1);
	CHECK(st.found + st.insert + st.invalid + st.search_restart < (uint64_t)1 << 40);
	return 0;
}

/* Every truncation of every recorded message: an error or a parse,
 * never a read past the end (ASan watches). */
static int truncations(const struct nlmsghdr *h, void *ctx)
{
	int *bad = ctx;

	for (uint32_t l = 0; l < h->nlmsg_len; l++) {
		struct nlmsghdr *copy = malloc(h->nlmsg_len);
		struct ct_flow f;
		struct ct_cpu_stats st = {0};
		int r1, r2;

		if (!copy)
			return -1;
		memcpy(copy, h, l < sizeof(*h) ? sizeof(*h) : l);
		copy->nlmsg_len = l < sizeof(*h) ? (uint32_t)sizeof(*h) : l;
		r1 = conntrack_parse_flow(copy, &f);
		r2 = conntrack_parse_cpu_stats(copy, &st);
		if ((r1 != 0 && r1 != -EBADMSG && r1 != -ENOMSG) ||
		    (r2 != 0 && r2 != -EBADMSG && r2 != -ENOMSG))
			(*bad)++;
		free(copy);
	}
	return 0;
}

DEF_TEST(truncated_messages)
{
	const char *names[] = {"conntrack.nldump", "conntrack_stats.nldump"};

	for (size_t i = 0; i < 2; i++) {
		size_t len = 0;
		char *data = fixture_read(names[i], &len);
		int bad = 0;

		CHECK(data != NULL);
		CHECK(each_message(data, len, truncations, &bad) > 0);
		free(data);
		CHECK_EQ_INT(0, bad);
	}
	return 0;
}

DEF_TEST(keys_either_order_and_mapped)
{
	uint8_t a[16], b[16], mapped[16];
	struct sock_record rec;

	v4(a, "198.18.0.1");
	v4(b, "198.19.0.2");
	memset(mapped, 0, 16);
	mapped[10] = mapped[11] = 0xff;
	memcpy(mapped + 12, a, 4);
	CHECK_EQ_UINT(conntrack_key(AF_INET, a, 40000, b, 15001),
		      conntrack_key(AF_INET, b, 15001, a, 40000));
	CHECK(conntrack_key(AF_INET, a, 40000, b, 15001) !=
	      conntrack_key(AF_INET, a, 40001, b, 15001));
	CHECK(conntrack_key(AF_INET, a, 40000, b, 15001) !=
	      conntrack_key(AF_INET, a, 15001, b, 40000));
	memset(&rec, 0, sizeof(rec));
	rec.family = AF_INET6;
	memcpy(rec.saddr, mapped, 16);
	memset(rec.daddr, 0, 16);
	rec.daddr[10] = rec.daddr[11] = 0xff;
	memcpy(rec.daddr + 12, b, 4);
	rec.sport = 40000;
	rec.dport = 15001;
	CHECK_EQ_UINT(conntrack_key(AF_INET, a, 40000, b, 15001), conntrack_socket_key(&rec));
	return 0;
}

/* The socket at the src end of tuple t: the originator's socket for the
 * original tuple, the answering end's for the reply tuple. */
static struct sock_record socket_of(const struct ct_tuple *t, uint64_t cookie)
{
	struct sock_record r;

	memset(&r, 0, sizeof(r));
	r.family = t->family;
	r.state = TCPS_ESTABLISHED;
	r.cookie = cookie;
	memcpy(r.saddr, t->src, 16);
	memcpy(r.daddr, t->dst, 16);
	r.sport = t->sport;
	r.dport = t->dport;
	return r;
}

/* The correlation over the recorded flows: the NATed TCP flow is
 * guarded (both ends' sockets found, via the original and the reply
 * tuple); the un-NATed one only under strict tracking; then a collection
 * without the flow counts both ends forgotten, once each, idempotently. */
DEF_TEST(forgotten_across_collections)
{
	size_t len = 0;
	char *data = fixture_read("conntrack.nldump", &len);
	struct flows f = {.n = 0};
	struct conntrack *ct = NULL;
	struct sock_record client, server, v6end, other;
	struct conntrack_summary s;
	const struct ct_flow *nat, *v6;

	CHECK(data != NULL);
	CHECK_EQ_INT(3, each_message(data, len, add_flow, &f));
	free(data);
	nat = by_port(&f, 15001);
	v6 = by_port(&f, 15002);
	CHECK_EQ_INT(0, conntrack_new(&ct));
	client = socket_of(&nat->orig, 11);
	server = socket_of(&nat->reply, 12);
	v6end = socket_of(&v6->orig, 13);
	other = client;
	other.cookie = 14;
	other.sport++;

	/* 1: tracked. Loose tracking: only the NATed flow is guarded. */
	conntrack_begin(ct);
	for (int i = 0; i < f.n; i++)
		CHECK(conntrack_keep_flow(ct, &f.v[i], false) >= 0);
	CHECK(!conntrack_observe(ct, &client));
	CHECK(!conntrack_observe(ct, &server));
	CHECK(!conntrack_observe(ct, &v6end));
	CHECK(!conntrack_observe(ct, &other));
	conntrack_get_summary(ct, &s);
	CHECK_EQ_UINT(2, s.flows); /* the NATed flow's two keys */
	CHECK_EQ_UINT(2, s.watched);
	CHECK(s.judged);

	/* 2: the table forgot everything. */
	conntrack_begin(ct);
	CHECK(conntrack_observe(ct, &client));
	CHECK(conntrack_observe(ct, &server));
	CHECK(conntrack_observe(ct, &client)); /* a redone dump: same verdict */
	CHECK(!conntrack_observe(ct, &v6end)); /* never guarded */
	CHECK(!conntrack_observe(ct, &other));
	conntrack_get_summary(ct, &s);
	CHECK_EQ_UINT(2, s.forgotten);
	CHECK_EQ_UINT(2, s.watched);

	/* 3: still ESTABLISHED, still forgotten; a socket that left
	 * ESTABLISHED is not counted and is forgotten itself. */
	conntrack_begin(ct);
	CHECK(conntrack_observe(ct, &client));
	server.state = TCPS_FIN_WAIT1;
	CHECK(!conntrack_observe(ct, &server));

	/* 4: strict tracking guards the un-NATed flow too; the flow back
	 * in a table clears the verdict. */
	conntrack_begin(ct);
	for (int i = 0; i < f.n; i++)
		CHECK(conntrack_keep_flow(ct, &f.v[i], true) >= 0);
	CHECK(!conntrack_observe(ct, &client));
	CHECK(!conntrack_observe(ct, &v6end));
	conntrack_get_summary(ct, &s);
	CHECK_EQ_UINT(3, s.flows);
	CHECK_EQ_UINT(2, s.watched);
	CHECK_EQ_UINT(0, s.forgotten);
	conntrack_free(ct);
	return 0;
}

DEF_TEST(u64_map_bounded_and_reused)
{
	struct u64_map m;
	struct u64_map_entry *v;

	u64_map_init(&m, 1000);
	for (uint64_t k = 1; k <= 1000; k++)
		CHECK_EQ_INT(0, u64_map_put(&m, k * 7919, k));
	CHECK_EQ_INT(-E2BIG, u64_map_put(&m, 1, 1));
	for (uint64_t k = 1; k <= 1000; k++) {
		uint64_t *val = u64_map_find(&m, k * 7919);

		CHECK(val && *val == k);
	}
	CHECK(u64_map_find(&m, 3) == NULL);
	v = m.v;
	u64_map_clear(&m);
	CHECK(u64_map_find(&m, 7919) == NULL);
	for (uint64_t k = 1; k <= 1000; k++)
		CHECK_EQ_INT(0, u64_map_put(&m, k, k));
	CHECK(v == m.v); /* steady size: the same memory */
	{
		int added = -1, err = 0;
		uint64_t *val = u64_map_upsert(&m, 5, 99, &added, &err);

		CHECK(val && *val == 5 && added == 0); /* found, kept */
		val = u64_map_upsert(&m, 5000000, 7, &added, &err);
		CHECK(val == NULL && added == 0 && err == -E2BIG); /* full, absent */
		u64_map_clear(&m);
		val = u64_map_upsert(&m, 5000000, 7, &added, &err);
		CHECK(val && *val == 7 && added == 1);
		val = u64_map_upsert(&m, 5000000, 8, &added, &err);
		CHECK(val && *val == 7 && added == 0);
		CHECK(m.n == 1);
		for (uint64_t k = 1; k < 600; k++) /* through index rebuilds */
			CHECK(u64_map_upsert(&m, k, k, &added, NULL) && added == 1);
		for (uint64_t k = 1; k < 600; k++)
			CHECK(*u64_map_find(&m, k) == k);
	}
	u64_map_free(&m);
	u64_map_free(NULL);
	return 0;
}

int main(void)
{
	RUN_TEST(recorded_table);
	RUN_TEST(recorded_stats);
	RUN_TEST(truncated_messages);
	RUN_TEST(keys_either_order_and_mapped);
	RUN_TEST(forgotten_across_collections);
	RUN_TEST(u64_map_bounded_and_reused);
	END_TEST;
}
