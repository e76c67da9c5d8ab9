/* SOCK_DESTROY messages, byte by byte, and reading the kernel's ACK with
 * the dumps' receive walk. Pure: the I/O (sockdestroy()) is covered by
 * tests/suspects/. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>

#include "collectors/sockdestroy.h"
#include "collectors/sockdiag.h"
#include "testing.h"

static struct sockdestroy_target v4(void)
{
	struct sockdestroy_target t;

	memset(&t, 0, sizeof(t));
	t.family = AF_INET;
	t.sport = 43210;
	t.dport = 12345;
	inet_pton(AF_INET, "127.0.0.1", t.saddr);
	inet_pton(AF_INET, "10.1.2.3", t.daddr);
	t.cookie = 0x1122334455667788ull;
	return t;
}

DEF_TEST(build_v4)
{
	struct sockdestroy_target t = v4();
	struct nl_msg *msg = NULL;
	const struct nlmsghdr *h;
	const struct inet_diag_req_v2 *r;
	uint8_t want[16] = {0};

	CHECK_EQ_INT(0, sockdestroy_build(&t, &msg));
	h = nlmsg_hdr(msg);
	r = NLMSG_DATA(h);
	CHECK_EQ_UINT(SOCKDESTROY_MSG_LEN, h->nlmsg_len);
	CHECK_EQ_UINT(SOCK_DESTROY, h->nlmsg_type);
	CHECK_EQ_UINT(NLM_F_REQUEST | NLM_F_ACK, h->nlmsg_flags);
	CHECK_EQ_UINT(NL_AUTO_SEQ, h->nlmsg_seq); /* libnl numbers it when sent */
	CHECK_EQ_UINT(NL_AUTO_PORT, h->nlmsg_pid);
	CHECK_EQ_UINT(AF_INET, r->sdiag_family);
	CHECK_EQ_UINT(IPPROTO_TCP, r->sdiag_protocol);
	CHECK_EQ_UINT(0, r->idiag_ext);
	CHECK_EQ_UINT(0, r->idiag_states);
	CHECK_EQ_UINT(htons(43210), r->id.idiag_sport);
	CHECK_EQ_UINT(htons(12345), r->id.idiag_dport);
	/* Addresses in network order, the rest of the 16 bytes zero (the
	 * kernel reads only the first word for AF_INET, but the padding
	 * must not leak stack). */
	want[0] = 127, want[3] = 1;
	CHECK(memcmp(r->id.idiag_src, want, 16) == 0);
	want[0] = 10, want[1] = 1, want[2] = 2, want[3] = 3;
	CHECK(memcmp(r->id.idiag_dst, want, 16) == 0);
	CHECK_EQ_UINT(0, r->id.idiag_if);
	/* The cookie as sockdiag_parse() composed it: [0] low, [1] high. */
	CHECK_EQ_UINT(0x55667788u, r->id.idiag_cookie[0]);
	CHECK_EQ_UINT(0x11223344u, r->id.idiag_cookie[1]);
	nlmsg_free(msg);
	return 0;
}

DEF_TEST(build_v6_and_errors)
{
	struct sockdestroy_target t = v4();
	struct nl_msg *msg = NULL;
	const struct nlmsghdr *h;
	const struct inet_diag_req_v2 *r;
	uint8_t a[16];

	t.family = AF_INET6;
	inet_pton(AF_INET6, "fd00:198:18::1", t.saddr);
	inet_pton(AF_INET6, "::ffff:10.1.2.3", t.daddr);
	t.ifindex = 4;
	CHECK_EQ_INT(0, sockdestroy_build(&t, &msg));
	h = nlmsg_hdr(msg);
	r = NLMSG_DATA(h);
	CHECK_EQ_UINT(SOCKDESTROY_MSG_LEN, h->nlmsg_len);
	CHECK_EQ_UINT(AF_INET6, r->sdiag_family);
	inet_pton(AF_INET6, "fd00:198:18::1", a);
	CHECK(memcmp(r->id.idiag_src, a, 16) == 0);
	inet_pton(AF_INET6, "::ffff:10.1.2.3", a);
	CHECK(memcmp(r->id.idiag_dst, a, 16) == 0);
	CHECK_EQ_UINT(4, r->id.idiag_if);
	nlmsg_free(msg);

	msg = NULL;
	t.family = AF_UNIX;
	CHECK_EQ_INT(-EAFNOSUPPORT, sockdestroy_build(&t, &msg));
	CHECK(msg == NULL);
	return 0;
}

/* Append an NLMSG_ERROR for seq with error to buf at *off. */
static void put_ack(uint32_t *buf, size_t *off, uint32_t seq, int error, size_t cut)
{
	struct nlmsghdr h;
	struct nlmsgerr e;

	memset(&h, 0, sizeof(h));
	memset(&e, 0, sizeof(e));
	h.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(e)) - cut);
	h.nlmsg_type = NLMSG_ERROR;
	h.nlmsg_seq = seq;
	e.error = error;
	memcpy((char *)buf + *off, &h, sizeof(h));
	memcpy((char *)buf + *off + NLMSG_HDRLEN, &e, sizeof(e));
	*off += NLMSG_ALIGN(NLMSG_LENGTH(sizeof(e)));
}

/* The receive walk on one datagram, as sockdestroy() reads its ACK:
 * 1 with *err set when the answer to seq is there, 0 when not, or the
 * walk's negative return. */
static int parse_ack(const void *buf, size_t len, uint32_t seq, int *err)
{
	struct sockdiag_walk w = {0};
	int r = sockdiag_walk(buf, len, seq, &w);

	if (r == 1)
		*err = w.verdict;
	return r;
}

DEF_TEST(parse_ack)
{
	uint32_t buf[256];
	size_t off = 0;
	int err = 12345;

	memset(buf, 0, sizeof(buf));
	put_ack(buf, &off, 9, 0, 0);
	CHECK_EQ_INT(1, parse_ack(buf, off, 9, &err));
	CHECK_EQ_INT(0, err);

	off = 0;
	put_ack(buf, &off, 9, -EPERM, 0);
	CHECK_EQ_INT(1, parse_ack(buf, off, 9, &err));
	CHECK_EQ_INT(-EPERM, err);

	/* Another request's answer first, then ours. */
	off = 0;
	put_ack(buf, &off, 8, -ENOENT, 0);
	put_ack(buf, &off, 9, -EOPNOTSUPP, 0);
	CHECK_EQ_INT(1, parse_ack(buf, off, 9, &err));
	CHECK_EQ_INT(-EOPNOTSUPP, err);

	/* Nothing for us. */
	off = 0;
	put_ack(buf, &off, 8, 0, 0);
	err = 12345;
	CHECK_EQ_INT(0, parse_ack(buf, off, 9, &err));
	CHECK_EQ_INT(12345, err);
	CHECK_EQ_INT(0, parse_ack(buf, 0, 9, &err));

	/* Ours, too short to hold the error. */
	off = 0;
	put_ack(buf, &off, 9, 0, 4);
	CHECK_EQ_INT(-EBADMSG, parse_ack(buf, off, 9, &err));
	return 0;
}

int main(void)
{
	RUN_TEST(build_v4);
	RUN_TEST(build_v6_and_errors);
	RUN_TEST(parse_ack);
	END_TEST;
}
