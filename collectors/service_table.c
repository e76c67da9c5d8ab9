/* service_table: port -> service lookup for one collection. */
#include "service_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The port -> service rule, shared with the BPF enforce program. */
#include "bpf/service_rule.h"

#define NO_SERVICE SERVICE_RULE_NONE

struct service_table {
	struct service_entry *entries;
	size_t n;
	size_t n_configured; /* entries [0, n_configured) come from cfg->services */
	int unmatched_inbound;  /* index or -1 */
	int unmatched_outbound; /* index or -1 */
	const struct port_set *listening; /* may be NULL; borrowed */
	uint16_t ephemeral_start;         /* see service_table_set_ephemeral_start */
	/* First configured service naming the port, per direction; a scan
	 * from there handles CIDR mismatches. Auto services are found
	 * through auto_by_port. */
	uint16_t first_inbound[65536];
	uint16_t first_outbound[65536];
	uint16_t auto_by_port[65536];
};

bool service_table_needs_listeners(const struct config *cfg)
{
	return cfg->listening_ports || cfg->count_unmatched;
}

bool service_table_needs_conntrack_timeout(const struct config *cfg)
{
	if (cfg->path_idle_ms == PATH_IDLE_CONNTRACK)
		return true;
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].path_idle_ms == PATH_IDLE_CONNTRACK)
			return true;
	return false;
}

static bool ports_contain(const struct service_config *s, uint16_t port)
{
	for (size_t i = 0; i < s->n_ports; i++)
		if (port >= s->ports[i].lo && port <= s->ports[i].hi)
			return true;
	return false;
}

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

