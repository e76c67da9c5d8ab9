/* daemon: the exporter process once its flags are parsed. One thread
 * collects: every --collector.interval it dumps the sockets, renders the
 * whole /metrics body once and publishes it to the HTTP server, whose own
 * threads only hand out the last published body. So a scrape never waits
 * for netlink, and a slow or failing collection never blocks a scrape:
 * the last good counts stay served. Signals are taken synchronously
 * (sigtimedwait) between collections: SIGHUP reloads the config (the
 * transaction of reload.h), SIGTERM/SIGINT stop. The loop's decisions
 * (when to collect or reload, streaks, self metrics) are loop.h's. */
#ifndef HALFOPEN_DAEMON_H
#define HALFOPEN_DAEMON_H

#include "config/config.h"
#include "config/web_config.h"
#include "exporter/flags.h"

struct daemon;

/* Load the config at path (NULL: the built-in one); on error log it
 * once, with file, line and key. 0 or -errno. */
int daemon_load_config(const char *path, struct config **out);
/* As daemon_load_config, for --web.config.file (NULL: none, *out NULL). */
int daemon_load_web_config(const char *path, struct web_config **out);

/* A daemon for opt (which must outlive it), taking over cfg and web
 * (NULL: none) in every case. 0 or -ENOMEM. */
int daemon_new(const struct options *opt, struct config *cfg, struct web_config *web,
	       struct daemon **out);
/* Open the netlink handles and enforce, start the HTTP server (which
 * drops the privileges), then collect until SIGTERM or SIGINT: 0. A
 * failure to start (logged): its -errno. -ENOTRECOVERABLE (logged) when
 * the collector thread was left in a foreign network namespace
 * (collectors/netns.h): the process must exit non-zero so systemd or
 * the kubelet restarts it. */
int daemon_run(struct daemon *d);
/* Stops the server, frees everything. Accepts NULL. */
void daemon_free(struct daemon *d);

#endif
