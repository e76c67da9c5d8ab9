/* Connections: the table of open connections, the limits on it (the
 * descriptor budget, eviction of idle ones past the soft limit) and the
 * watchdog that enforces the header and request deadlines (http.h). */
#include <malloc.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "http_tls.h"

/* Descriptors kept for everything but HTTP: netlink, /proc, logs. */
#define FD_RESERVE 128u
/* Past this many connections at once, their memory is trimmed when most
 * have gone. */
#define TRIM_AFTER_CONNS 256u
/* How often the watchdog looks for connections past their deadline. */
#define SWEEP_INTERVAL_MS 250u
/* How far from the oldest end eviction looks for an idle connection, so
 * a table full of requests in flight costs a bounded walk per accept. */
#define EVICT_SCAN	 256u
#define EVICT_PER_ACCEPT 1u

struct conn *http_conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_unlink(struct http_server *srv, struct conn *c)
{
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
}

/* Contract: past soft_conns, shut down the oldest connection that waits
 * for a request header, one that never completed a request first (a
 * flood of idle or trickling connections), else an idle keep-alive one (a
 * scraper between scrapes: it only reconnects). A fresh connection always
 * gets in and what it displaces is what has had the longest to send a
 * request. One for one: evicting more makes a reconnecting attacker
 * churn faster, which kept the accept queue fuller (measured: a fresh
 * scrape's worst 1.0-1.3 s with two, 0.1-0.2 s with one). Under the
 * lock. */
static void evict_idle(struct http_server *srv)
{
	unsigned evicted = 0;

	if (srv->n_conns <= srv->soft_conns)
		return;
	for (int pass = 0; pass < 2 && evicted < EVICT_PER_ACCEPT; pass++) {
		struct conn *c = srv->conns_tail;
		unsigned seen = 0;

		for (; c && seen < EVICT_SCAN && evicted < EVICT_PER_ACCEPT; c = c->prev, seen++) {
			if (c->shut || c->in_request || c->fd < 0 || c->reload != RELOAD_NONE ||
			    c->auth != AUTH_NONE || (pass == 0 && c->served))
				continue;
			shutdown(c->fd, SHUT_RDWR);
			c->shut = true;
			evicted++;
		}
	}
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
	evict_idle(srv);
	conn_link(srv, c);
	if (srv->tls)
		c->gen = http_gen_ref(srv->gen);
	pthread_mutex_unlock(&srv->lock);
	*socket_context = c;
	if (c->fd < 0 || (srv->tls && http_tls_setup_session(mc, c->gen->wc) < 0)) {
		pthread_mutex_lock(&srv->lock);
		c->shut = true;
		pthread_mutex_unlock(&srv->lock);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
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
	if (c->counted)
		srv->active_requests--;
	c->counted = false;
	c->in_request = false;
	c->served = true;
	c->bad_uri = false;
	c->reload = RELOAD_NONE;
	c->since_ms = http_now_ms();
	pthread_mutex_unlock(&srv->lock);
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
			shutdown(c->fd, SHUT_RDWR);
			c->shut = true;
		}
	}
}

/* Contract (the watchdog thread): every SWEEP_INTERVAL_MS until stopping,
 * sweep the table and give memory back after a flood of connections. */
void *http_watchdog_main(void *arg)
{
	struct http_server *srv = arg;
	struct timespec ts;

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)SWEEP_INTERVAL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
		if (srv->stopping)
			break;
		/* Thousands of connections gone: give their buffers back, or
		 * glibc's per-thread arenas keep RSS at the flood's peak. */
		if (srv->conns_peak > TRIM_AFTER_CONNS && srv->n_conns < srv->conns_peak / 8) {
			srv->conns_peak = srv->n_conns;
			malloc_trim(0);
		}
		sweep(srv, http_now_ms());
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Contract: the connection limit to ask MHD for: the wanted one, within
 * what RLIMIT_NOFILE allows after FD_RESERVE. The soft limit is raised to
 * the hard one first, as the Go runtime does at start-up, since idle
 * connections are cheap but each needs a descriptor. */
unsigned http_fd_budget(unsigned want)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {rl.rlim_max, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	room = rl.rlim_cur > FD_RESERVE + THREAD_POOL_SIZE ? rl.rlim_cur - FD_RESERVE
							   : THREAD_POOL_SIZE;
	return room < want ? (unsigned)room : want;
}
