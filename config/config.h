/* config: the exporter's YAML configuration, parsed and validated.
 *
 * Pure: config_load_buffer() takes bytes, config_load_file() only adds the
 * read. Nothing here prints or exits; every failure fills a config_error
 * that names the file, line, column and key, and the caller logs it once.
 * A config is immutable once loaded, so a running exporter can keep the
 * old one while a reload is validated (see collectors/service_table.h). */
#ifndef HALFOPEN_CONFIG_H
#define HALFOPEN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum direction {
	DIRECTION_INBOUND = 0,  /* match the local port: we are the server */
	DIRECTION_OUTBOUND = 1, /* match the remote port: we are the client */
};

/* "inbound" or "outbound": the config's spelling and the label value. */
const char *direction_name(enum direction d);

struct port_range {
	uint16_t lo, hi; /* inclusive, 1..65535, lo <= hi */
};

struct cidr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network byte order, host bits zeroed */
	uint8_t prefix;    /* 0..32 or 0..128 */
};

/* services[].enforce: what the BPF retrofit (collectors/enforce.h) gives
 * to the service's ESTABLISHED sockets that have not chosen it already. */
struct enforce_config {
	bool keepalive;           /* enforce.keepalive present */
	uint32_t idle_s;          /* TCP_KEEPIDLE, 1..32767 */
	uint32_t interval_s;      /* TCP_KEEPINTVL, 1..32767 */
	uint32_t count;           /* TCP_KEEPCNT, 1..127 */
	uint32_t user_timeout_ms; /* TCP_USER_TIMEOUT; 0: not enforced */
};

struct service_config {
	char *name; /* unique, valid Prometheus label value, 1..64 chars */
	enum direction direction;
	struct port_range *ports;
	size_t n_ports; /* >= 1 */
	struct cidr *cidrs;
	size_t n_cidrs; /* 0: any peer */
	uint32_t stale_after_ms; /* resolved: the service's own or the default */
	/* Remediation opt-in: destroy sockets retransmitting or keepalive
	 * probing unanswered for this long (SOCK_DESTROY). 0: never. */
	uint32_t destroy_after_ms;
	/* How long the path (a NAT, a load balancer, a conntrack table) keeps
	 * an idle flow: resolved, the service's own or the default.
	 * PATH_IDLE_UNSET: unknown, nothing is judged; PATH_IDLE_CONNTRACK:
	 * each namespace's nf_conntrack_tcp_timeout_established. */
	uint32_t path_idle_ms;
	struct enforce_config enforce; /* all zero: no enforce block */
};

/* Whether svc has an enforce block (keepalive or user_timeout). */
static inline bool service_enforces(const struct service_config *svc)
{
	return svc->enforce.keepalive || svc->enforce.user_timeout_ms;
}

struct config {
	char *source;             /* file path, or "<built-in>" */
	uint32_t stale_after_ms;  /* defaults.stale_after, default 5m */
	uint32_t path_idle_ms;	  /* defaults.path_idle_timeout, as service_config's */
	/* defaults.listening_ports: every local listening port that no
	 * configured service claims becomes an inbound service named
	 * "listen_<port>", at most max_listening_services of them (lowest
	 * ports first). */
	bool listening_ports;
	uint32_t max_listening_services; /* default 64, 1..1024 */
	/* defaults.unmatched: count sockets no service claims under
	 * tcp_service="unmatched" (inbound when the local port listens,
	 * outbound otherwise) instead of ignoring them. */
	bool count_unmatched;
	struct service_config *services;
	size_t n_services; /* 0..CONFIG_MAX_SERVICES */
};

#define CONFIG_MAX_SERVICES 256
/* path_idle_ms: not set (nothing judged), or "conntrack". */
#define PATH_IDLE_UNSET		      0u
#define PATH_IDLE_CONNTRACK	      UINT32_MAX
#define CONFIG_DEFAULT_STALE_AFTER_MS (5u * 60u * 1000u)

struct config_error {
	char file[256];
	unsigned line;   /* 1-based; 0 when not tied to a place */
	unsigned column; /* 1-based; 0 when unknown */
	char key[128];   /* dotted path, e.g. "services[2].ports[1]"; "" when none */
	char msg[256];
};

/* Parse and validate YAML text. name is used in errors and as source.
 * 0 and *out set, or a negative errno (-EINVAL for bad config, -ENOMEM)
 * with err filled; *out untouched on error. */
int config_load_buffer(const char *name, const char *data, size_t len, struct config **out,
		       struct config_error *err);
/* Read path and config_load_buffer() it. -errno of open/read with err
 * naming the file on I/O failure. */
int config_load_file(const char *path, struct config **out, struct config_error *err);
/* The built-in default used without --config.file: listening ports become
 * inbound services, everything else is counted as "unmatched", stale after
 * 5m. */
int config_default(struct config **out);
/* Accepts NULL. */
void config_free(struct config *cfg);
/* "file:line:column: key: msg" into out. */
int config_error_format(const struct config_error *err, struct buf *out);

/* The keepalive idle time enforce gives a service whose enforce.keepalive
 * leaves idle out: half the path's idle timeout, in whole seconds, at
 * least 1 (docs/configuration.md says why half). 0 when path_idle_ms is
 * not a duration (unset, or conntrack). Pure. */
uint32_t path_keepalive_idle_s(uint32_t path_idle_ms);

/* Durations as Prometheus writes them: "500ms", "30s", "5m", "1h",
 * "1h30m"; units ms s m h d. Result in ms, must fit in uint32 (~49 days).
 * 0 or -EINVAL/-ERANGE. */
int parse_duration_ms(const char *s, uint32_t *out_ms);

#endif
