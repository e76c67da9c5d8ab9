/* service_match: first match in file order, directions, CIDRs (incl.
 * IPv4-mapped peers), auto listening services and "unmatched". */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collectors/service_table.h"
#include "testing.h"

/* A socket of family (AF_INET or AF_INET6) from src:sport to dst:dport. */
static struct sock_record sock_of(int family, const char *src, uint16_t sport, const char *dst,
				  uint16_t dport)
{
	struct sock_record r;

	memset(&r, 0, sizeof(r));
	r.family = (uint8_t)family;
	inet_pton(family, src, r.saddr);
	inet_pton(family, dst, r.daddr);
	r.sport = sport;
	r.dport = dport;
	return r;
}

static struct sock_record sock4(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	return sock_of(AF_INET, src, sport, dst, dport);
}

static struct sock_record sock6(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	return sock_of(AF_INET6, src, sport, dst, dport);
}

static const char *match_name(const struct service_table *t, struct sock_record r)
{
	int i = service_match(t, &r);

	return i < 0 ? "-" : service_table_entry(t, (size_t)i)->name;
}

/* services:
 *  0 pg-local  outbound 5432 cidrs 127.0.0.0/8
 *  1 pg        outbound 5432, 6000-6010
 *  2 web       inbound 8080
 *  3 v6only    outbound 9000 cidrs fd00::/8
 */
static struct port_range r_pg[] = {{5432, 5432}};
static struct port_range r_pg2[] = {{5432, 5432}, {6000, 6010}};
static struct port_range r_web[] = {{8080, 8080}};
static struct port_range r_v6[] = {{9000, 9000}};
static struct cidr c_lo = {.family = AF_INET, .addr = {127}, .prefix = 8};
static struct cidr c_v6 = {.family = AF_INET6, .addr = {0xfd}, .prefix = 8};

static void make_config(struct config *cfg, struct service_config *s)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(s, 0, 4 * sizeof(*s));
	s[0] = (struct service_config){"pg-local", DIRECTION_OUTBOUND, r_pg, 1, &c_lo, 1, 1000};
	s[1] = (struct service_config){"pg", DIRECTION_OUTBOUND, r_pg2, 2, NULL, 0, 2000};
	s[2] = (struct service_config){"web", DIRECTION_INBOUND, r_web, 1, NULL, 0, 3000};
	s[3] = (struct service_config){"v6only", DIRECTION_OUTBOUND, r_v6, 1, &c_v6, 1, 4000};
	cfg->services = s;
	cfg->n_services = 4;
	cfg->stale_after_ms = 300000;
	cfg->max_listening_services = 2;
}

DEF_TEST(configured)
{
	struct config cfg;
	struct service_config s[4];
	struct service_table *t = NULL;

	make_config(&cfg, s);
	CHECK_EQ_INT(0, service_table_build(&cfg, NULL, &t, NULL));
	CHECK_EQ_UINT(4, service_table_size(t));
	CHECK_EQ_STR("pg-local", match_name(t, sock4("10.0.0.1", 40000, "127.0.0.5", 5432)));
	CHECK_EQ_STR("pg", match_name(t, sock4("10.0.0.1", 40000, "10.1.1.1", 5432)));
	CHECK_EQ_STR("pg", match_name(t, sock4("10.0.0.1", 40000, "10.1.1.1", 6005)));
	CHECK_EQ_STR("-", match_name(t, sock4("10.0.0.1", 40000, "10.1.1.1", 6011)));
	/* inbound matches the local port only */
	CHECK_EQ_STR("web", match_name(t, sock4("10.0.0.1", 8080, "10.1.1.1", 50000)));
	CHECK_EQ_STR("-", match_name(t, sock4("10.0.0.1", 50000, "10.1.1.1", 8080)));
	/* a dual-stack socket talking IPv4 matches IPv4 CIDRs */
	CHECK_EQ_STR("pg-local",
		     match_name(t, sock6("::ffff:10.0.0.1", 40000, "::ffff:127.0.0.1", 5432)));
	CHECK_EQ_STR("pg", match_name(t, sock6("::1", 40000, "::1", 5432)));
	CHECK_EQ_STR("v6only", match_name(t, sock6("::1", 40000, "fd12::1", 9000)));
	CHECK_EQ_STR("-", match_name(t, sock6("::1", 40000, "fe80::1", 9000)));
	CHECK_EQ_STR("-", match_name(t, sock4("10.0.0.1", 40000, "10.1.1.1", 9000)));
	CHECK_EQ_UINT(2000, service_table_entry(t, 1)->stale_after_ms);
	/* a configured service's id is its index in the config */
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ_UINT(i, service_table_entry(t, i)->id);
	service_table_free(t);
	service_table_free(NULL);
	return 0;
}

