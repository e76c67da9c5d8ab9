#include "testing.h"

#include "common/buf.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct config_error err;

static int load(const char *yaml, struct config **cfg)
{
	*cfg = NULL;
	return config_load_buffer("test.yaml", yaml, strlen(yaml), cfg, &err);
}

/* Load yaml, expect -EINVAL and an error at line (0: any) with exactly key
 * and a message containing frag. Prints what it got on mismatch. */
static int expect_error(const char *yaml, unsigned line, const char *key, const char *frag)
{
	struct config *cfg = NULL;
	int rc = load(yaml, &cfg);

	if (rc != -EINVAL || cfg || (line && err.line != line) || strcmp(err.key, key) != 0 ||
	    !strstr(err.msg, frag) || strcmp(err.file, "test.yaml") != 0) {
		printf("  rc=%d line=%u col=%u key=\"%s\" msg=\"%s\"\n", rc, err.line, err.column,
		       err.key, err.msg);
		printf("  wanted line=%u key=\"%s\" msg containing \"%s\"\n", line, key, frag);
		config_free(cfg);
		return -1;
	}
	return 0;
}

static const char good_yaml[] = "# the example from docs/configuration.md\n"
				"defaults:\n"
				"  stale_after: 1h30m\n"
				"  listening_ports: true\n"
				"  max_listening_services: 10\n"
				"  unmatched: count\n"
				"services:\n"
				"  - name: postgres\n"
				"    direction: outbound\n"
				"    ports: [5432, \"6000-6010\"]\n"
				"    cidrs: [\"198.18.0.0/15\", \"::1/128\"]\n"
				"    stale_after: 2m\n"
				"  - name: web.front:v2_a-b\n"
				"    direction: inbound\n"
				"    ports:\n"
				"      - 443\n"
				"      - '1-65535'\n";

DEF_TEST(good_round_trip)
{
	struct config *cfg;
	const struct service_config *s;
	uint8_t v4[4] = {198, 18, 0, 0}, v6[16] = {0};

	v6[15] = 1;
	CHECK_EQ_INT(0, load(good_yaml, &cfg));
	CHECK(cfg != NULL);
	CHECK_EQ_STR("test.yaml", cfg->source);
	CHECK_EQ_UINT(90u * 60u * 1000u, cfg->stale_after_ms);
	CHECK(cfg->listening_ports);
	CHECK_EQ_UINT(10, cfg->max_listening_services);
	CHECK(cfg->count_unmatched);
	CHECK_EQ_UINT(2, cfg->n_services);

	s = &cfg->services[0];
	CHECK_EQ_STR("postgres", s->name);
	CHECK_EQ_INT(DIRECTION_OUTBOUND, s->direction);
	CHECK_EQ_UINT(2, s->n_ports);
	CHECK_EQ_UINT(5432, s->ports[0].lo);
	CHECK_EQ_UINT(5432, s->ports[0].hi);
	CHECK_EQ_UINT(6000, s->ports[1].lo);
	CHECK_EQ_UINT(6010, s->ports[1].hi);
	CHECK_EQ_UINT(2, s->n_cidrs);
	CHECK_EQ_INT(AF_INET, s->cidrs[0].family);
	CHECK_EQ_UINT(15, s->cidrs[0].prefix);
	CHECK(memcmp(s->cidrs[0].addr, v4, 4) == 0);
	CHECK_EQ_INT(AF_INET6, s->cidrs[1].family);
	CHECK_EQ_UINT(128, s->cidrs[1].prefix);
	CHECK(memcmp(s->cidrs[1].addr, v6, 16) == 0);
	CHECK_EQ_UINT(2u * 60u * 1000u, s->stale_after_ms);

	s = &cfg->services[1];
	CHECK_EQ_STR("web.front:v2_a-b", s->name);
	CHECK_EQ_INT(DIRECTION_INBOUND, s->direction);
	CHECK_EQ_UINT(2, s->n_ports);
	CHECK_EQ_UINT(443, s->ports[0].lo);
	CHECK_EQ_UINT(443, s->ports[0].hi);
	CHECK_EQ_UINT(1, s->ports[1].lo);
	CHECK_EQ_UINT(65535, s->ports[1].hi);
	CHECK_EQ_UINT(0, s->n_cidrs);
	CHECK(s->cidrs == NULL);
	/* inherited from defaults */
	CHECK_EQ_UINT(90u * 60u * 1000u, s->stale_after_ms);
	config_free(cfg);
	return 0;
}

/* What a file gets for every key it leaves out. */
DEF_TEST(file_defaults)
{
	struct config *cfg;

	CHECK_EQ_INT(0, load("services:\n"
			     "  - {name: a, direction: inbound, ports: [1]}\n",
			     &cfg));
	CHECK_EQ_UINT(CONFIG_DEFAULT_STALE_AFTER_MS, cfg->stale_after_ms);
	CHECK(!cfg->listening_ports);
	CHECK(!cfg->count_unmatched);
	CHECK_EQ_UINT(64, cfg->max_listening_services);
	CHECK_EQ_UINT(CONFIG_DEFAULT_STALE_AFTER_MS, cfg->services[0].stale_after_ms);
	config_free(cfg);

	/* defaults after services still applies to them */
	CHECK_EQ_INT(0, load("services:\n"
			     "  - {name: a, direction: inbound, ports: [1]}\n"
			     "defaults: {stale_after: 7s}\n",
			     &cfg));
	CHECK_EQ_UINT(7000, cfg->services[0].stale_after_ms);
	config_free(cfg);

	/* no services is fine when something is still counted */
	CHECK_EQ_INT(0, load("defaults: {listening_ports: true}\n", &cfg));
	CHECK_EQ_UINT(0, cfg->n_services);
	CHECK(cfg->services == NULL);
	config_free(cfg);
	CHECK_EQ_INT(0, load("defaults: {unmatched: count}\nservices: []\n", &cfg));
	config_free(cfg);
	CHECK_EQ_INT(
	    0, load("defaults: {unmatched: count, listening_ports: False}\nservices:\n", &cfg));
	CHECK(!cfg->listening_ports);
	config_free(cfg);
	return 0;
}

