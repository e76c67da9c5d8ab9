/* The HTTP server's lifecycle: start (listening socket, limits, threads),
 * a web config swap at run time, stop. The rest of the server is split by
 * concern: see http_internal.h. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_internal.h"
#include "http_listen.h"
#include "http_tls.h"

#define DEFAULT_TELEMETRY_PATH "/metrics"

static void set_err(char *errmsg, size_t errlen, const char *what, const char *addr, int err)
{
	char eb[128];

	if (!errmsg || errlen == 0)
		return;
	if (err)
		snprintf(errmsg, errlen, "%s %s: %s", what, addr, strerror_r(err, eb, sizeof(eb)));
	else
		snprintf(errmsg, errlen, "%s %s", what, addr);
}

/* Contract: the lock and the watchdog's condition (on the monotonic
 * clock, as its deadlines). 0 or -errno; what was made is marked for
 * http_server_stop(). */
static int init_sync(struct http_server *srv)
{
	pthread_condattr_t ca;
	int ret;

	ret = -pthread_mutex_init(&srv->lock, NULL);
	if (ret)
		return ret;
	srv->lock_ok = 1;
	if (pthread_condattr_init(&ca) != 0)
		return -ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = -pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (ret)
		return ret;
	srv->cond_ok = 1;
	return 0;
}

/* Contract: libmicrohttpd serving the listening socket fd with the
 * server's callbacks and limits; NULL (errno set where MHD sets it) when
 * it will not start. */
static struct MHD_Daemon *start_daemon(struct http_server *srv, int fd, unsigned max_conn,
				       unsigned per_ip)
{
	struct MHD_OptionItem ops[] = {
	    {MHD_OPTION_LISTEN_SOCKET, (intptr_t)fd, NULL},
	    {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)THREAD_POOL_SIZE, NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)max_conn, NULL},
	    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip, NULL},
	    /* MHD's own inactivity timeout backs up the watchdog. */
	    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)HTTP_REQUEST_TIMEOUT_S, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTP_MAX_HEADER_BYTES, NULL},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)http_conn_notify, srv},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_conn_request_done, srv},
	    {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)http_unescape_uri, NULL},
	    /* Per-connection settings override this (http_tls_setup_session). */
	    {srv->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0,
	     (void *)http_tls_retrieve_cert},
	    {MHD_OPTION_END, 0, NULL},
	};
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;

	if (srv->tls)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, NULL, NULL, http_handle_request, srv, MHD_OPTION_ARRAY,
				ops, MHD_OPTION_END);
}

/* Contract: see http.h. The listen socket is created here and handed to
 * MHD, which owns (and closes) it from a successful start on. */
int http_server_start(const struct http_options *opt, struct http_server **out, char *errmsg,
		      size_t errlen)
{
	struct web_config *wc = opt ? opt->web : NULL;
	const char *listen_addr, *path;
	unsigned max_conn, per_ip, want_conn;
	unsigned long nofile;
	struct http_server *srv = NULL;
	struct sockaddr_storage ss;
	const char *op = "";
	unsigned sslen;
	struct stat st;
	int fd = -1, ret;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (!opt || !out) {
		web_config_free(wc);
		return -EINVAL;
	}
	listen_addr = opt->listen_address ? opt->listen_address : HTTP_DEFAULT_LISTEN;
	path = opt->telemetry_path ? opt->telemetry_path : DEFAULT_TELEMETRY_PATH;
	want_conn = opt->max_connections ? opt->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
	max_conn = http_fd_budget(want_conn, &nofile);
	per_ip = opt->max_per_ip ? opt->max_per_ip : HTTP_DEFAULT_MAX_PER_IP;
	/* MHD splits the limit over the workers; each needs at least one. */
	if (max_conn < THREAD_POOL_SIZE)
		max_conn = THREAD_POOL_SIZE;
	if (path[0] != '/') {
		set_err(errmsg, errlen, "telemetry path must start with '/':", path, 0);
		web_config_free(wc);
		return -EINVAL;
	}
	ret = http_parse_listen_address(listen_addr, &ss, &sslen);
	if (ret) {
		set_err(errmsg, errlen, "invalid listen address", listen_addr, 0);
		web_config_free(wc);
		return ret;
	}

	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		web_config_free(wc);
		ret = -ENOMEM;
		goto out;
	}
	srv->tls = wc && wc->tls;
	srv->enable_lifecycle = opt->enable_lifecycle;
	srv->max_requests = opt->max_requests ? opt->max_requests : HTTP_DEFAULT_MAX_REQUESTS;
	srv->routes = opt->routes;
	srv->n_routes = opt->n_routes;
	srv->telemetry_path = strdup(path);
	srv->version = strdup(opt->version ? opt->version : "");
	if (!srv->telemetry_path || !srv->version) {
		web_config_free(wc);
		ret = -ENOMEM;
		goto out;
	}
	srv->gen = http_gen_new(srv, wc);
	if (!srv->gen) {
		ret = -ENOMEM;
		goto out;
	}
	/* A quarter of the table stays for fresh connections: past the rest,
	 * each new one evicts the oldest idle one (MHD refuses only past
	 * max_conn, split over its workers). */
	srv->soft_conns = max_conn - max_conn / 4;
	srv->max_conns = max_conn;
	srv->want_conns = want_conn;
	srv->nofile = nofile;
	ret = init_sync(srv);
	if (ret)
		goto out;
	ret = http_conn_table_init(srv);
	if (ret)
		goto out;
	fd = http_open_listener_any(listen_addr, &ss, sslen, &op);
	if (fd < 0) {
		ret = fd;
		set_err(errmsg, errlen, op, listen_addr, -ret);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		set_err(errmsg, errlen, "fstat listen socket", listen_addr, -ret);
		goto out;
	}
	if (opt->after_bind) {
		char hook_err[256] = "";

		ret = opt->after_bind(opt->after_bind_arg, hook_err, sizeof(hook_err));
		if (ret < 0) {
			if (errmsg && errlen)
				snprintf(errmsg, errlen, "%s", hook_err);
			goto out;
		}
	}
	/* Only now: a thread started before after_bind() (which drops the
	 * capabilities of the calling thread) would keep them all. */
	ret = auth_pool_new(&srv->auth);
	if (ret)
		goto out;
	errno = 0;
	srv->daemon = start_daemon(srv, fd, max_conn, per_ip);
	if (!srv->daemon) {
		ret = errno ? -errno : -EIO;
		set_err(errmsg, errlen, "start HTTP server on", listen_addr, -ret);
		if (!http_still_our_socket(fd, st.st_ino))
			fd = -1;
		goto out;
	}
	fd = -1;
	ret = -pthread_create(&srv->watchdog, NULL, http_watchdog_main, srv);
	if (ret) {
		set_err(errmsg, errlen, "start HTTP watchdog for", listen_addr, -ret);
		goto out;
	}
	srv->watchdog_ok = 1;
	*out = srv;
	srv = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	http_server_stop(srv);
	return ret;
}

