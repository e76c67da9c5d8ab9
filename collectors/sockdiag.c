/* sockdiag: the netlink side of a dump. libnl-3 core builds and sends
 * the request (sequence numbers, port ids); the receive loop is ours so
 * that it reads into the caller's fixed buffer without peeking and hands
 * each message to sockdiag_parse() as it arrives. */
#include "sockdiag.h"

#include <errno.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

/* Socket receive buffer: a dump is paced by our reads, so this only
 * needs to absorb a burst; large enough that a slow collection does not
 * end in ENOBUFS. */
#define SOCKDIAG_SO_RCVBUF (1024 * 1024)

static int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_INTR:
		return -EINTR;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_PROTO_MISMATCH:
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

int sockdiag_open(struct nl_sock **out)
{
	return sockdiag_open_protocol(NETLINK_SOCK_DIAG, out);
}

int sockdiag_open_protocol(int protocol, struct nl_sock **out)
{
	const struct timeval rcvtimeo = {.tv_sec = 5};
	struct nl_sock *sk;
	int r;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	/* Replies are read by our own loop; no libnl auto-ACK handling. */
	nl_socket_disable_auto_ack(sk);
	nl_socket_disable_msg_peek(sk);
	r = nl_connect(sk, protocol);
	if (r < 0) {
		r = nlerr_to_errno(r);
		goto fail;
	}
	r = nl_socket_set_buffer_size(sk, SOCKDIAG_SO_RCVBUF, 0);
	if (r < 0) {
		r = nlerr_to_errno(r);
		goto fail;
	}
	/* A dump never legitimately stalls; bound every read so a wedged
	 * kernel or namespace cannot hang the collector forever. */
	if (setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, sizeof(rcvtimeo)) <
	    0) {
		r = -errno;
		goto fail;
	}
	*out = sk;
	return 0;
fail:
	nl_socket_free(sk);
	return r;
}

void sockdiag_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk); /* closes the fd too */
}

/* The inet_diag dump request for req, as a libnl message. */
static int dump_msg(const struct sockdiag_request *req, struct nl_msg **out)
{
	struct inet_diag_req_v2 r;
	struct nl_msg *msg;
	int ret;

	memset(&r, 0, sizeof(r));
	r.sdiag_family = req->family;
	r.sdiag_protocol = IPPROTO_TCP;
	r.idiag_ext = req->ext;
	r.idiag_states = req->states;

	msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP);
	if (!msg)
		return -ENOMEM;
	ret = nlmsg_append(msg, &r, sizeof(r), NLMSG_ALIGNTO);
	if (ret == 0 && req->bytecode && req->bytecode_len)
		ret = nla_put(msg, INET_DIAG_REQ_BYTECODE, (int)req->bytecode_len, req->bytecode);
	if (ret < 0) {
		nlmsg_free(msg);
		return nlerr_to_errno(ret);
	}
	*out = msg;
	return 0;
}

