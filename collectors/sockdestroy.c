/* sockdestroy: one SOCK_DESTROY request and its ACK.
 *
 * The request is a plain inet_diag_req_v2 carrying the socket id exactly
 * as a dump reported it; the kernel (inet_diag_find_one_icsk) looks the
 * 4-tuple up in the sender's namespace, compares the cookie, and runs
 * tcp_abort() in the sender's context, which is why the capability check
 * applies to us and why the ACK is already queued when the send returns.
 * Built and sent with libnl like the dumps, and answered through the
 * dumps' receive loop (sockdiag_request()). */
#include "sockdestroy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>

#include "sockdiag.h"

_Static_assert(SOCKDESTROY_MSG_LEN == NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)),
	       "SOCKDESTROY_MSG_LEN must match the kernel's request layout");

int sockdestroy_build(const struct sockdestroy_target *t, struct nl_msg **out)
{
	struct inet_diag_req_v2 req;
	struct nl_msg *msg;
	size_t alen;

	if (t->family == AF_INET)
		alen = 4;
	else if (t->family == AF_INET6)
		alen = 16;
	else
		return -EAFNOSUPPORT;

	memset(&req, 0, sizeof(req));
	req.sdiag_family = t->family;
	req.sdiag_protocol = IPPROTO_TCP;
	req.id.idiag_sport = htons(t->sport);
	req.id.idiag_dport = htons(t->dport);
	memcpy(req.id.idiag_src, t->saddr, alen);
	memcpy(req.id.idiag_dst, t->daddr, alen);
	req.id.idiag_if = t->ifindex;
	/* The inverse of sockdiag_parse(); the kernel compares both halves. */
	req.id.idiag_cookie[0] = (uint32_t)t->cookie;
	req.id.idiag_cookie[1] = (uint32_t)(t->cookie >> 32);

	msg = nlmsg_alloc_simple(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &req, sizeof(req), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	*out = msg;
	return 0;
}

int sockdestroy(struct nl_sock *sk, const struct sockdestroy_target *t)
{
	struct nl_msg *msg = NULL;
	/* Leftovers of an aborted dump may come before the ACK: room for
	 * one whole dump datagram, as the receive loop wants. */
	void *buf = malloc(SOCKDIAG_RECV_BUF);
	int r = -ENOMEM;

	if (!buf)
		goto out;
	r = sockdestroy_build(t, &msg);
	if (r < 0)
		goto out;
	r = sockdiag_request(sk, msg, buf, SOCKDIAG_RECV_BUF);
out:
	nlmsg_free(msg);
	free(buf);
	return r;
}
