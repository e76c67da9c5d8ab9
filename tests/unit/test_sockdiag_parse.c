/* sockdiag_parse on a recorded dump and on hand-made edge cases. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include "fixture.h"
#include "testing.h"

struct found {
	int n;
	int seed_client, seed_server, v6_server, tw;
	struct sock_record server;
};

static void collect(const struct sock_record *r, void *p)
{
	struct found *f = p;

	f->n++;
	if (r->family == AF_INET && r->state == TCPS_ESTABLISHED && r->dport == 12345)
		f->seed_client++;
	if (r->family == AF_INET && r->state == TCPS_FIN_WAIT1 && r->sport == 12345) {
		f->seed_server++;
		f->server = *r;
	}
	if (r->family == AF_INET6 && r->state == TCPS_FIN_WAIT1 && r->sport == 12351)
		f->v6_server++;
	if (r->timer == DIAG_TIMER_TIME_WAIT && !r->has_info)
		f->tw++;
}

DEF_TEST(recorded_dump)
{
	size_t len = 0;
	char *data = fixture_read("states.nldump", &len);
	struct found f;
	static const uint8_t loopback[4] = {127, 0, 0, 1};

	CHECK(data != NULL);
	memset(&f, 0, sizeof(f));
	CHECK_EQ_INT(19, fixture_each(data, len, collect, &f));
	free(data);
	CHECK_EQ_INT(1, f.seed_client);
	CHECK_EQ_INT(1, f.seed_server);
	CHECK_EQ_INT(1, f.v6_server);
	CHECK_EQ_INT(1, f.tw); /* the orphaned FIN_WAIT2 of the close-wait pair */
	CHECK_EQ_INT(DIAG_TIMER_RETRANS, f.server.timer);
	CHECK(f.server.retrans >= 1);
	CHECK(f.server.has_info);
	CHECK(f.server.info_len >= 104); /* every kernel since 2.6 sends this much */
	CHECK(f.server.info.tcpi_last_ack_recv >= 3000);
	CHECK(f.server.info.tcpi_unacked >= 1);
	CHECK(memcmp(f.server.saddr, loopback, 4) == 0);
	CHECK(f.server.cookie != 0);
	return 0;
}

/* A hand-built reply: header, inet_diag_msg, and one attribute. */
struct msgbuf {
	union {
		struct nlmsghdr h;
		char raw[2048];
	};
};

static struct nlmsghdr *build(struct msgbuf *b, uint8_t family, uint16_t attr_type,
			      const void *attr, size_t attr_len)
{
	struct nlmsghdr *h = &b->h;
	struct inet_diag_msg *m;
	struct rtattr *rta;

	memset(b, 0, sizeof(*b));
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*m));
	m = NLMSG_DATA(h);
	m->idiag_family = family;
	m->idiag_state = TCPS_ESTABLISHED;
	m->idiag_timer = 7; /* a code from the future */
	m->id.idiag_sport = htons(5432);
	m->id.idiag_dport = htons(40000);
	if (attr) {
		rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
		rta->rta_type = attr_type;
		rta->rta_len = (unsigned short)RTA_LENGTH(attr_len);
		memcpy(RTA_DATA(rta), attr, attr_len);
		h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	}
	return h;
}

DEF_TEST(short_tcp_info_is_zero_filled)
{
	struct msgbuf b;
	struct sock_record r;
	uint8_t info[104]; /* the 2.6-era struct: up to tcpi_total_retrans */

	memset(info, 0xab, sizeof(info));
	CHECK_EQ_INT(0, sockdiag_parse(build(&b, AF_INET, INET_DIAG_INFO, info, sizeof(info)), &r));
	CHECK(r.has_info);
	CHECK_EQ_UINT(104, r.info_len);
	CHECK_EQ_UINT(0xabababab, r.info.tcpi_last_ack_recv);
	CHECK_EQ_UINT(0, r.info.tcpi_snd_wnd);
	CHECK_EQ_UINT(0, r.info.tcpi_total_rto_time);
	CHECK_EQ_UINT(5432, r.sport);
	CHECK_EQ_UINT(40000, r.dport);
	CHECK_EQ_UINT(7, r.timer); /* kept as-is for the classifier to ignore */
	return 0;
}

DEF_TEST(long_tcp_info_is_clamped)
{
	struct msgbuf b;
	struct sock_record r;
	uint8_t info[sizeof(struct ho_tcp_info) + 64];

	memset(info, 0x11, sizeof(info));
	CHECK_EQ_INT(0, sockdiag_parse(build(&b, AF_INET6, INET_DIAG_INFO, info, sizeof(info)), &r));
	CHECK_EQ_UINT(sizeof(info), r.info_len);
	CHECK_EQ_UINT(0x11111111, r.info.tcpi_total_rto_time);
	return 0;
}

DEF_TEST(no_attributes)
{
	struct msgbuf b;
	struct sock_record r;

	CHECK_EQ_INT(0, sockdiag_parse(build(&b, AF_INET, 0, NULL, 0), &r));
	CHECK(!r.has_info);
	CHECK_EQ_UINT(0, r.info.tcpi_last_data_recv);
	return 0;
}

DEF_TEST(malformed)
{
	struct msgbuf b;
	struct sock_record r;
	struct nlmsghdr *h;
	uint64_t cg = 42;

	/* too short for inet_diag_msg */
	h = build(&b, AF_INET, 0, NULL, 0);
	h->nlmsg_len = NLMSG_LENGTH(10);
	CHECK_EQ_INT(-EBADMSG, sockdiag_parse(h, &r));
	/* unknown family */
	CHECK_EQ_INT(-EBADMSG, sockdiag_parse(build(&b, AF_UNIX, 0, NULL, 0), &r));
	/* attribute longer than the message */
	h = build(&b, AF_INET, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	CHECK_EQ_INT(0, sockdiag_parse(h, &r));
	CHECK_EQ_UINT(42, r.cgroup_id);
	h->nlmsg_len -= 4;
	CHECK_EQ_INT(-EBADMSG, sockdiag_parse(h, &r));
	/* attribute length below its own header */
	h = build(&b, AF_INET, INET_DIAG_CGROUP_ID, &cg, sizeof(cg));
	((struct rtattr *)((char *)h + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct inet_diag_msg)))))
		->rta_len = 2;
	CHECK_EQ_INT(-EBADMSG, sockdiag_parse(h, &r));
	return 0;
}

int main(void)
{
	RUN_TEST(recorded_dump);
	RUN_TEST(short_tcp_info_is_zero_filled);
	RUN_TEST(long_tcp_info_is_clamped);
	RUN_TEST(no_attributes);
	RUN_TEST(malformed);
	END_TEST;
}
