/* aggregate: one collection, streamed. Each socket goes from the receive
 * buffer to a stack sock_record, through service_match() and
 * classify_socket(), into its service's counters; nothing per socket is
 * kept, so memory does not grow with the number of sockets. */
#include "aggregate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>

#include "common/buf.h"
#include "sockdiag.h"
#include "sockdiag_filter.h"

/* NLM_F_DUMP_INTR restarts before a collection is declared failed. */
#define COLLECT_MAX_ATTEMPTS 4

struct collector {
	void *recv_buf;
	struct port_set listening;
	struct service_table *table;
	struct buf bytecode;
	bool filter_rejected; /* the kernel refused our bytecode once: stop sending it */
	struct port_range local[SOCKDIAG_FILTER_MAX_RANGES];
	struct port_range remote[SOCKDIAG_FILTER_MAX_RANGES];
};

void aggregate_add(struct service_counts *c, const struct classification *cls)
{
	unsigned f = cls->flags;

	c->established += !!(f & SC_ESTABLISHED);
	c->stale += !!(f & SC_STALE);
	c->retransmitting += !!(f & SC_RETRANSMITTING);
	c->keepalive_probing += !!(f & SC_KEEPALIVE_PROBING);
	c->zero_window += !!(f & SC_ZERO_WINDOW);
	c->close_wait += !!(f & SC_CLOSE_WAIT);
	c->keepalive += !!(f & SC_KEEPALIVE);
	if (cls->unanswered_ms > c->longest_unanswered_ms)
		c->longest_unanswered_ms = cls->unanswered_ms;
}

int collection_result_reset(struct collection_result *res, const struct service_table *t)
{
	size_t n = service_table_size(t);

	if (n > res->cap_services) {
		struct service_result *p = realloc(res->services, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		res->services = p;
		res->cap_services = n;
	}
	res->n_services = n;
	for (size_t i = 0; i < n; i++) {
		const struct service_entry *e = service_table_entry(t, i);

		memset(&res->services[i], 0, sizeof(res->services[i]));
		memcpy(res->services[i].name, e->name, sizeof(e->name));
		res->services[i].direction = e->direction;
	}
	res->sockets_seen = 0;
	res->sockets_matched = 0;
	res->listening_sockets = 0;
	res->auto_services_dropped = 0;
	res->dump_retries = 0;
	res->kernel_filter = false;
	return 0;
}

void collection_result_free(struct collection_result *res)
{
	if (!res)
		return;
	free(res->services);
	res->services = NULL;
	res->n_services = res->cap_services = 0;
}

int collector_new(struct collector **out)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	buf_init(&c->bytecode);
	c->recv_buf = malloc(SOCKDIAG_RECV_BUF);
	if (!c->recv_buf) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	service_table_free(c->table);
	buf_free(&c->bytecode);
	free(c->recv_buf);
	free(c);
}

struct count_ctx {
	const struct service_table *table;
	struct collection_result *res;
};

static int on_listening(const struct sock_record *rec, void *ctx)
{
	struct collector *c = ctx;

	port_set_add(&c->listening, rec->sport);
	return 0;
}

static int on_connected(const struct sock_record *rec, void *ctx)
{
	struct count_ctx *cc = ctx;
	struct classification cls;
	const struct service_entry *e;
	int idx;

	cc->res->sockets_seen++;
	idx = service_match(cc->table, rec);
	if (idx < 0)
		return 0;
	e = service_table_entry(cc->table, (size_t)idx);
	classify_socket(rec, e->stale_after_ms, &cls);
	aggregate_add(&cc->res->services[idx].counts, &cls);
	cc->res->sockets_matched++;
	return 0;
}

static const uint8_t families[] = {AF_INET, AF_INET6};

static int dump_listeners(struct collector *c, struct nl_sock *sk, uint64_t *count)
{
	struct sockdiag_stats st = {0};

	memset(&c->listening, 0, sizeof(c->listening));
	for (size_t i = 0; i < sizeof(families); i++) {
		struct sockdiag_request req = {
			.family = families[i],
			.states = SOCKDIAG_STATE(TCPS_LISTEN),
		};
		int r = sockdiag_dump(sk, &req, c->recv_buf, SOCKDIAG_RECV_BUF, on_listening, c,
				      &st);
		if (r < 0)
			return r;
	}
	*count = st.sockets;
	return 0;
}

/* Compile the ports the table can claim into c->bytecode. False when
 * every socket may match (unmatched is counted), when there are too many
 * ranges to be worth it, or when the kernel refused a filter before. */
static bool build_filter(struct collector *c)
{
	size_t nl = 0, nr = 0;

	buf_reset(&c->bytecode);
	if (c->filter_rejected)
		return false;
	if (service_table_port_ranges(c->table, c->local, &nl, c->remote, &nr,
				      SOCKDIAG_FILTER_MAX_RANGES) < 0)
		return false;
	if (nl + nr == 0)
		return false;
	return sockdiag_filter_build(c->local, nl, c->remote, nr, &c->bytecode) == 0;
}

static int collect_once(struct collector *c, const struct config *cfg, struct nl_sock *sk,
			struct collection_result *res)
{
	bool listeners = service_table_needs_listeners(cfg);
	uint64_t n_listening = 0;
	uint32_t dropped = 0;
	struct count_ctx cc;
	bool use_filter;
	int r;

	if (listeners) {
		r = dump_listeners(c, sk, &n_listening);
		if (r < 0)
			return r;
	}
	service_table_free(c->table);
	c->table = NULL;
	r = service_table_build(cfg, listeners ? &c->listening : NULL, &c->table, &dropped);
	if (r < 0)
		return r;
	r = collection_result_reset(res, c->table);
	if (r < 0)
		return r;
	res->listening_sockets = n_listening;
	res->auto_services_dropped = dropped;

	cc.table = c->table;
	cc.res = res;
	use_filter = build_filter(c);
	for (size_t i = 0; i < sizeof(families); i++) {
		struct sockdiag_request req = {
			.family = families[i],
			.states = SOCKDIAG_STATES_CONNECTED,
			.ext = 1u << (INET_DIAG_INFO - 1),
			.bytecode = use_filter ? c->bytecode.data : NULL,
			.bytecode_len = use_filter ? c->bytecode.len : 0,
		};
		r = sockdiag_dump(sk, &req, c->recv_buf, SOCKDIAG_RECV_BUF, on_connected, &cc,
				  NULL);
		if (r == -EINVAL && use_filter) {
			/* A kernel that refuses the bytecode: count everything
			 * from now on, filtering in userspace (service_match
			 * drops the same sockets, only later). */
			c->filter_rejected = true;
			return -EAGAIN;
		}
		if (r < 0)
			return r;
	}
	res->kernel_filter = use_filter;
	return 0;
}

int collector_collect(struct collector *c, const struct config *cfg, struct nl_sock *sk,
		      struct collection_result *res)
{
	int r = -EAGAIN;
	unsigned retries = 0;

	for (int attempt = 0; attempt < COLLECT_MAX_ATTEMPTS; attempt++) {
		r = collect_once(c, cfg, sk, res);
		if (r != -EAGAIN)
			break;
		retries++;
	}
	res->dump_retries = retries;
	return r;
}
