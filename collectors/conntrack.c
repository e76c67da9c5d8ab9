/* conntrack: the ctnetlink dumps and the cookie memory (see conntrack.h).
 * Three u64_maps: the guarded flows of this collection (flow key ->
 * 0), and the remembered sockets of this and the last collection
 * (cookie -> flags), swapped per collection like sock_ages. */
#include "conntrack.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/u64_map.h"
#include "classify.h"
#include "netns.h"
#include "sockdiag.h"

/* Guarded flow keys kept per collection (a NATed flow has two); past it
 * the collection is not judged, never judged on a partial table. */
#define CONNTRACK_MAX_FLOWS (1u << 23)
/* ESTABLISHED sockets remembered; past it new ones are not followed. */
#define CONNTRACK_MAX_SOCKETS (1u << 21)
#define CONNTRACK_MAX_NS      4096

/* Flags of a remembered socket. */
#define REMEMBERED_FORGOTTEN 1u

#define SYSCTL_DIR "/proc/sys/net/netfilter/"

struct conntrack {
	struct u64_map flows;	  /* guarded flow keys of this collection */
	struct u64_map cur, prev; /* cookie -> REMEMBERED_* flags */
	struct conntrack_ns *ns;
	size_t n_ns, cap_ns;
	bool judged;
	uint64_t flows_dropped, sockets_dropped, forgotten;
	double dump_seconds;
	void *buf; /* SOCKDIAG_RECV_BUF */
};

int conntrack_new(struct conntrack **out)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return -ENOMEM;
	ct->buf = malloc(SOCKDIAG_RECV_BUF);
	if (!ct->buf) {
		free(ct);
		return -ENOMEM;
	}
	u64_map_init(&ct->flows, CONNTRACK_MAX_FLOWS);
	u64_map_init(&ct->cur, CONNTRACK_MAX_SOCKETS);
	u64_map_init(&ct->prev, CONNTRACK_MAX_SOCKETS);
	*out = ct;
	return 0;
}

void conntrack_free(struct conntrack *ct)
{
	if (!ct)
		return;
	u64_map_free(&ct->flows);
	u64_map_free(&ct->cur);
	u64_map_free(&ct->prev);
	free(ct->ns);
	free(ct->buf);
	free(ct);
}

void conntrack_begin(struct conntrack *ct)
{
	struct u64_map t = ct->prev;

	ct->prev = ct->cur;
	ct->cur = t;
	u64_map_clear(&ct->cur);
	u64_map_clear(&ct->flows);
	ct->n_ns = 0;
	ct->judged = true;
	ct->flows_dropped = ct->sockets_dropped = ct->forgotten = 0;
	ct->dump_seconds = 0;
}

/* A new namespace record, or NULL (no memory, or over the bound). */
static struct conntrack_ns *ns_add(struct conntrack *ct, const char *label)
{
	struct conntrack_ns *n;

	if (ct->n_ns == ct->cap_ns) {
		size_t cap = ct->cap_ns ? 2 * ct->cap_ns : 8;

		if (cap > CONNTRACK_MAX_NS)
			return NULL;
		n = reallocarray(ct->ns, cap, sizeof(*n));
		if (!n)
			return NULL;
		ct->ns = n;
		ct->cap_ns = cap;
	}
	n = &ct->ns[ct->n_ns++];
	memset(n, 0, sizeof(*n));
	snprintf(n->label, sizeof(n->label), "%s", label);
	return n;
}

/* A number from /proc/sys/net/netfilter/<name>, read in the calling
 * thread's namespace (net sysctls follow the reader's namespace). */
static int read_sysctl(const char *name, uint64_t *out)
{
	char path[128];
	struct buf b;
	char *end;
	int r;

	snprintf(path, sizeof(path), SYSCTL_DIR "%s", name);
	buf_init(&b);
	r = file_read_pseudo(path, 64, &b);
	if (r == 0 && (buf_error(&b) || !b.len))
		r = -EINVAL;
	if (r == 0) {
		errno = 0;
		*out = strtoull(b.data, &end, 10);
		if (errno || end == b.data)
			r = -EINVAL;
	}
	buf_free(&b);
	return r;
}