/* path_idle_timeout: defaults, per service, the word conntrack, and the
 * keepalive idle enforce derives from it. */
DEF_TEST(path_idle_timeout)
{
	struct config *cfg;

	CHECK_EQ_INT(0, load("services:\n  - {name: a, direction: inbound, ports: [1]}\n", &cfg));
	CHECK_EQ_UINT(PATH_IDLE_UNSET, cfg->path_idle_ms);
	CHECK_EQ_UINT(PATH_IDLE_UNSET, cfg->services[0].path_idle_ms);
	config_free(cfg);
	CHECK_EQ_INT(0, load("defaults: {path_idle_timeout: 350s}\n"
			     "services:\n"
			     "  - {name: a, direction: outbound, ports: [1]}\n"
			     "  - {name: b, direction: outbound, ports: [2], path_idle_timeout: 4m}\n"
			     "  - {name: c, direction: outbound, ports: [3], "
			     "path_idle_timeout: conntrack}\n"
			     "  - name: d\n"
			     "    direction: outbound\n"
			     "    ports: [4]\n"
			     "    enforce: {keepalive: {interval: 10s, count: 3}}\n"
			     "  - name: e\n"
			     "    direction: outbound\n"
			     "    ports: [5]\n"
			     "    path_idle_timeout: 5s\n"
			     "    enforce: {keepalive: {interval: 1s, count: 3}}\n"
			     "  - name: f\n"
			     "    direction: outbound\n"
			     "    ports: [6]\n"
			     "    enforce: {keepalive: {idle: 20s, interval: 10s, count: 3}}\n",
			     &cfg));
	CHECK_EQ_UINT(350000, cfg->path_idle_ms);
	CHECK_EQ_UINT(350000, cfg->services[0].path_idle_ms);
	CHECK_EQ_UINT(240000, cfg->services[1].path_idle_ms);
	CHECK_EQ_UINT(PATH_IDLE_CONNTRACK, cfg->services[2].path_idle_ms);
	CHECK(cfg->services[3].enforce.keepalive);
	CHECK_EQ_UINT(175, cfg->services[3].enforce.idle_s); /* half of 350 s */
	CHECK_EQ_UINT(10, cfg->services[3].enforce.interval_s);
	CHECK_EQ_UINT(2, cfg->services[4].enforce.idle_s); /* half of 5 s, rounded down */
	CHECK_EQ_UINT(20, cfg->services[5].enforce.idle_s); /* given: kept */
	config_free(cfg);
	CHECK_EQ_INT(0, load("defaults: {path_idle_timeout: conntrack, unmatched: count}\n", &cfg));
	CHECK_EQ_UINT(PATH_IDLE_CONNTRACK, cfg->path_idle_ms);
	config_free(cfg);
	CHECK_EQ_UINT(0, path_keepalive_idle_s(PATH_IDLE_UNSET));
	CHECK_EQ_UINT(0, path_keepalive_idle_s(PATH_IDLE_CONNTRACK));
	CHECK_EQ_UINT(1, path_keepalive_idle_s(1500));
	CHECK_EQ_UINT(600, path_keepalive_idle_s(1200000)); /* GCP Cloud NAT */
	CHECK_EQ_UINT(120, path_keepalive_idle_s(240000));  /* Azure */
	CHECK_EQ_UINT(32767, path_keepalive_idle_s(4000000000u));
	return 0;
}

struct bad_case {
	const char *yaml;
	unsigned line;
	const char *key;
	const char *frag;
};

#define SVC(body) "services:\n  - name: a\n    direction: inbound\n" body
#define PORTS_OK  "    ports: [1]\n"