/* Contract: see http.h. Connections already open keep the generation they
 * started with (their handshake is done); requests from now on see the new
 * users and headers, new handshakes the new certificate, CAs and
 * versions. */
int http_server_set_web_config(struct http_server *srv, struct web_config *wc, char *errmsg,
			       size_t errlen)
{
	struct MHD_Response *plain = NULL, *gzip = NULL, *old_plain, *old_gzip;
	struct web_gen *g, *old;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (!srv) {
		web_config_free(wc);
		return -EINVAL;
	}
	if ((wc && wc->tls) != srv->tls) {
		if (errmsg && errlen)
			snprintf(errmsg, errlen, "%s TLS needs a restart",
				 srv->tls ? "disabling" : "enabling");
		web_config_free(wc);
		return -EINVAL;
	}
	g = http_gen_new(srv, wc);
	if (!g)
		return -ENOMEM;
	if (srv->body && http_rebuild_bodies(srv, g, &plain, &gzip)) {
		http_gen_unref(g);
		return -ENOMEM;
	}
	pthread_mutex_lock(&srv->lock);
	old = srv->gen;
	srv->gen = g;
	old_plain = srv->plain;
	old_gzip = srv->gzip;
	if (plain) {
		srv->plain = plain;
		srv->gzip = gzip;
	} else {
		old_plain = old_gzip = NULL;
	}
	http_login_forget_all(srv);
	pthread_mutex_unlock(&srv->lock);
	http_gen_unref(old);
	if (old_plain)
		MHD_destroy_response(old_plain);
	if (old_gzip)
		MHD_destroy_response(old_gzip);
	return 0;
}

void http_server_limits(const struct http_server *srv, unsigned *max_conns, unsigned *wanted,
			unsigned long *nofile)
{
	*max_conns = srv->max_conns;
	*wanted = srv->want_conns;
	*nofile = srv->nofile;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->lock_ok) {
		/* From here on no connection gets suspended (serve_reload), so
		 * resuming the waiting ones leaves none: MHD may not be stopped
		 * with a suspended connection. */
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		if (srv->cond_ok)
			pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		http_server_reload_done(srv, -ECANCELED);
	}
	if (srv->watchdog_ok)
		pthread_join(srv->watchdog, NULL);
	/* Answers (and resumes) every connection waiting for a check; MHD
	 * may not be stopped with one suspended. */
	auth_pool_stop(srv->auth);
	/* Joins the workers first, so no handler can touch what follows. */
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	auth_pool_free(srv->auth);
	http_conn_table_free(srv);
	http_gen_unref(srv->gen);
	if (srv->plain)
		MHD_destroy_response(srv->plain);
	if (srv->gzip)
		MHD_destroy_response(srv->gzip);
	if (srv->cond_ok)
		pthread_cond_destroy(&srv->cond);
	if (srv->lock_ok)
		pthread_mutex_destroy(&srv->lock);
	http_body_unref(srv->body);
	http_body_unref(srv->zbody);
	free(srv->telemetry_path);
	free(srv->version);
	free(srv);
}