struct dump_ctx {
	struct conntrack *ct;
	struct conntrack_ns *ns;
	uint32_t status, status_mask; /* the dump's status filter; mask 0: none */
	bool ignored;		      /* an entry the filter should have left out came */
};

static int keep_key(struct conntrack *ct, uint64_t key)
{
	int added, r = 0;

	/* Found: the same flow from another table, or a second dump. */
	if (u64_map_upsert(&ct->flows, key, 0, &added, &r))
		return 0;
	if (r == -E2BIG) {
		ct->flows_dropped++;
		ct->judged = false;
		return 0;
	}
	return r;
}

int conntrack_keep_flow(struct conntrack *ct, const struct ct_flow *f, bool strict)
{
	uint64_t ko, kr;
	bool nat;
	int r;

	if (f->orig.proto != IPPROTO_TCP)
		return 0; /* UDP, ICMP, ... (not filtered in the kernel) */
	nat = conntrack_flow_nat(f);
	if (!nat && !strict)
		return 0;
	ko = conntrack_tuple_key(&f->orig);
	r = keep_key(ct, ko);
	if (r == 0 && nat) {
		kr = conntrack_tuple_key(&f->reply);
		if (kr != ko)
			r = keep_key(ct, kr);
	}
	return r < 0 ? r : 1;
}

static int on_flow(const struct nlmsghdr *h, void *p)
{
	struct dump_ctx *d = p;
	struct ct_flow f;
	int r;

	r = conntrack_parse_flow(h, &f);
	if (r == -ENOMSG)
		return 0;
	if (r < 0)
		return r;
	d->ns->dumped++;
	if ((f.status & d->status_mask) != d->status)
		d->ignored = true; /* a kernel without the status filter */
	r = conntrack_keep_flow(d->ct, &f, d->ns->strict);
	if (r > 0)
		d->ns->guarded++;
	return r < 0 ? r : 0;
}

static int on_stats(const struct nlmsghdr *h, void *p)
{
	struct dump_ctx *d = p;
	int r = conntrack_parse_cpu_stats(h, &d->ns->stats);

	return r == -ENOMSG ? 0 : r;
}

static int nlerr(int r)
{
	return r == -NLE_NOMEM ? -ENOMEM : -EINVAL;
}

/* A ctnetlink dump request of type msg_type for every family. */
static int request(int msg_type, struct nl_msg **out)
{
	struct nfgenmsg g = {.nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0};
	struct nl_msg *m =
	    nlmsg_alloc_simple((NFNL_SUBSYS_CTNETLINK << 8) | msg_type, NLM_F_REQUEST | NLM_F_DUMP);
	int r;

	if (!m)
		return -ENOMEM;
	r = nlmsg_append(m, &g, sizeof(g), NLMSG_ALIGNTO);
	if (r < 0) {
		nlmsg_free(m);
		return nlerr(r);
	}
	*out = m;
	return 0;
}

/* The table dump, every family in one walk of the table. With
 * status_mask, only the entries whose status & status_mask == status
 * (CTA_STATUS + CTA_STATUS_MASK, Linux 6.1+). No CTA_FILTER on the
 * protocol: the kernel takes it only with one family per dump (IPv4 or
 * IPv6), i.e. two walks of the whole table, which cost more than
 * skipping the few non-TCP entries here. */
static int table_request(uint32_t status, uint32_t status_mask, struct nl_msg **out)
{
	struct nl_msg *m;
	int r;

	r = request(IPCTNL_MSG_CT_GET, &m);
	if (r < 0)
		return r;
	if (status_mask) {
		r = nla_put_u32(m, CTA_STATUS, htonl(status));
		if (r == 0)
			r = nla_put_u32(m, CTA_STATUS_MASK, htonl(status_mask));
	}
	if (r < 0) {
		nlmsg_free(m);
		return nlerr(r);
	}
	*out = m;
	return 0;
}