static const struct bad_case bad_cases[] = {
    /* nothing to count */
    {"", 0, "", "empty and would count nothing"},
    {"# only a comment\n", 0, "", "empty and would count nothing"},
    {"---\n", 0, "", "empty and would count nothing"},
    {"services: []\n", 1, "", "counts nothing"},
    {"defaults:\n  stale_after: 1m\n", 1, "", "counts nothing"},
    {"defaults: {listening_ports: false, unmatched: ignore}\n", 1, "", "counts nothing"},
    /* shapes */
    {"- a\n- b\n", 1, "", "expected a mapping with the keys defaults and services"},
    {"hello\n", 1, "", "got \"hello\""},
    {"services: postgres\n", 1, "services", "expected a list of services, got \"postgres\""},
    {"services: {name: a}\n", 1, "services", "expected a list of services, got a mapping"},
    {"defaults: [1]\n", 1, "defaults", "expected a mapping, got a list"},
    {"defaults: 5m\n", 1, "defaults", "expected a mapping"},
    {"services:\n  - postgres\n", 2, "services[0]", "expected a service"},
    {"services:\n  -\n", 2, "services[0]", "got an empty value"},
    {"? [a]\n: 1\n", 1, "", "keys must be strings, got a list"},
    /* required keys */
    {"services:\n  - direction: inbound\n    ports: [1]\n", 2, "services[0]",
     "missing required key \"name\""},
    {"services:\n  - name: a\n    ports: [1]\n", 2, "services[0]",
     "missing required key \"direction\""},
    {SVC(""), 2, "services[0]", "missing required key \"ports\""},
    /* name */
    {"services:\n  - name:\n    direction: inbound\n    ports: [1]\n", 2, "services[0].name",
     "got an empty value"},
    {"services:\n  - name: ''\n    direction: inbound\n    ports: [1]\n", 2, "services[0].name",
     "name must not be empty"},
    {"services:\n  - name: [a]\n    direction: inbound\n    ports: [1]\n", 2, "services[0].name",
     "expected a service name, got a list"},
    {"services:\n  - name: my service\n    direction: inbound\n    ports: [1]\n", 2,
     "services[0].name", "contains \" \"; allowed: letters, digits, _ . : -"},
    {"services:\n  - name: caf\xc3\xa9\n    direction: inbound\n    ports: [1]\n", 2,
     "services[0].name", "contains \"\\xc3\""},
    {"services:\n  - name: "
     "a234567890123456789012345678901234567890123456789012345678901234x\n"
     "    direction: inbound\n    ports: [1]\n",
     2, "services[0].name", "is 65 characters long; at most 64"},
    {"services:\n  - name: unmatched\n    direction: inbound\n    ports: [1]\n", 2,
     "services[0].name", "reserved"},
    {"services:\n  - name: listen_80\n    direction: inbound\n    ports: [1]\n", 2,
     "services[0].name", "reserved for the automatic listening-port services"},
    {"services:\n  - name: \"a\\0b\"\n    direction: inbound\n    ports: [1]\n", 2,
     "services[0].name", "NUL byte"},
    /* direction */
    {"services:\n  - name: a\n    direction: in\n    ports: [1]\n", 3, "services[0].direction",
     "expected inbound (match the local port) or outbound (match the remote port), got \"in\""},
    {"services:\n  - name: a\n    direction: Inbound\n    ports: [1]\n", 3, "services[0].direction",
     "got \"Inbound\""},
    {"services:\n  - name: a\n    direction: {x: 1}\n    ports: [1]\n", 3, "services[0].direction",
     "got a mapping"},
    /* ports */
    {SVC("    ports: []\n"), 4, "services[0].ports", "at least one port"},
    {SVC("    ports: 5432\n"), 4, "services[0].ports",
     "expected a list of ports such as [5432, \"6000-6010\"], got \"5432\""},
    {SVC("    ports:\n"), 4, "services[0].ports", "got an empty value"},
    {SVC("    ports: [1, 0]\n"), 4, "services[0].ports[1]", "out of range; ports are 1..65535"},
    {SVC("    ports: [65536]\n"), 4, "services[0].ports[0]", "\"65536\" is out of range"},
    {SVC("    ports: [99999999999999999999]\n"), 4, "services[0].ports[0]", "out of range"},
    {SVC("    ports: [\"0-10\"]\n"), 4, "services[0].ports[0]", "out of range"},
    {SVC("    ports: [\"10-70000\"]\n"), 4, "services[0].ports[0]", "out of range"},
    {SVC("    ports: [\"6010-6000\"]\n"), 4, "services[0].ports[0]",
     "range 6010-6000 is reversed; write \"6000-6010\""},
    {SVC("    ports: [-1]\n"), 4, "services[0].ports[0]", "\"-1\" is not a port"},
    {SVC("    ports: [\"http\"]\n"), 4, "services[0].ports[0]", "\"http\" is not a port"},
    {SVC("    ports: [\"1-\"]\n"), 4, "services[0].ports[0]", "is not a port"},
    {SVC("    ports: [\"1-2-3\"]\n"), 4, "services[0].ports[0]", "is not a port"},
    {SVC("    ports: [\" 80\"]\n"), 4, "services[0].ports[0]", "is not a port"},
    {SVC("    ports: [0x50]\n"), 4, "services[0].ports[0]", "is not a port"},
    {SVC("    ports: [80.0]\n"), 4, "services[0].ports[0]", "is not a port"},
    {SVC("    ports: [[80]]\n"), 4, "services[0].ports[0]", "got a list"},
    {SVC("    ports:\n      - 1\n      -\n"), 6, "services[0].ports[1]", "got an empty value"},
    /* cidrs */
    {SVC(PORTS_OK "    cidrs: []\n"), 5, "services[0].cidrs",
     "is empty; list at least one network, or remove cidrs to match any peer"},
    {SVC(PORTS_OK "    cidrs: 10.0.0.0/8\n"), 5, "services[0].cidrs",
     "expected a list of networks"},
    {SVC(PORTS_OK "    cidrs: [\"198.18.0.1/15\"]\n"), 5, "services[0].cidrs[0]",
     "198.18.0.1/15 has host bits set; did you mean 198.18.0.0/15?"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.0/8\", \"fd00::1/8\"]\n"), 5, "services[0].cidrs[1]",
     "fd00::1/8 has host bits set; did you mean fd00::/8?"},
    {SVC(PORTS_OK "    cidrs: [\"10.1.2.3/0\"]\n"), 5, "services[0].cidrs[0]",
     "did you mean 0.0.0.0/0?"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.0/33\"]\n"), 5, "services[0].cidrs[0]",
     "prefix /33 is out of range for IPv4 (0..32)"},
    {SVC(PORTS_OK "    cidrs: [\"::/129\"]\n"), 5, "services[0].cidrs[0]",
     "prefix /129 is out of range for IPv6 (0..128)"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.1\"]\n"), 5, "services[0].cidrs[0]",
     "\"10.0.0.1\" has no prefix length; write 10.0.0.1/32 for this one address"},
    {SVC(PORTS_OK "    cidrs: [\"::1\"]\n"), 5, "services[0].cidrs[0]", "write ::1/128"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0/8\"]\n"), 5, "services[0].cidrs[0]",
     "\"10.0.0/8\" is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.0/\"]\n"), 5, "services[0].cidrs[0]", "is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.0/8x\"]\n"), 5, "services[0].cidrs[0]", "is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.0/-8\"]\n"), 5, "services[0].cidrs[0]", "is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"10.0.0.0/0008\"]\n"), 5, "services[0].cidrs[0]",
     "is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"/8\"]\n"), 5, "services[0].cidrs[0]", "is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"fe80::1%eth0/64\"]\n"), 5, "services[0].cidrs[0]",
     "is not a network"},
    {SVC(PORTS_OK "    cidrs: [\"example.com/32\"]\n"), 5, "services[0].cidrs[0]",
     "is not a network"},
    /* stale_after */
    {SVC(PORTS_OK "    stale_after: 0s\n"), 5, "services[0].stale_after", "must be greater than 0"},
    {SVC(PORTS_OK "    stale_after: 0\n"), 5, "services[0].stale_after", "must be greater than 0"},
    {SVC(PORTS_OK "    stale_after: 5\n"), 5, "services[0].stale_after",
     "\"5\" is not a duration; write a number with a unit ms, s, m, h or d"},
    {SVC(PORTS_OK "    stale_after: 50d\n"), 5, "services[0].stale_after",
     "duration 50d is too long; at most 49d"},
    {SVC(PORTS_OK "    stale_after: [5m]\n"), 5, "services[0].stale_after", "got a list"},
    {"defaults:\n  stale_after: -5m\nservices: []\n", 2, "defaults.stale_after",
     "\"-5m\" is not a duration"},
    {"defaults:\n  stale_after: 1.5h\n", 2, "defaults.stale_after", "is not a duration"},
    {"defaults:\n  stale_after:\n", 2, "defaults.stale_after", "got an empty value"},
    /* defaults */
    {"defaults:\n  listening_ports: yes\n", 2, "defaults.listening_ports",
     "\"yes\" is not a boolean here (YAML 1.1 spelling); write true or false"},
    {"defaults:\n  listening_ports: off\n", 2, "defaults.listening_ports", "YAML 1.1"},
    {"defaults:\n  listening_ports: \"true\"\n", 2, "defaults.listening_ports",
     "got the quoted string \"true\""},
    {"defaults:\n  listening_ports: 1\n", 2, "defaults.listening_ports",
     "expected true or false, got \"1\""},
    {"defaults:\n  listening_ports: [true]\n", 2, "defaults.listening_ports", "got a list"},
    {"defaults:\n  listening_ports: true\n  max_listening_services: 0\n", 3,
     "defaults.max_listening_services", "0 is out of range; allowed: 1..1024"},
    {"defaults:\n  listening_ports: true\n  max_listening_services: 1025\n", 3,
     "defaults.max_listening_services", "out of range"},
    {"defaults:\n  listening_ports: true\n  max_listening_services: 99999999999999\n", 3,
     "defaults.max_listening_services", "out of range"},
    {"defaults:\n  listening_ports: true\n  max_listening_services: -1\n", 3,
     "defaults.max_listening_services", "expected a whole number 1..1024, got \"-1\""},
    {"defaults:\n  listening_ports: true\n  max_listening_services: \"64\"\n", 3,
     "defaults.max_listening_services", "expected a whole number"},
    {"defaults:\n  listening_ports: true\n  max_listening_services: 6.4e1\n", 3,
     "defaults.max_listening_services", "expected a whole number"},
    {"defaults:\n  unmatched: drop\n", 2, "defaults.unmatched",
     "expected ignore or count, got \"drop\""},
    {"defaults:\n  unmatched: Count\n", 2, "defaults.unmatched", "got \"Count\""},
    /* unknown keys, everywhere */
    {"default:\n  stale_after: 5m\n", 1, "default",
     "unknown key \"default\" (did you mean defaults?); allowed: defaults, services"},
    {"servics: []\n", 1, "servics", "(did you mean services?)"},
    {"version: 1\n", 1, "version", "unknown key \"version\"; allowed: defaults, services"},
    {"defaults:\n  stale: 5m\n", 2, "defaults.stale",
     "unknown key \"stale\"; allowed: "
     "stale_after, path_idle_timeout, listening_ports, "
     "max_listening_services, unmatched"},
    {"defaults:\n  listening_port: true\n", 2, "defaults.listening_port",
     "(did you mean listening_ports?)"},
    {SVC(PORTS_OK "    stale_afer: 1m\n"), 5, "services[0].stale_afer",
     "unknown key \"stale_afer\" (did you mean stale_after?); allowed: name, direction, "
     "ports, cidrs, stale_after"},
    {SVC(PORTS_OK "    cidr: [\"10.0.0.0/8\"]\n"), 5, "services[0].cidr", "(did you mean cidrs?)"},
    {SVC(PORTS_OK "    Ports: [2]\n"), 5, "services[0].Ports", "(did you mean ports?)"},
    {SVC(PORTS_OK "    <<: {a: 1}\n"), 5, "services[0].<<", "unknown key \"<<\""},
    {SVC(PORTS_OK "    \"bad\\x01key\": 1\n"), 5, "services[0].bad\\x01key",
     "unknown key \"bad\\x01key\""},
    /* path_idle_timeout */
    {"defaults:\n  path_idle_timeout: conntrak\n", 2, "defaults.path_idle_timeout",
     "\"conntrak\" is neither a duration (350s, 4m, 20m) nor conntrack"},
    {SVC(PORTS_OK "    path_idle_timeout: 0s\n"), 5, "services[0].path_idle_timeout",
     "must be greater than 0"},
    {SVC(PORTS_OK "    path_idle_timeout: 350\n"), 5, "services[0].path_idle_timeout",
     "is not a duration"},
    {SVC(PORTS_OK "    path_idle_timeout: [5m]\n"), 5, "services[0].path_idle_timeout",
     "got a list"},
    {SVC(PORTS_OK "    enforce: {keepalive: {interval: 1s, count: 2}}\n"), 5,
     "services[0].enforce.keepalive", "needs idle, or a path_idle_timeout given as a duration"},
    {SVC(PORTS_OK "    path_idle_timeout: conntrack\n"
		  "    enforce: {keepalive: {interval: 1s, count: 2}}\n"),
     6, "services[0].enforce.keepalive", "needs idle, or a path_idle_timeout"},
    {SVC(PORTS_OK "    path_idle_timeout: 60s\n"
		  "    enforce: {keepalive: {interval: 30s, count: 2}}\n"),
     6, "services[0].enforce.keepalive.interval",
     "idle defaults to 30s (half the path_idle_timeout of 60s); with an interval of 30s"},
    {SVC(PORTS_OK "    path_idle_timeout: 2500ms\n"
		  "    enforce: {keepalive: {interval: 1s, count: 2}}\n"),
     6, "services[0].enforce.keepalive",
     "a path_idle_timeout of 2500ms leaves no room for a probe and a retry in whole seconds"},
    {SVC(PORTS_OK "    enforce: {keepalive: {idle: 1s}}\n"), 5, "services[0].enforce.keepalive",
     "interval"},
    /* duplicate keys */
    {"defaults:\n  stale_after: 1m\n  stale_after: 2m\n", 3, "defaults.stale_after",
     "duplicate key \"stale_after\"; first given at line 2"},
    {"services: []\nservices: []\n", 2, "services", "duplicate key \"services\""},
    {SVC("    ports: [1]\n    ports: [2]\n"), 5, "services[0].ports",
     "duplicate key \"ports\"; first given at line 4"},
    /* duplicate service names */
    {"services:\n"
     "  - {name: a, direction: inbound, ports: [1]}\n"
     "  - {name: b, direction: inbound, ports: [2]}\n"
     "  - {name: a, direction: outbound, ports: [3]}\n",
     4, "services[2].name", "duplicate service name \"a\"; services[0] already uses it"},
    /* YAML that is not one document */
    {"defaults: {unmatched: count}\n---\nservices: []\n", 2, "",
     "a second YAML document; the configuration must be a single document"},
    /* deeper paths keep their index */
    {"services:\n"
     "  - {name: a, direction: inbound, ports: [1]}\n"
     "  - {name: b, direction: inbound, ports: [2]}\n"
     "  - {name: c, direction: inbound, ports: [1, 2, 70000]}\n",
     4, "services[2].ports[2]", "\"70000\" is out of range"},
};

