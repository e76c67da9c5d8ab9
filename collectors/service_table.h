/* service_table: which configured service a socket belongs to.
 *
 * Built once per collection from the immutable config plus the set of
 * listening ports seen in that collection (for auto "listen_<port>"
 * services and for the direction of "unmatched"). Lookup is O(1) on the
 * port in the common case: one uint16 per port and direction gives the
 * first service that names the port; CIDR mismatches fall back to a scan
 * from there, preserving first-match-in-config-order semantics. */
#ifndef HALFOPEN_SERVICE_TABLE_H
#define HALFOPEN_SERVICE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "sock_record.h"

#define SERVICE_NAME_MAX 64
/* The id of auto ("listen_<port>") and "unmatched" services: they have
 * no configuration of their own. */
#define SERVICE_ID_NONE UINT32_MAX

struct service_entry {
	/* The service's identity for everything downstream (results,
	 * suspects, remediation): its index in cfg->services, so a
	 * per-service setting is cfg->services[id]; SERVICE_ID_NONE for auto
	 * and unmatched services. Valid for the config the table was built
	 * from (a reload renumbers). */
	uint32_t id;
	char name[SERVICE_NAME_MAX + 1];
	enum direction direction;
	uint32_t stale_after_ms;
	uint32_t path_idle_ms; /* config's path_idle_ms (PATH_IDLE_CONNTRACK unresolved) */
	const struct service_config *cfg; /* NULL for auto and unmatched services */
	uint16_t listen_port;              /* auto services: the port; else 0 */
};

/* A bitmap of local listening ports, filled from a LISTEN dump. */
struct port_set {
	uint64_t bits[65536 / 64];
};

static inline void port_set_add(struct port_set *ps, uint16_t port)
{
	ps->bits[port >> 6] |= 1ull << (port & 63);
}

static inline bool port_set_has(const struct port_set *ps, uint16_t port)
{
	return ps->bits[port >> 6] & (1ull << (port & 63));
}

struct service_table;

/* Build the table for cfg. listening may be NULL (no auto services, and
 * "unmatched" is always outbound). *dropped_auto gets the number of
 * listening ports left without a service because of
 * max_listening_services (may be NULL). 0 or -ENOMEM. cfg must outlive
 * the table. */
int service_table_build(const struct config *cfg, const struct port_set *listening,
			struct service_table **out, uint32_t *dropped_auto);
/* Accepts NULL. */
void service_table_free(struct service_table *t);
size_t service_table_size(const struct service_table *t);
const struct service_entry *service_table_entry(const struct service_table *t, size_t idx);
/* Whether cfg asks for each namespace's conntrack timeout
 * (path_idle_timeout: conntrack, in defaults or a service). */
bool service_table_needs_conntrack_timeout(const struct config *cfg);
/* Whether cfg needs a LISTEN dump before the table can be built. */
bool service_table_needs_listeners(const struct config *cfg);
/* The ports any service of t can claim, as coalesced ranges: local
 * (inbound services, auto services) and remote (outbound services), for
 * a kernel-side filter. Returns 0; -ENOENT when every socket may match
 * (t counts "unmatched"); -E2BIG when there are more than max ranges of
 * either kind. */
int service_table_port_ranges(const struct service_table *t, struct port_range *local,
			      size_t *n_local, struct port_range *remote, size_t *n_remote,
			      size_t max);
/* The first configured service (file order) of direction dir naming
 * port, SERVICE_RULE_NONE when none (collectors/bpf/service_rule.h): the
 * table the BPF enforce program's maps are filled from. */
uint32_t service_table_port_owner(const struct service_table *t, enum direction dir,
				  uint16_t port);
/* Direction of "unmatched" for a socket whose local port is not (or no
 * longer) listening: a local port below port (the start of
 * net.ipv4.ip_local_port_range) is never picked for an outgoing
 * connection, so the socket is a server's, inbound: the orphans of a
 * server whose listener is gone. Default 32768, the kernel's. */
void service_table_set_ephemeral_start(struct service_table *t, uint16_t port);
/* The service index rec belongs to, or -1 when none claims it. Pure. */
int service_match(const struct service_table *t, const struct sock_record *rec);

#endif