static int dump(struct nl_sock *sk, struct nl_msg *m, struct dump_ctx *d,
		int (*cb)(const struct nlmsghdr *, void *))
{
	int r = sockdiag_dump_raw(sk, m, d->ct->buf, SOCKDIAG_RECV_BUF, cb, d, NULL);

	nlmsg_free(m);
	return r;
}

/* The guarded flows of the table: in a strict namespace every TCP entry
 * (one plain dump), else only the NATed ones: two dumps that the kernel
 * filters by status (SNAT; DNAT without SNAT), so un-NATed entries never
 * cross into userspace. A kernel that refuses the status filter gets one
 * plain dump, filtered here. */
static int dump_table(struct nl_sock *sk, struct dump_ctx *d)
{
	static const uint32_t pass[2][2] = {
	    {IPS_SRC_NAT, IPS_SRC_NAT},
	    {IPS_DST_NAT, IPS_SRC_NAT | IPS_DST_NAT},
	};
	struct nl_msg *m;
	int r = 0;

	for (int i = 0; !d->ns->strict && i < 2; i++) {
		r = table_request(pass[i][0], pass[i][1], &m);
		d->status = pass[i][0];
		d->status_mask = pass[i][1];
		if (r == 0)
			r = dump(sk, m, d, on_flow);
		if (r < 0 || d->ignored)
			break;
	}
	d->status = d->status_mask = 0;
	/* A kernel that ignored the filter sent everything, already kept. */
	if (!d->ns->strict && r == 0) {
		d->ns->filtered = !d->ignored;
		return 0;
	}
	if (r < 0 && r != -EINVAL && r != -EOPNOTSUPP)
		return r;
	d->ns->dumped = d->ns->guarded = 0; /* a refused filter: start over */
	r = table_request(0, 0, &m);
	return r < 0 ? r : dump(sk, m, d, on_flow);
}

int conntrack_collect_here(struct conntrack *ct, const char *label)
{
	struct conntrack_ns *ns = ns_add(ct, label);
	struct dump_ctx d = {.ct = ct, .ns = ns};
	struct nl_sock *sk = NULL;
	uint64_t loose = 1;
	struct nl_msg *m;
	int r;

	if (!ns) {
		ct->judged = false;
		return -ENOMEM;
	}
	r = read_sysctl("nf_conntrack_count", &ns->count);
	if (r == -ENOENT)
		return 0; /* no connection tracking in this namespace */
	if (r < 0)
		goto out;
	ns->tracking = true;
	(void)read_sysctl("nf_conntrack_max", &ns->max);
	(void)read_sysctl("nf_conntrack_tcp_timeout_established", &ns->timeout_established_s);
	if (read_sysctl("nf_conntrack_tcp_loose", &loose) == 0)
		ns->strict = loose == 0;
	r = sockdiag_open_protocol(NETLINK_NETFILTER, &sk);
	if (r < 0)
		goto out;
	r = request(IPCTNL_MSG_CT_GET_STATS_CPU, &m);
	if (r == 0)
		r = dump(sk, m, &d, on_stats);
	if (r < 0)
		goto out;
	/* An empty table has nothing to dump (most pods' namespaces). */
	if (ns->count)
		r = dump_table(sk, &d);
out:
	sockdiag_close(sk);
	if (r < 0) {
		ns->error = r;
		ct->judged = false;
	}
	return r;
}

struct run_arg {
	struct conntrack *ct;
	const char *label;
};

static int run_here(void *p)
{
	struct run_arg *a = p;

	return conntrack_collect_here(a->ct, a->label);
}