DEF_TEST(validation)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];

		if (expect_error(bc->yaml, bc->line, bc->key, bc->frag)) {
			printf("  case %zu:\n%s\n", i, bc->yaml);
			CHECK(0);
		}
	}
	return 0;
}

/* Columns point at the offending node, 1-based. */
DEF_TEST(columns)
{
	struct config *cfg;

	CHECK_EQ_INT(-EINVAL, load(SVC("    ports: [80, \"x\"]\n"), &cfg));
	CHECK_EQ_UINT(4, err.line);
	CHECK_EQ_UINT(17, err.column);
	CHECK_EQ_INT(-EINVAL, load("defaults:\n  bogus: 1\n", &cfg));
	CHECK_EQ_UINT(2, err.line);
	CHECK_EQ_UINT(3, err.column);
	CHECK_EQ_INT(-EINVAL, load("services:\n  - name: a\n", &cfg));
	CHECK_EQ_UINT(2, err.line);
	CHECK_EQ_UINT(5, err.column);
	return 0;
}

DEF_TEST(limits)
{
	struct buf b;
	size_t i;
	struct config *cfg;

	/* 256 services load, 257 do not */
	buf_init(&b);
	buf_puts(&b, "services:\n");
	for (i = 0; i < CONFIG_MAX_SERVICES; i++)
		buf_printf(&b, "  - {name: s%zu, direction: inbound, ports: [%zu]}\n", i, i + 1);
	CHECK_EQ_INT(0, buf_error(&b));
	CHECK_EQ_INT(0, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_EQ_UINT(CONFIG_MAX_SERVICES, cfg->n_services);
	CHECK_EQ_STR("s255", cfg->services[255].name);
	config_free(cfg);
	buf_puts(&b, "  - {name: one-too-many, direction: inbound, ports: [1]}\n");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_EQ_STR("services", err.key);
	CHECK_CONTAINS("257 services; at most 256", err.msg);
	buf_free(&b);

	/* 1024 ports, then 1025 */
	buf_init(&b);
	buf_puts(&b, "services:\n  - name: a\n    direction: inbound\n    ports: [1");
	for (i = 2; i <= 1024; i++)
		buf_printf(&b, ",%zu", i);
	buf_puts(&b, "]\n");
	CHECK_EQ_INT(0, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_EQ_UINT(1024, cfg->services[0].n_ports);
	CHECK_EQ_UINT(1024, cfg->services[0].ports[1023].lo);
	config_free(cfg);
	b.len -= 2;
	buf_puts(&b, ",1025]\n");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_EQ_STR("services[0].ports", err.key);
	CHECK_CONTAINS("1025 entries; at most 1024", err.msg);
	buf_free(&b);

	/* 256 cidrs, then 257 */
	buf_init(&b);
	buf_puts(&b, "services:\n  - name: a\n    direction: inbound\n    ports: [1]\n"
		     "    cidrs: [10.0.0.0/32");
	for (i = 1; i < 256; i++)
		buf_printf(&b, ",10.0.%zu.0/24", i);
	buf_puts(&b, "]\n");
	CHECK_EQ_INT(0, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_EQ_UINT(256, cfg->services[0].n_cidrs);
	CHECK_EQ_UINT(24, cfg->services[0].cidrs[255].prefix);
	config_free(cfg);
	b.len -= 2;
	buf_puts(&b, ",11.0.0.0/8]\n");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_EQ_STR("services[0].cidrs", err.key);
	CHECK_CONTAINS("257 entries; at most 256", err.msg);
	buf_free(&b);

	/* a 64-character name is the longest */
	CHECK_EQ_INT(0, load("services:\n  - name: "
			     "a234567890123456789012345678901234567890123456789012345678901234\n"
			     "    direction: inbound\n    ports: [1]\n",
			     &cfg));
	CHECK_EQ_UINT(64, strlen(cfg->services[0].name));
	config_free(cfg);
	return 0;
}

DEF_TEST(yaml_syntax)
{
	struct config *cfg;

	CHECK_EQ_INT(-EINVAL, load("services:\n  - name: a\n   direction: inbound\n", &cfg));
	CHECK(cfg == NULL);
	CHECK_EQ_UINT(3, err.line);
	CHECK(err.column > 0);
	CHECK_EQ_STR("", err.key);
	CHECK_CONTAINS("invalid YAML: ", err.msg);

	CHECK_EQ_INT(-EINVAL, load("services: [\n  {name: a\n", &cfg));
	CHECK(err.line >= 2);
	CHECK_CONTAINS("invalid YAML", err.msg);

	CHECK_EQ_INT(-EINVAL, load("defaults:\n\tunmatched: count\n", &cfg));
	CHECK_EQ_UINT(2, err.line);
	CHECK_EQ_UINT(1, err.column);
	CHECK_CONTAINS("invalid YAML: tab in indentation; YAML indents with spaces only", err.msg);

	CHECK_EQ_INT(-EINVAL, load("services: *nope\n", &cfg));
	CHECK_EQ_UINT(1, err.line);
	CHECK_CONTAINS("undefined alias", err.msg);

	CHECK_EQ_INT(-EINVAL, load("defaults: {unmatched: &a count}\nservices: &a []\n", &cfg));
	CHECK_EQ_UINT(2, err.line);
	CHECK_CONTAINS("duplicate anchor", err.msg);
	CHECK_CONTAINS("at line 1", err.msg);

	/* invalid UTF-8 is a reader error with its position worked out */
	CHECK_EQ_INT(-EINVAL, load("defaults:\n  unmatched: c\xff\n", &cfg));
	CHECK_EQ_UINT(2, err.line);
	CHECK_EQ_UINT(15, err.column);
	CHECK_CONTAINS("invalid input: ", err.msg);

	/* a raw NUL */
	CHECK_EQ_INT(-EINVAL, config_load_buffer("test.yaml", "a: \0\n", 5, &cfg, &err));
	CHECK_CONTAINS("invalid input", err.msg);
	return 0;
}

DEF_TEST(aliases)
{
	struct config *cfg;

	CHECK_EQ_INT(0, load("defaults:\n"
			     "  unmatched: count\n"
			     "  stale_after: &stale 30s\n"
			     "services:\n"
			     "  - name: pg-primary\n"
			     "    direction: outbound\n"
			     "    ports: &pg [5432, \"6432\"]\n"
			     "    cidrs: &private [\"10.0.0.0/8\", \"fd00::/8\"]\n"
			     "  - name: pg-replica\n"
			     "    direction: &out outbound\n"
			     "    ports: *pg\n"
			     "    cidrs: *private\n"
			     "    stale_after: *stale\n",
			     &cfg));
	CHECK_EQ_UINT(2, cfg->n_services);
	CHECK_EQ_INT(DIRECTION_OUTBOUND, cfg->services[1].direction);
	CHECK_EQ_UINT(2, cfg->services[1].n_ports);
	CHECK_EQ_UINT(6432, cfg->services[1].ports[1].lo);
	CHECK_EQ_UINT(2, cfg->services[1].n_cidrs);
	CHECK_EQ_INT(AF_INET6, cfg->services[1].cidrs[1].family);
	CHECK_EQ_UINT(30000, cfg->services[1].stale_after_ms);
	/* separate copies: freeing one service must not touch the other */
	CHECK(cfg->services[0].ports != cfg->services[1].ports);
	config_free(cfg);

	/* an aliased whole service is a duplicate name */
	CHECK_EQ_INT(-EINVAL, load("services:\n"
				   "  - &s {name: a, direction: inbound, ports: [1]}\n"
				   "  - *s\n",
				   &cfg));
	CHECK_EQ_STR("services[1].name", err.key);
	CHECK_CONTAINS("duplicate service name", err.msg);

	/* a list that contains itself ends as a type error, not a loop */
	CHECK_EQ_INT(-EINVAL, load(SVC("    ports: &p [1, *p]\n"), &cfg));
	CHECK_EQ_STR("services[0].ports[1]", err.key);
	CHECK_CONTAINS("got a list", err.msg);
	CHECK_EQ_INT(-EINVAL, load("services: &s [*s]\n", &cfg));
	CHECK_EQ_STR("services[0]", err.key);
	return 0;
}

DEF_TEST(durations)
{
	static const struct {
		const char *s;
		uint32_t ms;
	} good[] = {
	    {"0", 0},
	    {"0s", 0},
	    {"500ms", 500},
	    {"1s", 1000},
	    {"30s", 30000},
	    {"5m", 300000},
	    {"1h", 3600000},
	    {"1d", 86400000},
	    {"1h30m", 5400000},
	    {"1d2h3m4s5ms", 93784005},
	    {"90m", 5400000},
	    {"1m500ms", 60500},
	    {"007s", 7000},
	    {"4294967295ms", UINT32_MAX},
	    {"49d17h2m47s295ms", UINT32_MAX},
	    {"49d", 49u * 86400000u},
	};
	static const struct {
		const char *s;
		int rc;
	} bad[] = {
	    {"", -EINVAL},
	    {"5", -EINVAL},
	    {"00", -EINVAL},
	    {"-5m", -EINVAL},
	    {"+5m", -EINVAL},
	    {" 5m", -EINVAL},
	    {"5m ", -EINVAL},
	    {"5 m", -EINVAL},
	    {"m", -EINVAL},
	    {"5x", -EINVAL},
	    {"5M", -EINVAL},
	    {"5w", -EINVAL},
	    {"5y", -EINVAL},
	    {"5us", -EINVAL},
	    {"1.5h", -EINVAL},
	    {"30m1h", -EINVAL},
	    {"1m1m", -EINVAL},
	    {"1ms1s", -EINVAL},
	    {"1h30", -EINVAL},
	    {"5mss", -EINVAL},
	    {"1hm", -EINVAL},
	    {"4294967296ms", -ERANGE},
	    {"50d", -ERANGE},
	    {"49d17h2m47s296ms", -ERANGE},
	    {"99999999999999999999999999s", -ERANGE},
	    {"99999999999999999999999999d1h", -ERANGE},
	    {"99999999999999999999999999x", -EINVAL},
	};
	uint32_t ms;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		if (parse_duration_ms(good[i].s, &ms) != 0 || ms != good[i].ms)
			printf("  \"%s\" -> %" PRIu32 "\n", good[i].s, ms);
		CHECK_EQ_INT(0, parse_duration_ms(good[i].s, &ms));
		CHECK_EQ_UINT(good[i].ms, ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 12345;
		if (parse_duration_ms(bad[i].s, &ms) != bad[i].rc)
			printf("  \"%s\" accepted or wrong error\n", bad[i].s);
		CHECK_EQ_INT(bad[i].rc, parse_duration_ms(bad[i].s, &ms));
		CHECK_EQ_UINT(12345, ms);
	}
	CHECK_EQ_INT(-EINVAL, parse_duration_ms(NULL, &ms));
	return 0;
}

DEF_TEST(builtin_default)
{
	struct config *cfg = NULL;

	CHECK_EQ_INT(0, config_default(&cfg));
	CHECK(cfg != NULL);
	CHECK_EQ_STR("<built-in>", cfg->source);
	CHECK(cfg->listening_ports);
	CHECK_EQ_UINT(64, cfg->max_listening_services);
	CHECK(cfg->count_unmatched);
	CHECK_EQ_UINT(CONFIG_DEFAULT_STALE_AFTER_MS, cfg->stale_after_ms);
	CHECK_EQ_UINT(5u * 60u * 1000u, cfg->stale_after_ms);
	CHECK_EQ_UINT(0, cfg->n_services);
	CHECK(cfg->services == NULL);
	config_free(cfg);
	config_free(NULL);
	return 0;
}

DEF_TEST(error_format)
{
	struct config_error e;
	struct config *cfg;
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(-EINVAL, load(SVC("    ports: [70000]\n"), &cfg));
	CHECK_EQ_INT(0, config_error_format(&err, &b));
	CHECK_EQ_STR("test.yaml:4:13: services[0].ports[0]: port \"70000\" is out of range; ports "
		     "are 1..65535",
		     b.data);

	memset(&e, 0, sizeof(e));
	snprintf(e.file, sizeof(e.file), "x.yaml");
	snprintf(e.msg, sizeof(e.msg), "no place");
	buf_reset(&b);
	CHECK_EQ_INT(0, config_error_format(&e, &b));
	CHECK_EQ_STR("x.yaml: no place", b.data);
	e.line = 3;
	buf_reset(&b);
	CHECK_EQ_INT(0, config_error_format(&e, &b));
	CHECK_EQ_STR("x.yaml:3: no place", b.data);
	e.column = 7;
	snprintf(e.key, sizeof(e.key), "defaults");
	buf_reset(&b);
	CHECK_EQ_INT(0, config_error_format(&e, &b));
	CHECK_EQ_STR("x.yaml:3:7: defaults: no place", b.data);
	buf_free(&b);
	return 0;
}

DEF_TEST(load_file)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct config *cfg = NULL;
	struct buf b;
	size_t i;
	int fd;

	CHECK_EQ_INT(-ENOENT, config_load_file("/nonexistent/halfopen.yaml", &cfg, &err));
	CHECK(cfg == NULL);
	CHECK_EQ_STR("/nonexistent/halfopen.yaml", err.file);
	CHECK_EQ_UINT(0, err.line);
	CHECK_CONTAINS("cannot open: No such file or directory", err.msg);

	/* Regular files only: a FIFO would block --config.check forever. */
	CHECK_EQ_INT(-EINVAL, config_load_file("/", &cfg, &err));
	CHECK_CONTAINS("cannot open: not a regular file", err.msg);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ_INT((long long)strlen(good_yaml), write(fd, good_yaml, strlen(good_yaml)));
	CHECK_EQ_INT(0, config_load_file(path, &cfg, &err));
	CHECK_EQ_STR(path, cfg->source);
	CHECK_EQ_UINT(2, cfg->n_services);
	config_free(cfg);

	/* errors name the file */
	CHECK_EQ_INT(0, ftruncate(fd, 0));
	CHECK_EQ_INT(0, (int)lseek(fd, 0, SEEK_SET));
	CHECK_EQ_INT(9, write(fd, "services:", 9));
	CHECK_EQ_INT(-EINVAL, config_load_file(path, &cfg, &err));
	CHECK_EQ_STR(path, err.file);
	CHECK_CONTAINS("counts nothing", err.msg);

	/* over 1 MiB, even when it is all comments */
	buf_init(&b);
	for (i = 0; i < 1100 * 1024 / 64; i++)
		buf_puts(&b, "# 345678901234567890123456789012345678901234567890123456789012\n");
	CHECK_EQ_INT(0, buf_error(&b));
	CHECK_EQ_INT((long long)b.len, write(fd, b.data, b.len));
	CHECK_EQ_INT(-EFBIG, config_load_file(path, &cfg, &err));
	CHECK_CONTAINS("larger than 1 MiB", err.msg);
	CHECK_EQ_INT(-EINVAL, config_load_buffer("big", b.data, b.len, &cfg, &err));
	CHECK_CONTAINS("larger than 1 MiB", err.msg);
	buf_free(&b);
	close(fd);
	unlink(path);
	return 0;
}

DEF_TEST(examples)
{
	DIR *d = opendir(CONFIG_EXAMPLES_DIR);
	struct dirent *de;
	int loaded = 0;
	bool seen_basic = false, seen_k8s = false, seen_seed = false;

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		char path[1024];
		struct config *cfg = NULL;
		size_t n = strlen(de->d_name);
		int rc;

		if (n < 5 || strcmp(de->d_name + n - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", CONFIG_EXAMPLES_DIR, de->d_name);
		rc = config_load_file(path, &cfg, &err);
		if (rc)
			printf("  %s:%u:%u: %s: %s\n", err.file, err.line, err.column, err.key,
			       err.msg);
		CHECK_EQ_INT(0, rc);
		CHECK(cfg->n_services > 0 || cfg->listening_ports || cfg->count_unmatched);
		seen_basic |= strcmp(de->d_name, "basic.yaml") == 0;
		seen_k8s |= strcmp(de->d_name, "kubernetes.yaml") == 0;
		if (strcmp(de->d_name, "seed.yaml") == 0) {
			seen_seed = true;
			CHECK_EQ_UINT(2, cfg->n_services);
			CHECK_EQ_STR("seed-client", cfg->services[0].name);
			CHECK_EQ_INT(DIRECTION_OUTBOUND, cfg->services[0].direction);
			CHECK_EQ_UINT(12345, cfg->services[0].ports[0].lo);
			CHECK_EQ_UINT(3000, cfg->services[0].stale_after_ms);
			CHECK_EQ_STR("seed-server", cfg->services[1].name);
			CHECK_EQ_INT(DIRECTION_INBOUND, cfg->services[1].direction);
			CHECK_EQ_UINT(12345, cfg->services[1].ports[0].hi);
			CHECK_EQ_UINT(3000, cfg->services[1].stale_after_ms);
		}
		config_free(cfg);
		loaded++;
	}
	closedir(d);
	CHECK(seen_basic && seen_k8s && seen_seed);
	CHECK(loaded >= 3);
	return 0;
}

/* Hostile shapes that made libyaml slow or a naive walker loop must end
 * quickly with an error. */
DEF_TEST(hostile)
{
	struct config *cfg = NULL;
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < 200000; i++)
		buf_putc(&b, '[');
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_CONTAINS("nested too deeply", err.msg);
	buf_reset(&b);
	for (i = 0; i < 100000; i++)
		buf_puts(&b, "- ");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_CONTAINS("nested too deeply", err.msg);
	buf_reset(&b);
	buf_puts(&b, "x: [");
	for (i = 0; i < 50000; i++)
		buf_printf(&b, "&a%zu 1,", i);
	buf_puts(&b, "]\n");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_CONTAINS("too many anchors", err.msg);
	buf_reset(&b);
	buf_puts(&b, "x: [&a 1,");
	for (i = 0; i < 50000; i++)
		buf_puts(&b, "*a,");
	buf_puts(&b, "]\n");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_CONTAINS("too many aliases", err.msg);
	buf_free(&b);

	/* a long key and a long bad value are cut in messages */
	buf_init(&b);
	buf_puts(&b, "defaults:\n  ");
	for (i = 0; i < 1000; i++)
		buf_putc(&b, 'k');
	buf_puts(&b, ": 1\n");
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", b.data, b.len, &cfg, &err));
	CHECK_CONTAINS("unknown key \"kkkk", err.msg);
	CHECK_CONTAINS("...", err.msg);
	CHECK(strlen(err.key) < sizeof(err.key));
	buf_free(&b);
	CHECK(cfg == NULL);
	return 0;
}

/* Every prefix of a good config and a few thousand mutations of it: no
 * crash, no leak (valgrind/ASan), and rc and *out always agree. */
DEF_TEST(garbage)
{
	static const char alphabet[] = "[]{}:,-&*!|>'\"#%@`?\n \t0123456789abc/.\\\xff\x00";
	char data[sizeof(good_yaml)];
	uint32_t seed = 12345;
	size_t n = strlen(good_yaml), i, j;

	for (i = 0; i <= n; i++) {
		struct config *cfg = NULL;
		int rc = config_load_buffer("t", good_yaml, i, &cfg, &err);

		CHECK((rc == 0) == (cfg != NULL));
		CHECK(rc == 0 || rc == -EINVAL);
		config_free(cfg);
	}
	for (i = 0; i < 3000; i++) {
		struct config *cfg = NULL;
		int rc;

		memcpy(data, good_yaml, n);
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245u + 12345u;
			data[(seed >> 8) % n] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		rc = config_load_buffer("t", data, n, &cfg, &err);
		CHECK((rc == 0) == (cfg != NULL));
		CHECK(rc == 0 || rc == -EINVAL);
		CHECK(strlen(err.msg) < sizeof(err.msg));
		config_free(cfg);
	}
	return 0;
}

DEF_TEST(bad_arguments)
{
	struct config *cfg = NULL;

	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", NULL, 5, &cfg, &err));
	CHECK_EQ_INT(-EINVAL, config_load_buffer("t", "a: 1", 4, NULL, &err));
	CHECK_EQ_INT(-EINVAL, config_load_buffer(NULL, NULL, 0, &cfg, NULL));
	CHECK(cfg == NULL);
	CHECK_EQ_INT(-EINVAL, config_load_buffer(NULL, "", 0, &cfg, &err));
	CHECK_EQ_STR("<buffer>", err.file);
	CHECK_EQ_INT(-EINVAL, config_default(NULL));
	return 0;
}

int main(void)
{
	RUN_TEST(good_round_trip);
	RUN_TEST(file_defaults);
	RUN_TEST(path_idle_timeout);
	RUN_TEST(validation);
	RUN_TEST(columns);
	RUN_TEST(limits);
	RUN_TEST(yaml_syntax);
	RUN_TEST(aliases);
	RUN_TEST(durations);
	RUN_TEST(builtin_default);
	RUN_TEST(error_format);
	RUN_TEST(load_file);
	RUN_TEST(examples);
	RUN_TEST(hostile);
	RUN_TEST(garbage);
	RUN_TEST(bad_arguments);
	END_TEST;
}