/* Issue 10: an IPv4-mapped CIDR matches the IPv4 peer too (before, only
 * dual-stack sockets: the same peer over IPv4 was silently lost); other
 * IPv6 CIDRs never match IPv4 peers. */
DEF_TEST(v4_mapped_cidrs)
{
	static struct cidr mapped[] = {
	    {.family = AF_INET6, .addr = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1}, .prefix = 128},
	    {.family = AF_INET6, .addr = {[10] = 0xff, [11] = 0xff, 10}, .prefix = 104},
	};
	static struct cidr any6 = {.family = AF_INET6, .prefix = 0};
	struct service_config s[2] = {
	    {"mapped", DIRECTION_OUTBOUND, r_pg, 1, mapped, 2, 1000},
	    {"any6", DIRECTION_OUTBOUND, r_v6, 1, &any6, 1, 1000},
	};
	struct config cfg = {.services = s, .n_services = 2, .stale_after_ms = 1000};
	struct service_table *t = NULL;

	CHECK_EQ_INT(0, service_table_build(&cfg, NULL, &t, NULL));
	CHECK_EQ_STR("mapped", match_name(t, sock4("10.0.0.1", 40000, "127.0.0.1", 5432)));
	CHECK_EQ_STR("mapped", match_name(t, sock6("::1", 40000, "::ffff:127.0.0.1", 5432)));
	CHECK_EQ_STR("mapped", match_name(t, sock4("10.0.0.1", 40000, "10.200.3.4", 5432)));
	CHECK_EQ_STR("-", match_name(t, sock4("10.0.0.1", 40000, "127.0.0.2", 5432)));
	CHECK_EQ_STR("-", match_name(t, sock4("10.0.0.1", 40000, "11.0.0.1", 5432)));
	CHECK_EQ_STR("-", match_name(t, sock6("::1", 40000, "::127.0.0.1", 5432)));
	CHECK_EQ_STR("any6", match_name(t, sock6("::1", 40000, "fd00::1", 9000)));
	CHECK_EQ_STR("-", match_name(t, sock4("10.0.0.1", 40000, "10.0.0.2", 9000)));
	service_table_free(t);
	return 0;
}

