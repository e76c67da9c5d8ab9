/* service_rule: how a socket's ports select a configured service. The one
 * definition of that rule, compiled twice: into userspace's
 * collectors/service_table.c (collections, remediation) and into the BPF
 * enforce program collectors/bpf/enforce.bpf.c (clang -target bpf), whose
 * loader collectors/enforce.c copies service_table's owner tables into
 * the program's maps. So: plain C integer types only (no <stdint.h>, no
 * kernel types, no libc), static inline, and the functions the BPF side
 * calls have no loops for the verifier to bound. A second copy of the
 * rule on either side would drift: tests/enforce/test_enforce_match.c
 * runs random configs through both and checks they pick the same
 * service.
 *
 * The rule. A configured service claims ports in one direction: an
 * inbound service matches its sockets' local port (we are the server),
 * an outbound one their remote port (we are the client). Per direction
 * and port, the owner is the first service in file order that names the
 * port. A socket's service is the earlier, in file order, of its local
 * port's inbound owner and its remote port's outbound owner;
 * SERVICE_RULE_NONE when neither port is owned.
 *
 * What each side adds on top: userspace checks that service's CIDRs and,
 * when they reject the peer, scans the later services (service_match);
 * the BPF side matches no CIDRs and leaves a socket whose service has
 * CIDRs alone (ENFORCE_KIND_AMBIGUOUS). */
#ifndef HALFOPEN_SERVICE_RULE_H
#define HALFOPEN_SERVICE_RULE_H

/* An owner table's "no service": it holds service indexes below it
 * (CONFIG_MAX_SERVICES is 256). */
#define SERVICE_RULE_NONE 0xffffu

/* The port a service of that direction matches a socket on. */
static inline unsigned service_rule_port(int inbound, unsigned local_port, unsigned remote_port)
{
	return inbound ? local_port : remote_port;
}

/* Service idx (services are claimed in file order) names ports lo..hi:
 * it owns those no earlier service of the same direction owns. owner is
 * that direction's table of 65536 entries. Userspace only (the loop runs
 * over up to 65536 ports). */
static inline void service_rule_claim(unsigned short *owner, unsigned lo, unsigned hi, unsigned idx)
{
	for (unsigned port = lo; port <= hi && port < 65536; port++)
		if (owner[port] == SERVICE_RULE_NONE)
			owner[port] = (unsigned short)idx;
}

/* A socket's service: inbound_owner is its local port's entry in the
 * inbound table, outbound_owner its remote port's in the outbound one.
 * Owners are file-order indexes, so the earlier service is the smaller;
 * SERVICE_RULE_NONE (the largest) when neither. */
static inline unsigned service_rule_pick(unsigned inbound_owner, unsigned outbound_owner)
{
	return inbound_owner < outbound_owner ? inbound_owner : outbound_owner;
}

#endif
