/* POST /-/reload (Prometheus's --web.enable-lifecycle): the request waits,
 * suspended, while the main loop reloads on the SIGHUP it sends. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"

/* A POST /-/reload waits this long for the main loop's answer. */
#define RELOAD_WAIT_S 30u

bool http_is_reload_path(const struct http_server *srv, const char *url)
{
	return srv->enable_lifecycle && url && strcmp(url, "/-/reload") == 0;
}

/* Contract: POST /-/reload, once its body is drained: the first call
 * suspends the connection and sends SIGHUP to the process (the main loop
 * reloads there, as for an outside SIGHUP); http_server_reload_done() or
 * the watchdog's timeout resumes it, and the call after that answers. */
enum MHD_Result http_serve_reload(struct http_server *srv, struct conn *c,
				  struct MHD_Connection *mc)
{
	enum MHD_Result ret = MHD_YES;
	bool ask = false;

	pthread_mutex_lock(&srv->lock);
	if (c->reload == RELOAD_NONE && srv->stopping) {
		/* MHD may not be stopped with a suspended connection, and
		 * http_server_stop() has already resumed the waiting ones. */
		ret = http_queue(srv, mc, MHD_HTTP_SERVICE_UNAVAILABLE,
				 srv->gen->fixed[R_RELOAD_FAILED], 0);
	} else if (c->reload == RELOAD_NONE) {
		c->reload = RELOAD_WAITING;
		c->reload_since_ms = http_now_ms();
		MHD_suspend_connection(mc);
		ask = true;
	} else if (c->reload == RELOAD_ANSWERED) {
		ret = c->reload_rc == 0
			  ? http_queue(srv, mc, MHD_HTTP_OK, srv->gen->fixed[R_RELOAD_OK], 0)
			  : http_queue(srv, mc, MHD_HTTP_INTERNAL_SERVER_ERROR,
				       srv->gen->fixed[R_RELOAD_FAILED], 0);
		c->reload = RELOAD_NONE;
	}
	pthread_mutex_unlock(&srv->lock);
	/* Process-directed, so the main thread's sigtimedwait takes it. */
	if (ask)
		kill(getpid(), SIGHUP);
	return ret;
}

static void answer(struct conn *c, int rc)
{
	c->reload = RELOAD_ANSWERED;
	c->reload_rc = rc;
	MHD_resume_connection(c->mc);
}

/* Contract (the watchdog, under the lock): a waiter the main loop left
 * unanswered for RELOAD_WAIT_S gets -ETIMEDOUT (a 500). */
void http_reload_expire(struct conn *c, uint64_t now)
{
	if (c->reload == RELOAD_WAITING && now - c->reload_since_ms > RELOAD_WAIT_S * 1000u)
		answer(c, -ETIMEDOUT);
}

void http_server_reload_done(struct http_server *srv, int rc)
{
	struct conn *c;

	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	for (c = srv->conns; c; c = c->next)
		if (c->reload == RELOAD_WAITING)
			answer(c, rc);
	pthread_mutex_unlock(&srv->lock);
}