DEF_TEST(listening_and_unmatched)
{
	struct config cfg;
	struct service_config s[4];
	struct service_table *t = NULL;
	struct port_set *ls = calloc(1, sizeof(*ls));
	uint32_t dropped = 99;

	CHECK(ls != NULL);
	make_config(&cfg, s);
	cfg.listening_ports = true;
	cfg.count_unmatched = true;
	port_set_add(ls, 22);
	port_set_add(ls, 8080); /* claimed by "web": no auto service */
	port_set_add(ls, 9100);
	port_set_add(ls, 30000); /* over max_listening_services (2) */
	CHECK(service_table_needs_listeners(&cfg));
	CHECK_EQ_INT(0, service_table_build(&cfg, ls, &t, &dropped));
	CHECK_EQ_UINT(1, dropped);
	CHECK_EQ_UINT(4 + 2 + 2, service_table_size(t));
	/* auto and unmatched services have no configuration: no id */
	for (size_t i = 4; i < 8; i++)
		CHECK_EQ_UINT(SERVICE_ID_NONE, service_table_entry(t, i)->id);
	CHECK_EQ_STR("listen_22", match_name(t, sock4("10.0.0.1", 22, "10.1.1.1", 50000)));
	CHECK_EQ_STR("listen_9100", match_name(t, sock4("10.0.0.1", 9100, "10.1.1.1", 50000)));
	CHECK_EQ_STR("web", match_name(t, sock4("10.0.0.1", 8080, "10.1.1.1", 50000)));
	/* configured services win over auto ones */
	CHECK_EQ_STR("pg", match_name(t, sock4("10.0.0.1", 22, "10.1.1.1", 5432)));
	/* the dropped listener's sockets fall to unmatched, inbound */
	{
		struct sock_record r = sock4("10.0.0.1", 30000, "10.1.1.1", 50000);
		int i = service_match(t, &r);

		CHECK(i >= 0);
		CHECK_EQ_STR("unmatched", service_table_entry(t, (size_t)i)->name);
		CHECK_EQ_INT(DIRECTION_INBOUND, service_table_entry(t, (size_t)i)->direction);
		r = sock4("10.0.0.1", 50000, "10.1.1.1", 443);
		i = service_match(t, &r);
		CHECK_EQ_STR("unmatched", service_table_entry(t, (size_t)i)->name);
		CHECK_EQ_INT(DIRECTION_OUTBOUND, service_table_entry(t, (size_t)i)->direction);
		/* an orphan of a listener no collection saw: its local port is
		 * below the ephemeral range, so it is a server's, inbound */
		r = sock4("10.0.0.1", 6380, "10.1.1.1", 41000);
		i = service_match(t, &r);
		CHECK_EQ_STR("unmatched", service_table_entry(t, (size_t)i)->name);
		CHECK_EQ_INT(DIRECTION_INBOUND, service_table_entry(t, (size_t)i)->direction);
		/* the range is the host's setting, not a constant */
		service_table_set_ephemeral_start(t, 6000);
		i = service_match(t, &r);
		CHECK_EQ_INT(DIRECTION_OUTBOUND, service_table_entry(t, (size_t)i)->direction);
	}
	service_table_free(t);
	free(ls);
	return 0;
}

DEF_TEST(port_ranges)
{
	struct config cfg;
	struct service_config s[4];
	struct service_table *t = NULL;
	struct port_set *ls = calloc(1, sizeof(*ls));
	struct port_range l[8], r[8];
	size_t nl = 99, nr = 99;

	CHECK(ls != NULL);
	make_config(&cfg, s);
	cfg.listening_ports = true;
	port_set_add(ls, 8081); /* auto service next to web's 8080: one run */
	port_set_add(ls, 22);
	CHECK_EQ_INT(0, service_table_build(&cfg, ls, &t, NULL));
	CHECK_EQ_INT(0, service_table_port_ranges(t, l, &nl, r, &nr, 8));
	CHECK_EQ_UINT(2, nl);
	CHECK_EQ_UINT(22, l[0].lo);
	CHECK_EQ_UINT(22, l[0].hi);
	CHECK_EQ_UINT(8080, l[1].lo);
	CHECK_EQ_UINT(8081, l[1].hi);
	CHECK_EQ_UINT(3, nr); /* 5432, 6000-6010, 9000 */
	CHECK_EQ_UINT(5432, r[0].lo);
	CHECK_EQ_UINT(6000, r[1].lo);
	CHECK_EQ_UINT(6010, r[1].hi);
	CHECK_EQ_UINT(9000, r[2].hi);
	CHECK_EQ_INT(-E2BIG, service_table_port_ranges(t, l, &nl, r, &nr, 2));
	service_table_free(t);
	/* counting "unmatched" needs every socket: no filter */
	cfg.count_unmatched = true;
	CHECK_EQ_INT(0, service_table_build(&cfg, ls, &t, NULL));
	CHECK_EQ_INT(-ENOENT, service_table_port_ranges(t, l, &nl, r, &nr, 8));
	service_table_free(t);
	free(ls);
	return 0;
}

int main(void)
{
	RUN_TEST(configured);
	RUN_TEST(v4_mapped_cidrs);
	RUN_TEST(listening_and_unmatched);
	RUN_TEST(port_ranges);
	END_TEST;
}
