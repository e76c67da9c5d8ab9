/* Connections: the table of open connections, the limits on it (the
 * descriptor budget, eviction of idle ones past the soft limit) and the
 * watchdog that enforces the header and request deadlines (http.h). */
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "common/hash.h"
#include "http_internal.h"
#include "http_tls.h"

/* Descriptors kept for everything but HTTP: netlink, /proc, logs. */
#define FD_RESERVE 128u
/* Past this many connections at once, their memory is trimmed when most
 * have gone. */
#define TRIM_AFTER_CONNS 256u
/* How often the watchdog looks for connections past their deadline. */
#define SWEEP_INTERVAL_MS 250u
/* How often it looks at connections held by the pipelining gate: a
 * client that pipelines and reads waits about this long per request. */
#define GATE_POLL_MS 10u
/* How far from the oldest end of the fresh queue eviction looks for a
 * connection from an address holding at least its share, before it takes
 * the oldest whatever its address: a bounded walk per accept. */
#define EVICT_WALK	 64u
#define ADDR_BUCKETS_MIN 256u

struct conn *http_conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void q_unlink(struct http_server *srv, struct conn *c)
{
	enum conn_queue q = c->queue;

	if (q == Q_NONE)
		return;
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		srv->q_head[q] = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		srv->q_tail[q] = c->qprev;
	c->qprev = c->qnext = NULL;
	srv->q_len[q]--;
	if (q == Q_FRESH && c->addr && --c->addr->fresh == 0)
		srv->fresh_addrs--;
	c->queue = Q_NONE;
}

/* Contract: see http_internal.h. Newest first, so each queue's tail is
 * what has waited longest there. */
void http_conn_requeue(struct http_server *srv, struct conn *c, enum conn_queue q)
{
	q_unlink(srv, c);
	if (q == Q_NONE)
		return;
	c->qnext = srv->q_head[q];
	if (c->qnext)
		c->qnext->qprev = c;
	else
		srv->q_tail[q] = c;
	srv->q_head[q] = c;
	srv->q_len[q]++;
	c->queue = q;
	if (q == Q_FRESH && c->addr && c->addr->fresh++ == 0)
		srv->fresh_addrs++;
}

static unsigned addr_bucket(const struct http_server *srv, const unsigned char src[16])
{
	uint32_t h = srv->addr_seed, w;

	for (unsigned i = 0; i < 16; i += 4) {
		memcpy(&w, src + i, 4);
		h = fnv1a_u32(h, w);
	}
	return h & (srv->addr_buckets - 1);
}

/* The address's entry, made on its first connection; NULL when it cannot
 * be allocated (the connection then counts as from a heavy address). */
static struct addr_count *addr_get(struct http_server *srv, const unsigned char src[16])
{
	struct addr_count **head, *a;

	if (!srv->addrs)
		return NULL;
	head = &srv->addrs[addr_bucket(srv, src)];
	for (a = *head; a; a = a->next)
		if (memcmp(a->src, src, 16) == 0)
			break;
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return NULL;
		memcpy(a->src, src, 16);
		a->next = *head;
		*head = a;
	}
	a->conns++;
	return a;
}