/* A stable name for the namespace of e. */
static void label_of(const struct netns_entry *e, char *out, size_t len)
{
	if (e->is_host)
		snprintf(out, len, "host");
	else if (e->name[0])
		snprintf(out, len, "%s", e->name);
	else if (e->pod.uid[0] && e->pod.name[0])
		snprintf(out, len, "pod:%s/%s", e->pod.namespace, e->pod.name);
	else
		snprintf(out, len, "ino:%" PRIu64, e->ino);
}

int conntrack_collect(struct conntrack *ct, struct netns_registry *reg)
{
	struct timespec a, b;
	char label[sizeof(((struct conntrack_ns *)0)->label)];

	clock_gettime(CLOCK_MONOTONIC, &a);
	conntrack_begin(ct);
	for (size_t i = 0; i < netns_registry_count(reg); i++) {
		struct run_arg arg = {ct, label};
		size_t before = ct->n_ns;
		int r;

		label_of(netns_registry_get(reg, i), label, sizeof(label));
		r = netns_registry_run_in(reg, i, run_here, &arg);
		if (r == -ENOTRECOVERABLE)
			return r;
		/* Not entered: a namespace that vanished took its flows with
		 * it; any other failure leaves its table unknown. */
		if (r < 0 && ct->n_ns == before && r != -ENOENT) {
			struct conntrack_ns *ns = ns_add(ct, label);

			if (ns)
				ns->error = r;
			ct->judged = false;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ct->dump_seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return 0;
}

bool conntrack_observe(struct conntrack *ct, const struct sock_record *rec)
{
	const uint64_t *v;
	uint64_t flags;

	if (!ct || rec->state != TCPS_ESTABLISHED || !rec->cookie)
		return false;
	/* The common case, a tracked flow: two probes (the flow, then the
	 * cookie, found or added in one). */
	if (u64_map_find(&ct->flows, conntrack_socket_key(rec))) {
		int added;

		v = u64_map_upsert(&ct->cur, rec->cookie, 0, &added, NULL);
		if (!v)
			ct->sockets_dropped++;
		/* Seen forgotten earlier in this collection (a redone dump
		 * cannot bring the flow back: the tables are not reread). */
		return v && (*v & REMEMBERED_FORGOTTEN);
	}
	v = u64_map_find(&ct->cur, rec->cookie);
	if (v)
		return *v & REMEMBERED_FORGOTTEN;
	v = u64_map_find(&ct->prev, rec->cookie);
	if (!v)
		return false; /* never seen guarded: nothing to say */
	/* A table that could not be read may still hold the flow: carry the
	 * last verdict over, judge nothing new. */
	flags = ct->judged ? REMEMBERED_FORGOTTEN : *v;
	if (u64_map_put(&ct->cur, rec->cookie, flags) < 0) {
		ct->sockets_dropped++;
		return false;
	}
	if (flags & REMEMBERED_FORGOTTEN)
		ct->forgotten++;
	return flags & REMEMBERED_FORGOTTEN;
}

unsigned conntrack_classes(void *ct, const struct sock_record *rec)
{
	return conntrack_observe(ct, rec) ? SC_CONNTRACK_FORGOTTEN : 0u;
}

size_t conntrack_ns_count(const struct conntrack *ct)
{
	return ct->n_ns;
}

const struct conntrack_ns *conntrack_ns_get(const struct conntrack *ct, size_t i)
{
	return i < ct->n_ns ? &ct->ns[i] : NULL;
}

void conntrack_get_summary(const struct conntrack *ct, struct conntrack_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->flows = ct->flows.n;
	out->watched = ct->cur.n;
	out->forgotten = ct->forgotten;
	out->flows_dropped = ct->flows_dropped;
	out->sockets_dropped = ct->sockets_dropped;
	out->judged = ct->judged;
	out->bytes = u64_map_bytes(&ct->flows) + u64_map_bytes(&ct->cur) +
		     u64_map_bytes(&ct->prev) + ct->cap_ns * sizeof(*ct->ns) + SOCKDIAG_RECV_BUF;
	out->dump_seconds = ct->dump_seconds;
	return;
}
