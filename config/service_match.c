/* service_match: what a service matches, its ports (N or "LO-HI") and its
 * peer networks (address/prefix), read from the configuration. */
#include "config/config_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_PORTS 1024
#define MAX_CIDRS 256

/* One ports entry: N or "LO-HI", quoted or not. */
static int parse_port(struct ytree *c, yaml_node_t *n, const char *path, void *range, void *ctx)
{
	struct port_range *out = range;
	char shown[YTREE_SHOW_SIZE];
	const char *s, *p;
	uint32_t lo, hi;
	int rc;

	(void)ctx;
	rc = ytree_text(c, n, path, "a port 1..65535 or a range \"LO-HI\"", &s, shown);
	if (rc)
		return rc;
	p = s;
	if (!ytree_scan_number(&p, &lo))
		goto syntax;
	hi = lo;
	if (*p == '-') {
		p++;
		if (!ytree_scan_number(&p, &hi))
			goto syntax;
	}
	if (*p)
		goto syntax;
	if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
		return ytree_fail(c, n, path, "port \"%s\" is out of range; ports are 1..65535",
				  shown);
	if (lo > hi)
		return ytree_fail(c, n, path, "port range %u-%u is reversed; write \"%u-%u\"", lo,
				  hi, hi, lo);
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
syntax:
	return ytree_fail(c, n, path,
			  "\"%s\" is not a port; write a number 1..65535 or a quoted range such as "
			  "\"6000-6010\"",
			  shown);
}

int service_parse_ports(struct ytree *c, yaml_node_t *n, const char *path, void *service)
{
	static const struct ylist ports = {
	    .want = "a list of ports such as [5432, \"6000-6010\"]",
	    .empty = "must list at least one port",
	    .noun = "entries",
	    .hint = ", use \"LO-HI\" ranges",
	    .max = MAX_PORTS,
	    .size = sizeof(struct port_range),
	    .item = parse_port,
	};
	struct service_config *svc = service;

	return ytree_list(c, n, path, &ports, &svc->ports, &svc->n_ports, NULL);
}

/* Contract: out->addr with its host bits cleared equals out->addr; else an
 * error that suggests the network meant. */
static int check_host_bits(struct ytree *c, const yaml_node_t *n, const char *path,
			   const char *shown, const struct cidr *out)
{
	char net[INET6_ADDRSTRLEN];
	unsigned max = out->family == AF_INET ? 32 : 128, prefix = out->prefix;
	uint8_t masked[16];
	size_t i;

	memcpy(masked, out->addr, sizeof(masked));
	for (i = 0; i < max / 8; i++) {
		if (prefix <= i * 8)
			masked[i] = 0;
		else if (prefix < i * 8 + 8)
			masked[i] &= (uint8_t)(0xff << (8 - (prefix - i * 8)));
	}
	if (memcmp(masked, out->addr, sizeof(masked)) == 0)
		return 0;
	if (!inet_ntop(out->family, masked, net, sizeof(net)))
		net[0] = '\0';
	return ytree_fail(c, n, path, "%s has host bits set; did you mean %s/%u?", shown, net,
			  prefix);
}

/* "addr/prefix" for either family, host bits clear. */
static int parse_cidr(struct ytree *c, yaml_node_t *n, const char *path, void *net, void *ctx)
{
	struct cidr *out = net;
	char shown[YTREE_SHOW_SIZE], addr[INET6_ADDRSTRLEN + 1];
	const char *s, *slash, *p;
	size_t alen;
	uint32_t prefix, max;
	int rc;

	(void)ctx;
	rc = ytree_text(c, n, path, "a network such as 10.0.0.0/8 or fd00::/8", &s, shown);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		goto syntax;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	out->family = memchr(addr, ':', alen) ? AF_INET6 : AF_INET;
	max = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, addr, out->addr) != 1)
		goto syntax;
	if (!slash)
		return ytree_fail(c, n, path,
				  "\"%s\" has no prefix length; write %s/%u for this one address",
				  shown, addr, max);
	p = slash + 1;
	if (!ytree_scan_number(&p, &prefix) || *p || p - slash > 4)
		goto syntax;
	if (prefix > max)
		return ytree_fail(c, n, path, "prefix /%u is out of range for %s (0..%u)", prefix,
				  out->family == AF_INET ? "IPv4" : "IPv6", max);
	out->prefix = (uint8_t)prefix;
	return check_host_bits(c, n, path, shown, out);
syntax:
	return ytree_fail(c, n, path,
			  "\"%s\" is not a network; write address/prefix such as 10.0.0.0/8 or "
			  "fd00::/8",
			  shown);
}

int service_parse_cidrs(struct ytree *c, yaml_node_t *n, const char *path, void *service)
{
	/* An empty list could mean "no peer" or "any peer"; neither guess is
	 * safe, so make the author say which. */
	static const struct ylist cidrs = {
	    .want = "a list of networks such as [\"10.0.0.0/8\"]",
	    .empty = "is empty; list at least one network, or remove cidrs to match any peer",
	    .noun = "entries",
	    .max = MAX_CIDRS,
	    .size = sizeof(struct cidr),
	    .item = parse_cidr,
	};
	struct service_config *svc = service;

	return ytree_list(c, n, path, &cidrs, &svc->cidrs, &svc->n_cidrs, NULL);
}