static bool prefix_match(const uint8_t *addr, const uint8_t *net, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(addr, net, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((addr[bytes] ^ net[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Peer address against the service's CIDRs. IPv4 written either way
 * matches both ways: an IPv4-mapped IPv6 peer (a dual-stack socket
 * talking IPv4) matches IPv4 CIDRs, and an IPv4 peer matches an
 * IPv4-mapped CIDR (::ffff:a.b.c.d/96..128), which would otherwise only
 * ever see dual-stack sockets and silently miss the same peer over an
 * IPv4 socket. Other IPv6 CIDRs (::/0 included) never match IPv4 peers. */
static bool cidrs_contain(const struct service_config *s, const struct sock_record *rec)
{
	if (s->n_cidrs == 0)
		return true;
	for (size_t i = 0; i < s->n_cidrs; i++) {
		const struct cidr *c = &s->cidrs[i];

		if (c->family == rec->family) {
			if (prefix_match(rec->daddr, c->addr, c->prefix))
				return true;
		} else if (c->family == AF_INET && rec->family == AF_INET6 &&
			   is_v4_mapped(rec->daddr)) {
			if (prefix_match(rec->daddr + 12, c->addr, c->prefix))
				return true;
		} else if (c->family == AF_INET6 && rec->family == AF_INET && c->prefix >= 96 &&
			   is_v4_mapped(c->addr)) {
			if (prefix_match(rec->daddr, c->addr + 12, c->prefix - 96u))
				return true;
		}
	}
	return false;
}

static bool service_claims(const struct service_config *s, const struct sock_record *rec)
{
	uint16_t port = (uint16_t)service_rule_port(s->direction == DIRECTION_INBOUND, rec->sport,
						    rec->dport);

	return ports_contain(s, port) && cidrs_contain(s, rec);
}

static int add_entry(struct service_table *t, size_t cap, const char *name, enum direction dir,
		     uint32_t stale_after_ms, uint32_t path_idle_ms)
{
	struct service_entry *e;

	if (t->n >= cap)
		return -ENOMEM;
	e = &t->entries[t->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->id = SERVICE_ID_NONE;
	e->direction = dir;
	e->stale_after_ms = stale_after_ms;
	e->path_idle_ms = path_idle_ms;
	return (int)t->n++;
}

int service_table_build(const struct config *cfg, const struct port_set *listening,
			struct service_table **out, uint32_t *dropped_auto)
{
	struct service_table *t;
	size_t cap;
	uint32_t dropped = 0;
	int r;

	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t->first_inbound, 0xff, sizeof(t->first_inbound));
	memset(t->first_outbound, 0xff, sizeof(t->first_outbound));
	memset(t->auto_by_port, 0xff, sizeof(t->auto_by_port));
	t->n = 0;
	t->listening = listening;
	t->ephemeral_start = 32768;
	t->unmatched_inbound = t->unmatched_outbound = -1;
	cap = cfg->n_services + (cfg->listening_ports ? cfg->max_listening_services : 0) + 2;
	t->entries = calloc(cap, sizeof(*t->entries));
	if (!t->entries) {
		r = -ENOMEM;
		goto fail;
	}

	/* Configured services, in file order; fill each port's first
	 * claimant (later services naming the same port are found by the
	 * scan in service_match). */
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct service_config *s = &cfg->services[i];
		uint16_t *first =
			s->direction == DIRECTION_INBOUND ? t->first_inbound : t->first_outbound;

		r = add_entry(t, cap, s->name, s->direction, s->stale_after_ms, s->path_idle_ms);
		if (r < 0)
			goto fail;
		t->entries[r].cfg = s;
		t->entries[r].id = (uint32_t)i;
		for (size_t p = 0; p < s->n_ports; p++)
			service_rule_claim(first, s->ports[p].lo, s->ports[p].hi, (unsigned)i);
	}
	t->n_configured = t->n;

	/* Auto services: listening ports no configured inbound service
	 * names, lowest first, capped so label counts stay bounded. */
	if (cfg->listening_ports && listening) {
		uint32_t made = 0;

		for (uint32_t port = 1; port <= 65535; port++) {
			char name[SERVICE_NAME_MAX + 1];

			if (!port_set_has(listening, (uint16_t)port) ||
			    t->first_inbound[port] != NO_SERVICE)
				continue;
			if (made >= cfg->max_listening_services) {
				dropped++;
				continue;
			}
			snprintf(name, sizeof(name), "listen_%u", port);
			r = add_entry(t, cap, name, DIRECTION_INBOUND, cfg->stale_after_ms,
				      cfg->path_idle_ms);
			if (r < 0)
				goto fail;
			t->entries[r].listen_port = (uint16_t)port;
			t->auto_by_port[port] = (uint16_t)r;
			made++;
		}
	}

	if (cfg->count_unmatched) {
		r = add_entry(t, cap, "unmatched", DIRECTION_INBOUND, cfg->stale_after_ms,
			      cfg->path_idle_ms);
		if (r < 0)
			goto fail;
		t->unmatched_inbound = r;
		r = add_entry(t, cap, "unmatched", DIRECTION_OUTBOUND, cfg->stale_after_ms,
			      cfg->path_idle_ms);
		if (r < 0)
			goto fail;
		t->unmatched_outbound = r;
	}

	if (dropped_auto)
		*dropped_auto = dropped;
	*out = t;
	return 0;
fail:
	service_table_free(t);
	return r;
}

void service_table_free(struct service_table *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t);
}

size_t service_table_size(const struct service_table *t)
{
	return t->n;
}

const struct service_entry *service_table_entry(const struct service_table *t, size_t idx)
{
	return idx < t->n ? &t->entries[idx] : NULL;
}

/* Runs of ports claimed in a (or b), as ranges. */
static int port_runs(const uint16_t *a, const uint16_t *b, struct port_range *out, size_t *n,
		     size_t max)
{
	size_t k = 0;
	uint32_t port = 1;

	while (port <= 65535) {
		uint32_t lo;

		if (a[port] == NO_SERVICE && (!b || b[port] == NO_SERVICE)) {
			port++;
			continue;
		}
		lo = port;
		while (port <= 65535 && (a[port] != NO_SERVICE || (b && b[port] != NO_SERVICE)))
			port++;
		if (k == max)
			return -E2BIG;
		out[k].lo = (uint16_t)lo;
		out[k].hi = (uint16_t)(port - 1);
		k++;
	}
	*n = k;
	return 0;
}

int service_table_port_ranges(const struct service_table *t, struct port_range *local,
			      size_t *n_local, struct port_range *remote, size_t *n_remote,
			      size_t max)
{
	int r;

	if (t->unmatched_inbound >= 0)
		return -ENOENT;
	r = port_runs(t->first_inbound, t->auto_by_port, local, n_local, max);
	if (r < 0)
		return r;
	return port_runs(t->first_outbound, NULL, remote, n_remote, max);
}

uint32_t service_table_port_owner(const struct service_table *t, enum direction dir,
				  uint16_t port)
{
	return dir == DIRECTION_INBOUND ? t->first_inbound[port] : t->first_outbound[port];
}

void service_table_set_ephemeral_start(struct service_table *t, uint16_t port)
{
	t->ephemeral_start = port;
}

/* Whether an unclaimed socket is a server's: its local port listens, or
 * is one the kernel never hands to connect() (an orphan of a server whose
 * listener went away before any collection saw it). */
static bool unmatched_is_inbound(const struct service_table *t, const struct sock_record *rec)
{
	if (t->listening && port_set_has(t->listening, rec->sport))
		return true;
	return rec->sport < t->ephemeral_start;
}

int service_match(const struct service_table *t, const struct sock_record *rec)
{
	size_t start = service_rule_pick(t->first_inbound[rec->sport], t->first_outbound[rec->dport]);

	if (start != NO_SERVICE) {
		/* First match in file order: the earliest claimant of either
		 * port, unless its CIDRs reject the peer; then any later one. */
		for (size_t i = start; i < t->n_configured; i++)
			if (service_claims(t->entries[i].cfg, rec))
				return (int)i;
	}
	if (t->auto_by_port[rec->sport] != NO_SERVICE)
		return t->auto_by_port[rec->sport];
	if (t->unmatched_inbound >= 0)
		return unmatched_is_inbound(t, rec) ? t->unmatched_inbound : t->unmatched_outbound;
	return -1;
}