static void addr_put(struct http_server *srv, struct addr_count *a)
{
	struct addr_count **pp;

	if (!a || --a->conns)
		return;
	for (pp = &srv->addrs[addr_bucket(srv, a->src)]; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	free(a);
}

int http_conn_table_init(struct http_server *srv)
{
	unsigned n = ADDR_BUCKETS_MIN;

	while (n < srv->max_conns && n < (1u << 20))
		n <<= 1;
	srv->addrs = calloc(n, sizeof(*srv->addrs));
	if (!srv->addrs)
		return -ENOMEM;
	/* Seeded, so a client choosing its addresses (IPv6) cannot aim them
	 * all at one chain; any seed will do if there is no entropy yet. */
	if (getrandom(&srv->addr_seed, sizeof(srv->addr_seed), GRND_NONBLOCK) < 0)
		srv->addr_seed = FNV1A_INIT;
	srv->addr_buckets = n;
	return 0;
}

/* After MHD stopped: every connection is gone, and so is every entry. */
void http_conn_table_free(struct http_server *srv)
{
	free(srv->addrs);
	srv->addrs = NULL;
}

static void conn_unlink(struct http_server *srv, struct conn *c)
{
	http_conn_requeue(srv, c, Q_NONE);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	c->prev = c->next = NULL;
	srv->n_conns--;
	if (c->in_request)
		srv->in_flight--;
	addr_put(srv, c->addr);
	c->addr = NULL;
}

static void conn_link(struct http_server *srv, struct conn *c)
{
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	else
		srv->conns_tail = c;
	srv->conns = c;
	srv->n_conns++;
	if (srv->n_conns > srv->conns_peak)
		srv->conns_peak = srv->n_conns;
	c->addr = addr_get(srv, c->src);
	http_conn_requeue(srv, c, Q_FRESH);
}

/* Shut the connection's socket down (MHD sees the end of the stream and
 * closes it as usual); it leaves every eviction queue. Under the lock. */
static void conn_shut(struct http_server *srv, struct conn *c)
{
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	c->shut = true;
	if (c->queue != Q_GATED)
		http_conn_requeue(srv, c, Q_NONE);
}

/* Contract: what eviction takes: among the connections that never
 * completed a request, the one that has waited longest whose address
 * holds at least its share of them (fresh * addresses >= all fresh), so
 * a flood from a few addresses evicts its own connections, never a
 * scraper's single one that is still in its TLS handshake or far away;
 * when none of the EVICT_WALK oldest reaches its share (a flood from many
 * addresses), the oldest of those from the address holding the most. Only when
 * none is left, the idle keep-alive connection that has waited longest.
 * In a request, shut down or gated: never. Under the lock. */
static struct conn *evict_pick(const struct http_server *srv)
{
	struct conn *c = srv->q_tail[Q_FRESH], *heaviest = c;
	unsigned walked = 0;

	if (!c)
		return srv->q_tail[Q_IDLE];
	for (; c && walked < EVICT_WALK; c = c->qprev, walked++) {
		if (!c->addr || (uint64_t)c->addr->fresh * srv->fresh_addrs >= srv->q_len[Q_FRESH])
			return c;
		if (c->addr->fresh > heaviest->addr->fresh)
			heaviest = c;
	}
	return heaviest;
}

/* Contract: past soft_conns, shut down one connection (evict_pick). A
 * fresh connection always gets in and what it displaces is what has had
 * the longest to send a request. One for one: evicting more makes a
 * reconnecting attacker churn faster, which kept the accept queue fuller
 * (measured: a fresh scrape's worst 1.0-1.3 s with two, 0.1-0.2 s with
 * one). Under the lock. */
static void evict_one(struct http_server *srv)
{
	struct conn *c;

	if (srv->n_conns <= srv->soft_conns)
		return;
	c = evict_pick(srv);
	if (!c)
		return;
	conn_shut(srv, c);
	http_stats_event(&srv->stats, HEV_EVICTED);
}

/* The client's address as 16 bytes: IPv4 as its mapped IPv6 form, so
 * either family compares alike. */
static void conn_source(struct MHD_Connection *mc, unsigned char src[16])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(src, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		src[10] = src[11] = 0xff;
		memcpy(src + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(src, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/* Contract (MHD connection notification): STARTED tracks the connection
 * and, with TLS, sets up its session before the handshake; a connection
 * that cannot be tracked or set up is shut down at once rather than left
 * without deadlines. CLOSED comes before MHD closes the socket, so the
 * watchdog never shuts down a descriptor number that was reused. */
void http_conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		c = *socket_context;
		if (!c)
			return;
		pthread_mutex_lock(&srv->lock);
		conn_unlink(srv, c);
		if (c->counted)
			srv->active_requests--;
		pthread_mutex_unlock(&srv->lock);
		if (c->tls_began && !c->tls_done)
			http_stats_event(&srv->stats, HEV_TLS_HANDSHAKE);
		http_gen_unref(c->gen);
		free(c);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	c = calloc(1, sizeof(*c));
	if (!c) {
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	c->mc = mc;
	c->srv = srv;
	c->fd = ci ? ci->connect_fd : -1;
	c->since_ms = http_now_ms();
	conn_source(mc, c->src);
	pthread_mutex_lock(&srv->lock);
	evict_one(srv);
	conn_link(srv, c);
	if (srv->tls)
		c->gen = http_gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	*socket_context = c;
	if (c->fd < 0 || (srv->tls && http_tls_setup_session(mc, c) < 0)) {
		pthread_mutex_lock(&srv->lock);
		conn_shut(srv, c);
		pthread_mutex_unlock(&srv->lock);
	}
}

/* Contract (MHD request completed): the request's slot is free again and
 * the connection's header deadline starts over. */
void http_conn_request_done(void *cls, struct MHD_Connection *mc, void **con_cls,
			    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct conn *c = http_conn_of(mc);

	(void)con_cls;
	(void)toe;
	if (!c)
		return;
	pthread_mutex_lock(&srv->lock);
	http_slot_release(srv, c);
	if (c->in_request)
		srv->in_flight--;
	c->in_request = false;
	c->served = true;
	c->bad_uri = false;
	c->reload = RELOAD_NONE;
	c->since_ms = http_now_ms();
	if (!c->shut)
		http_conn_requeue(srv, c, Q_IDLE);
	pthread_mutex_unlock(&srv->lock);
}

/* Contract: see http_internal.h. */
void http_slot_release(struct http_server *srv, struct conn *c)
{
	if (c->counted)
		srv->active_requests--;
	c->counted = false;
}

/* Bytes sent on fd and not yet acknowledged by the peer; 0 on error and
 * once the connection is no longer established (a reset keeps the count
 * but nothing will be acknowledged any more: MHD must see the end). */
static int unacked_bytes(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int n = 0;

	if (fd < 0 || ioctl(fd, SIOCOUTQ, &n) < 0 || n == 0)
		return 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    ti.tcpi_state != TCP_ESTABLISHED)
		return 0;
	return n;
}

/* Contract: see http_internal.h. Called first for each request (on the
 * header); MHD calls the handler again after the resume, which then
 * finds the previous answer read. The gate is what bounds a pipelining
 * slow reader: MHD reads the next request once the previous response is
 * in the socket's send buffer, so without it one connection queues up to
 * the kernel's send buffer limit (4 MiB) of answers, each taking a slot
 * in turn. */
bool http_pipeline_gate(struct http_server *srv, struct conn *c)
{
	bool gated = false;

	/* Asking the kernel on every request was one system call in five of
	 * a small answer's (an ioctl next to epoll_wait, recvfrom and
	 * sendmsg) and cost 10-20% of a saturating client's requests/s;
	 * below HTTP_GATE_CHECK_BYTES of answers since the last look, a
	 * client that does not read holds too little to matter. */
	if (!c->served || c->unchecked_bytes < HTTP_GATE_CHECK_BYTES)
		return false;
	if (unacked_bytes(c->fd) == 0) {
		c->unchecked_bytes = 0;
		return false;
	}
	pthread_mutex_lock(&srv->lock);
	if (!srv->stopping && !c->shut) {
		c->gated = gated = true;
		if (!c->in_request)
			srv->in_flight++;
		c->in_request = true;
		c->since_ms = http_now_ms();
		http_conn_requeue(srv, c, Q_GATED);
		MHD_suspend_connection(c->mc);
	}
	pthread_mutex_unlock(&srv->lock);
	if (gated)
		http_stats_event(&srv->stats, HEV_GATED);
	return gated;
}

/* Resume a gated connection (under the lock). */
static void gate_open(struct http_server *srv, struct conn *c)
{
	c->gated = false;
	http_conn_requeue(srv, c, Q_NONE);
	MHD_resume_connection(c->mc);
}

/* The gated connections whose answer was read, or which are shut or past
 * their deadline, go on. Under the lock. */
static void gate_poll(struct http_server *srv, bool all)
{
	struct conn *c = srv->q_head[Q_GATED], *next;

	for (; c; c = next) {
		next = c->qnext;
		if (all || c->shut || unacked_bytes(c->fd) == 0)
			gate_open(srv, c);
	}
}

/* One sweep of the table at now, under the lock: connections past their
 * deadline are shut down, reload waiters past theirs answered. */
static void sweep(struct http_server *srv, uint64_t now)
{
	struct conn *c;

	for (c = srv->conns; c; c = c->next) {
		uint64_t limit_ms;

		if (c->reload == RELOAD_WAITING) {
			http_reload_expire(c, now);
			continue;
		}
		if (c->shut)
			continue;
		limit_ms = (c->in_request ? HTTP_REQUEST_TIMEOUT_S : HTTP_HEADER_TIMEOUT_S) * 1000u;
		if (now - c->since_ms > limit_ms) {
			/* An idle keep-alive connection timing out is normal
			 * (a scraper between scrapes): not counted. */
			if (c->queue != Q_IDLE)
				http_stats_event(&srv->stats, HEV_DEADLINE);
			conn_shut(srv, c);
		}
	}
}

/* Contract (the watchdog thread): every SWEEP_INTERVAL_MS until stopping,
 * sweep the table and give memory back after a flood of connections. */
void *http_watchdog_main(void *arg)
{
	struct http_server *srv = arg;
	uint64_t last_sweep = 0;
	struct timespec ts;

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec +=
		    (long)(srv->q_len[Q_GATED] ? GATE_POLL_MS : SWEEP_INTERVAL_MS) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
		if (srv->stopping)
			break;
		gate_poll(srv, false);
		now = http_now_ms();
		if (now - last_sweep < SWEEP_INTERVAL_MS)
			continue;
		last_sweep = now;
		/* Thousands of connections gone: give their buffers back, or
		 * glibc's per-thread arenas keep RSS at the flood's peak. */
		if (srv->conns_peak > TRIM_AFTER_CONNS && srv->n_conns < srv->conns_peak / 8) {
			srv->conns_peak = srv->n_conns;
			malloc_trim(0);
		}
		sweep(srv, now);
		/* Logging writes to stderr: not under the lock. */
		pthread_mutex_unlock(&srv->lock);
		http_stats_log(&srv->stats, now);
		pthread_mutex_lock(&srv->lock);
	}
	/* MHD may not be stopped with a suspended connection; no new one is
	 * gated from now on (stopping). */
	gate_poll(srv, true);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Contract: the connection limit to ask MHD for: the wanted one, within
 * what RLIMIT_NOFILE allows after FD_RESERVE (half of it below twice
 * that). The soft limit is raised to
 * the hard one first, as the Go runtime does at start-up, since idle
 * connections are cheap but each needs a descriptor. */
unsigned http_fd_budget(unsigned want, unsigned long *nofile)
{
	struct rlimit rl;
	rlim_t room;

	*nofile = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {rl.rlim_max, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	*nofile = (unsigned long)rl.rlim_cur;
	/* A small limit (prlimit, a container's default): half for HTTP,
	 * so the table does not shrink to nothing. */
	room = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE : rl.rlim_cur / 2;
	if (room < THREAD_POOL_SIZE)
		room = THREAD_POOL_SIZE;
	return room < want ? (unsigned)room : want;
}