/* recv() one datagram, retrying EINTR. Returns bytes or -errno. */
static ssize_t recv_datagram(int fd, void *buf, size_t len)
{
	struct sockaddr_nl sa;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {
	    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	for (;;) {
		n = recvmsg(fd, &mh, 0);
		if (n >= 0)
			break;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -ETIMEDOUT; /* SO_RCVTIMEO: the kernel stopped answering */
		if (errno != EINTR)
			return -errno;
	}
	/* With a 32 KiB buffer the kernel never truncates a dump skb
	 * (netlink caps them at 32 KiB); if it ever does, say so. */
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (sa.nl_pid != 0) /* only the kernel talks to us */
		return 0;
	return n;
}

/* Remaining lengths are ints, as NLMSG_OK/NLMSG_NEXT expect: NLMSG_NEXT
 * subtracts the aligned length, which for an unaligned last message is
 * more than what is left; signed, that ends the walk (NLMSG_OK fails on a
 * negative length), where a size_t would wrap and walk off the buffer. */

/* Whether the messages from h on (rem bytes) include the end of dump seq. */
static bool has_end(const struct nlmsghdr *h, int rem, uint32_t seq)
{
	for (; NLMSG_OK(h, rem); h = NLMSG_NEXT(h, rem))
		if (h->nlmsg_seq == seq &&
		    (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR))
			return true;
	return false;
}

/* After an aborted dump, read and drop the rest of it so the handle is
 * clean for the next collection. h/rem is what is left of the current
 * datagram (the end may already be in it). Bounded by SO_RCVTIMEO and a
 * read count; a handle that could not be drained still works, since
 * replies of old sequence numbers are skipped. */
static void drain_dump(int fd, void *buf, size_t len, uint32_t seq, const struct nlmsghdr *h,
		       int rem)
{
	if (has_end(h, rem, seq))
		return;
	for (int i = 0; i < 100000; i++) {
		ssize_t n = recv_datagram(fd, buf, len);

		if (n < 0 || has_end(buf, (int)n, seq))
			return;
	}
}

int sockdiag_walk(const void *buf, size_t len, uint32_t seq, struct sockdiag_walk *w)
{
	const struct nlmsghdr *h;
	struct sock_record rec;
	int rem = (int)len; /* len <= the receive buffer, a few dozen KiB */
	int ret;

	w->rest = NULL;
	w->rest_len = 0;
	for (h = buf; NLMSG_OK(h, rem); h = NLMSG_NEXT(h, rem)) {
		if (h->nlmsg_seq != seq)
			continue; /* a leftover of an earlier, aborted request */
		if (h->nlmsg_flags & NLM_F_DUMP_INTR)
			w->intr = true;
		if (h->nlmsg_type == NLMSG_DONE) {
			int err = 0;

			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
				memcpy(&err, NLMSG_DATA(h), sizeof(int));
			w->verdict = err < 0 ? err : w->intr ? -EAGAIN : 0;
			return 1;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			/* 0: the ACK of a request sent with NLM_F_ACK. */
			w->verdict = e->error > 0 ? -EPROTO : e->error;
			return 1;
		}
		if (w->msg_cb) {
			ret = w->msg_cb(h, w->ctx);
		} else {
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || !w->cb)
				continue;
			ret = sockdiag_parse(h, &rec);
			if (ret == 0)
				ret = w->cb(&rec, w->ctx);
		}
		if (ret < 0) {
			w->rest = NLMSG_NEXT(h, rem);
			w->rest_len = rem;
			return ret;
		}
		if (w->stats)
			w->stats->sockets++;
	}
	if (rem > 0) {
		w->rest = h;
		w->rest_len = 0;
		return -EBADMSG;
	}
	return 0;
}

/* Send msg (libnl completes its port and sequence number) and read its
 * replies into buf until the kernel has answered it. */
static int exchange(struct nl_sock *sk, struct nl_msg *msg, void *buf, size_t buf_len,
		    const struct sockdiag_request *req, struct sockdiag_walk *w)
{
	uint32_t seq;
	int fd, ret;

	ret = nl_send_auto(sk, msg);
	if (ret < 0)
		return nlerr_to_errno(ret);
	seq = nlmsg_hdr(msg)->nlmsg_seq;
	fd = nl_socket_get_fd(sk);
	for (;;) {
		ssize_t n = recv_datagram(fd, buf, buf_len);

		if (n < 0)
			return (int)n; /* ENOBUFS: the kernel dropped part of the dump */
		if (req && req->tap)
			req->tap(buf, (size_t)n, req->tap_ctx);
		if (w->stats) {
			w->stats->messages++;
			w->stats->bytes += (uint64_t)n;
		}
		ret = sockdiag_walk(buf, (size_t)n, seq, w);
		if (ret == 1)
			return w->verdict;
		if (ret < 0) {
			if (w->rest)
				drain_dump(fd, buf, buf_len, seq, w->rest, w->rest_len);
			return ret;
		}
	}
}

int sockdiag_request(struct nl_sock *sk, struct nl_msg *msg, void *buf, size_t buf_len)
{
	struct sockdiag_walk w = {0};

	if (buf_len < SOCKDIAG_RECV_BUF)
		return -EINVAL;
	return exchange(sk, msg, buf, buf_len, NULL, &w);
}

int sockdiag_dump_raw(struct nl_sock *sk, struct nl_msg *msg, void *buf, size_t buf_len,
		      int (*msg_cb)(const struct nlmsghdr *h, void *ctx), void *ctx,
		      struct sockdiag_stats *stats)
{
	struct sockdiag_walk w = {.msg_cb = msg_cb, .ctx = ctx, .stats = stats};

	if (buf_len < SOCKDIAG_RECV_BUF)
		return -EINVAL;
	return exchange(sk, msg, buf, buf_len, NULL, &w);
}

int sockdiag_dump(struct nl_sock *sk, const struct sockdiag_request *req, void *buf, size_t buf_len,
		  sockdiag_cb cb, void *ctx, struct sockdiag_stats *stats)
{
	struct sockdiag_walk w = {.cb = cb, .ctx = ctx, .stats = stats};
	struct nl_msg *msg = NULL;
	int ret;

	if (buf_len < SOCKDIAG_RECV_BUF)
		return -EINVAL;
	ret = dump_msg(req, &msg);
	if (ret < 0)
		return ret;
	ret = exchange(sk, msg, buf, buf_len, req, &w);
	nlmsg_free(msg);
	return ret;
}
