/* enforce: loader and runner of the BPF socket iterator (enforce.h).
 *
 * The maps hold, per port, the first service in file order that claims
 * it (inbound: local port, outbound: remote port), and per service its
 * policy and the counters of the passes since the last collection. The
 * userspace half keeps the totals the metrics show, keyed by service
 * name and direction so a reload carries them over. */
#include "enforce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

struct enforce_service {
	char *name;
	enum direction direction;
	bool enforces;
	bool keepalive, user_timeout;
	struct enforce_counts last, total;
	uint64_t connect_last[2]; /* given at connect, by the last fold */
};

/* The userspace half, the same with or without BPF. */
struct enforce_state {
	struct enforce_service *svc;
	size_t n;
	bool dry_run;
	uint64_t passes, pass_errors;
	double last_pass_seconds; /* the slowest pass of the last collection */
	uint64_t pass_cpu_ns;
	uint64_t skipped;
};

bool config_wants_enforce(const struct config *cfg)
{
	for (size_t i = 0; cfg && i < cfg->n_services; i++)
		if (service_enforces(&cfg->services[i]))
			return true;
	return false;
}

static void services_free(struct enforce_service *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Contract: a fresh service list for cfg, totals carried over from st by
 * name and direction; st untouched on -ENOMEM. */
static int state_configure(struct enforce_state *st, const struct config *cfg, bool dry_run)
{
	struct enforce_service *v = calloc(cfg->n_services ? cfg->n_services : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct service_config *sc = &cfg->services[i];

		v[i].name = strdup(sc->name);
		if (!v[i].name) {
			services_free(v, i);
			return -ENOMEM;
		}
		v[i].direction = sc->direction;
		v[i].enforces = service_enforces(sc);
		v[i].keepalive = sc->enforce.keepalive;
		v[i].user_timeout = sc->enforce.user_timeout_ms != 0;
		for (size_t j = 0; j < st->n; j++)
			if (st->svc[j].direction == sc->direction &&
			    strcmp(st->svc[j].name, sc->name) == 0)
				v[i].total = st->svc[j].total;
	}
	services_free(st->svc, st->n);
	st->svc = v;
	st->n = cfg->n_services;
	st->dry_run = dry_run;
	return 0;
}

#ifdef HALFOPEN_HAVE_BPF

#include <fcntl.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/enforce_abi.h"
#include "service_table.h"

/* Service ids are config indexes (0..CONFIG_MAX_SERVICES-1) and index
 * the BPF maps directly; the slot after them is the self-test's. A config
 * limit above the maps' would put a service in the self-test slot. */
_Static_assert(CONFIG_MAX_SERVICES == ENFORCE_MAX_SERVICES,
	       "enforce_abi.h's ENFORCE_MAX_SERVICES must equal CONFIG_MAX_SERVICES");

#include "enforce.skel.h"

static void counts_add(struct enforce_counts *to, const struct enforce_counts *c)
{
	to->matched += c->matched;
	for (int o = 0; o < 2; o++) {
		to->set[o] += c->set[o];
		to->chosen[o] += c->chosen[o];
		to->reverted[o] += c->reverted[o];
		to->errors[o] += c->errors[o];
		to->at_connect[o] += c->at_connect[o];
	}
}

struct enforce {
	struct enforce_state st;
	struct enforce_bpf *skel;
	struct bpf_link *link;
	enum enforce_read_path path; /* FIELDS or GETSOCKOPT once open */
	int ncpu;
	double slowest;
	/* The connection-time program: loaded with the iterator when the
	 * kernel and our capabilities allow (else connect_err and why),
	 * attached by enforce_attach_connect(). */
	bool connect_loaded;
	int connect_err;
	char connect_why[200];
	struct bpf_link *connect_link;
	struct enforce_stats *percpu;			  /* ncpu values of one slot */
	struct enforce_stats connect_seen[ENFORCE_SLOTS]; /* sums folded so far */
};

static int no_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int run_pass(int link_fd);

static int sockopt_int(int fd, int level, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, level, opt, v, &len) < 0 ? -errno : 0;
}

static int set_sockopt_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* The self-test's policy: what enforce gives the test sockets. */
#define SELFTEST_IDLE_S	   7
#define SELFTEST_UT_MS	   4321
#define SELFTEST_APP_IDLE  100 /* an application's own idle */
#define SELFTEST_APP_UT_MS 999

static const struct enforce_policy selftest_policy = {.kind = ENFORCE_KIND_ENFORCE,
						      .keepalive = 1,
						      .idle_s = SELFTEST_IDLE_S,
						      .interval_s = 1,
						      .count = 1,
						      .user_timeout_ms = SELFTEST_UT_MS};

/* Contract: one real pass over two loopback connections made for it, in
 * the calling thread's namespace, proves the loaded read path reads what
 * an application chose and that bpf_setsockopt writes from iter/tcp:
 *   default: SO_KEEPALIVE on at the sysctl's idle, no user timeout;
 *   own:     SO_KEEPALIVE on with TCP_KEEPIDLE 100, TCP_USER_TIMEOUT 999.
 * After the pass (read back with getsockopt from here): own keeps all its
 * values; default gets the user timeout, and (fields path, which can tell
 * the default idle) the idle. 0 when it works (or when no loopback
 * connection could be made to find out); -EOPNOTSUPP with why filled when
 * the kernel does not do it (e.g. bpf_getsockopt of SO_KEEPALIVE before
 * 6.1); the -errno of a map update or of the pass. */
static int selftest(struct enforce *e, char *why, size_t why_len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct enforce_policy p = selftest_policy;
	int pfd = bpf_map__fd(e->skel->maps.policy), sfd = bpf_map__fd(e->skel->maps.stats);
	int ofd = bpf_map__fd(e->skel->maps.outbound), ifd = bpf_map__fd(e->skel->maps.inbound);
	uint32_t id = ENFORCE_SELFTEST_ID, port, cport, none = ENFORCE_NO_SERVICE;
	bool fields = e->path == ENFORCE_READ_FIELDS;
	struct enforce_stats st = {0};
	socklen_t len = sizeof(sa);
	int lfd, cfd[2] = {-1, -1}, r = 0, idle[2] = {0}, ut[2] = {0};

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 2) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		goto out; /* no loopback here: cannot tell */
	port = ntohs(sa.sin_port);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in ca;
		socklen_t clen = sizeof(ca);

		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cfd[i] < 0 || connect(cfd[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(cfd[i], (struct sockaddr *)&ca, &clen) < 0 ||
		    set_sockopt_int(cfd[i], SOL_SOCKET, SO_KEEPALIVE, 1) < 0)
			goto out;
		/* The maps start zeroed (every port service 0's): the client's
		 * local port must name no service for its remote port to
		 * decide. */
		cport = ntohs(ca.sin_port);
		if (bpf_map_update_elem(ifd, &cport, &none, BPF_ANY) < 0) {
			r = -errno;
			goto out;
		}
	}
	if (set_sockopt_int(cfd[1], IPPROTO_TCP, TCP_KEEPIDLE, SELFTEST_APP_IDLE) < 0 ||
	    set_sockopt_int(cfd[1], IPPROTO_TCP, TCP_USER_TIMEOUT, SELFTEST_APP_UT_MS) < 0)
		goto out;
	if (bpf_map_update_elem(pfd, &id, &p, BPF_ANY) < 0 ||
	    bpf_map_update_elem(sfd, &id, &st, BPF_ANY) < 0 ||
	    bpf_map_update_elem(ofd, &port, &id, BPF_ANY) < 0) {
		r = -errno;
		goto out;
	}
	r = run_pass(bpf_link__fd(e->link));
	if (r == 0 && bpf_map_lookup_elem(sfd, &id, &st) < 0)
		r = -errno;
	(void)bpf_map_update_elem(ofd, &port, &none, BPF_ANY);
	if (r || !st.matched)
		goto out;
	for (int i = 0; i < 2; i++)
		if (sockopt_int(cfd[i], IPPROTO_TCP, TCP_KEEPIDLE, &idle[i]) < 0 ||
		    sockopt_int(cfd[i], IPPROTO_TCP, TCP_USER_TIMEOUT, &ut[i]) < 0)
			goto out;
	if (st.keepalive_errors || st.user_timeout_errors) {
		snprintf(why, why_len,
			 "%s: the kernel refused a bpf_%s from the iterator (%s, Linux >= %s)",
			 enforce_read_path_name(e->path), fields ? "setsockopt" : "getsockopt",
			 fields ? "keepalive and TCP_USER_TIMEOUT"
				: "SO_KEEPALIVE, TCP_USER_TIMEOUT",
			 fields ? "5.15" : "6.1");
		r = -EOPNOTSUPP;
	} else if (ut[0] != SELFTEST_UT_MS || ut[1] != SELFTEST_APP_UT_MS ||
		   idle[1] != SELFTEST_APP_IDLE || (fields && idle[0] != SELFTEST_IDLE_S)) {
		snprintf(why, why_len,
			 "%s: the self-test read the sockets wrong (user timeout %d/%d ms, idle "
			 "%d/%d s; want %d/%d, %d/%d)",
			 enforce_read_path_name(e->path), ut[0], ut[1], idle[0], idle[1],
			 SELFTEST_UT_MS, SELFTEST_APP_UT_MS, fields ? SELFTEST_IDLE_S : idle[0],
			 SELFTEST_APP_IDLE);
		r = -EOPNOTSUPP;
	}
out:
	for (int i = 0; i < 2; i++)
		if (cfd[i] >= 0)
			close(cfd[i]);
	if (lfd >= 0)
		close(lfd);
	return r;
}

static void unload(struct enforce *e)
{
	bpf_link__destroy(e->connect_link);
	e->connect_link = NULL;
	bpf_link__destroy(e->link);
	e->link = NULL;
	enforce_bpf__destroy(e->skel);
	e->skel = NULL;
}

/* Contract: open the object and load the iterator of one read path
 * (FIELDS or GETSOCKOPT) and, with_connect, the connection-time program
 * of the same path. 0 or the -errno of the load, skel then freed. */
static int load_object(struct enforce *e, enum enforce_read_path path, bool with_connect)
{
	int r;

	e->skel = enforce_bpf__open();
	if (!e->skel)
		return errno ? -errno : -EINVAL;
	__typeof__(e->skel->progs) *pr = &e->skel->progs;

	bpf_program__set_autoload(pr->enforce_fields, path == ENFORCE_READ_FIELDS);
	bpf_program__set_autoload(pr->enforce_getsockopt, path == ENFORCE_READ_GETSOCKOPT);
	bpf_program__set_autoload(pr->enforce_connect_fields,
				  with_connect && path == ENFORCE_READ_FIELDS);
	bpf_program__set_autoload(pr->enforce_connect_getsockopt,
				  with_connect && path == ENFORCE_READ_GETSOCKOPT);
	r = enforce_bpf__load(e->skel);
	if (r) {
		enforce_bpf__destroy(e->skel);
		e->skel = NULL;
	}
	return r;
}

/* Contract: load the program of one read path (FIELDS or GETSOCKOPT),
 * with its connection-time program when the kernel takes it (else
 * without, connect_err and connect_why saying why), attach the iterator
 * and self-test it. 0, or -errno with why filled and nothing left
 * loaded. */
static int load_path(struct enforce *e, enum enforce_read_path path, char *why, size_t why_len)
{
	struct bpf_program *prog;
	int r;

	e->path = path;
	/* A sock_ops program needs CAP_NET_ADMIN (or CAP_SYS_ADMIN) on top
	 * of what the iterator needs: without it, the iterator alone. */
	r = load_object(e, path, true);
	e->connect_loaded = r == 0;
	if (r) {
		e->connect_err = r;
		snprintf(e->connect_why, sizeof(e->connect_why),
			 "the kernel refused the connection-time (sock_ops) program (%s); it needs "
			 "CAP_NET_ADMIN",
			 strerror(-r));
		r = load_object(e, path, false);
	}
	if (r) {
		snprintf(why, why_len,
			 "%s: the kernel refused the BPF socket iterator (%s); it needs Linux >= "
			 "5.15 with BTF (/sys/kernel/btf/vmlinux) and CAP_BPF + CAP_PERFMON",
			 enforce_read_path_name(path), strerror(-r));
		goto fail;
	}
	prog = path == ENFORCE_READ_FIELDS ? e->skel->progs.enforce_fields
					   : e->skel->progs.enforce_getsockopt;
	e->link = bpf_program__attach_iter(prog, NULL);
	if (!e->link) {
		r = -errno;
		snprintf(why, why_len, "%s: attaching the BPF socket iterator: %s",
			 enforce_read_path_name(path), strerror(-r));
		goto fail;
	}
	r = selftest(e, why, why_len);
	if (r && r != -EOPNOTSUPP)
		snprintf(why, why_len, "%s: self-test of the BPF socket iterator: %s",
			 enforce_read_path_name(path), strerror(-r));
	if (r)
		goto fail;
	return 0;
fail:
	unload(e);
	return r < 0 ? r : -EINVAL;
}

int enforce_open(struct enforce **out, enum enforce_read_path want, char *why, size_t why_len)
{
	struct enforce *e = calloc(1, sizeof(*e));
	char first[300] = "";
	int r;

	if (!e) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	e->ncpu = libbpf_num_possible_cpus();
	e->percpu = e->ncpu > 0 ? calloc((size_t)e->ncpu, sizeof(*e->percpu)) : NULL;
	if (!e->percpu) {
		r = e->ncpu > 0 ? -ENOMEM : e->ncpu;
		snprintf(why, why_len, "counting the CPUs: %s", strerror(-r));
		free(e);
		return r;
	}
	libbpf_set_print(no_print);
	/* auto: the field reads where the kernel takes them (every kernel
	 * with the iterator's bpf_setsockopt), else bpf_getsockopt. Probed by
	 * loading and self-testing, never by the kernel's version. */
	r = load_path(
	    e, want == ENFORCE_READ_GETSOCKOPT ? ENFORCE_READ_GETSOCKOPT : ENFORCE_READ_FIELDS,
	    first, sizeof(first));
	if (r && want == ENFORCE_READ_AUTO && r != -EPERM) {
		char second[300] = "";

		r = load_path(e, ENFORCE_READ_GETSOCKOPT, second, sizeof(second));
		snprintf(why, why_len, "%s; %s", first, second);
	} else {
		snprintf(why, why_len, "%s", first);
	}
	if (r) {
		enforce_free(e);
		return r;
	}
	*out = e;
	return 0;
}

/* Contract: the map of direction dir gets service_table's owner table of
 * that direction (collectors/bpf/service_rule.h): map[p] = the index of
 * the first service (file order) of direction dir that names port p,
 * ENFORCE_NO_SERVICE when none. A copy, so the BPF side and userspace
 * cannot disagree on who owns a port. */
static int fill_ports(int map_fd, const struct service_table *t, enum direction dir)
{
	uint32_t keys[1024], owner[1024];

	for (uint32_t base = 0; base < 65536; base += 1024) {
		uint32_t n = 1024;
		DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, o);

		for (uint32_t k = 0; k < 1024; k++) {
			keys[k] = base + k;
			owner[k] = service_table_port_owner(t, dir, (uint16_t)(base + k));
		}
		if (bpf_map_update_batch(map_fd, keys, owner, &n, &o) < 0) {
			/* Kernels without batch ops for arrays: one by one. */
			for (uint32_t k = 0; k < 1024; k++)
				if (bpf_map_update_elem(map_fd, &keys[k], &owner[k], BPF_ANY) < 0)
					return -errno;
		}
	}
	return 0;
}

/* The connection-time program's counters of slot i, summed over the
 * CPUs. 0 or -errno. */
static int connect_sum(struct enforce *e, uint32_t i, struct enforce_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.connect_stats), &i, e->percpu) < 0)
		return -errno;
	for (int c = 0; c < e->ncpu; c++) {
		const struct enforce_stats *v = &e->percpu[c];

		out->keepalive_set += v->keepalive_set;
		out->user_timeout_set += v->user_timeout_set;
		out->keepalive_errors += v->keepalive_errors;
		out->user_timeout_errors += v->user_timeout_errors;
	}
	return 0;
}

/* From now on, only what the connection-time program does next counts. */
static void connect_snapshot(struct enforce *e)
{
	if (!e->connect_loaded)
		return;
	for (uint32_t i = 0; i < ENFORCE_SLOTS; i++)
		if (connect_sum(e, i, &e->connect_seen[i]) < 0)
			memset(&e->connect_seen[i], 0, sizeof(e->connect_seen[i]));
}

void enforce_fold_connect(struct enforce *e)
{
	if (!e || !e->connect_link)
		return;
	for (uint32_t i = 0; i < e->st.n && i < ENFORCE_MAX_SERVICES; i++) {
		struct enforce_service *s = &e->st.svc[i];
		struct enforce_stats now, *seen = &e->connect_seen[i];
		uint64_t set[2], err[2];

		s->connect_last[0] = s->connect_last[1] = 0;
		if (!s->enforces || connect_sum(e, i, &now) < 0)
			continue;
		set[0] = now.keepalive_set - seen->keepalive_set;
		set[1] = now.user_timeout_set - seen->user_timeout_set;
		err[0] = now.keepalive_errors - seen->keepalive_errors;
		err[1] = now.user_timeout_errors - seen->user_timeout_errors;
		for (int o = 0; o < 2; o++) {
			s->total.set[o] += set[o];
			s->total.at_connect[o] += set[o];
			s->total.errors[o] += err[o];
			s->connect_last[o] = set[o];
		}
		*seen = now;
	}
}

/* Contract: a loopback connection this process makes, under the
 * self-test's policy, has its options at once when connect() returns:
 * the program is attached where this process's connections pass. Its
 * local port is bound first, so the maps can name its service before it
 * is established; both ports' entries are restored after. 0 when it
 * works (or no loopback connection could be made to find out),
 * -EOPNOTSUPP with why filled when nothing was set, -errno of a map
 * update. */
static int connect_selftest(struct enforce *e, const char *cgroup_dir, char *why, size_t why_len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in ca = sa;
	struct enforce_policy p = selftest_policy;
	int pfd = bpf_map__fd(e->skel->maps.policy);
	int ofd = bpf_map__fd(e->skel->maps.outbound), ifd = bpf_map__fd(e->skel->maps.inbound);
	uint32_t id = ENFORCE_SELFTEST_ID, none = ENFORCE_NO_SERVICE, port, cport, old_out, old_in;
	socklen_t len = sizeof(sa);
	int lfd, cfd = -1, r = 0, ut = 0, idle = 0, ka = 0;
	bool mapped = false;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		goto out; /* no loopback here: cannot tell */
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = sizeof(ca);
	if (cfd < 0 || bind(cfd, (struct sockaddr *)&ca, sizeof(ca)) < 0 ||
	    getsockname(cfd, (struct sockaddr *)&ca, &len) < 0)
		goto out;
	port = ntohs(sa.sin_port);
	cport = ntohs(ca.sin_port);
	if (bpf_map_lookup_elem(ofd, &port, &old_out) < 0 ||
	    bpf_map_lookup_elem(ifd, &cport, &old_in) < 0 ||
	    bpf_map_update_elem(pfd, &id, &p, BPF_ANY) < 0 ||
	    bpf_map_update_elem(ifd, &cport, &none, BPF_ANY) < 0 ||
	    bpf_map_update_elem(ofd, &port, &id, BPF_ANY) < 0) {
		r = -errno;
		goto out;
	}
	mapped = true;
	if (connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    sockopt_int(cfd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut) < 0 ||
	    sockopt_int(cfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle) < 0 ||
	    sockopt_int(cfd, SOL_SOCKET, SO_KEEPALIVE, &ka) < 0)
		goto out;
	if (ut != SELFTEST_UT_MS || !ka ||
	    (e->path == ENFORCE_READ_FIELDS && idle != SELFTEST_IDLE_S)) {
		snprintf(why, why_len,
			 "attached to the cgroup %s, but a connection of this process got nothing "
			 "(user timeout %d ms, keepalive %d; want %d ms, 1): is the exporter in "
			 "that cgroup's subtree?",
			 cgroup_dir, ut, ka, SELFTEST_UT_MS);
		r = -EOPNOTSUPP;
	}
out:
	if (mapped) {
		(void)bpf_map_update_elem(ofd, &port, &old_out, BPF_ANY);
		(void)bpf_map_update_elem(ifd, &cport, &old_in, BPF_ANY);
	}
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return r;
}

int enforce_attach_connect(struct enforce *e, const char *cgroup_dir, uint32_t netns_ino, char *why,
			   size_t why_len)
{
	struct bpf_program *prog;
	uint32_t zero = 0;
	int fd, r;

	if (!e->connect_loaded) {
		snprintf(why, why_len, "%s", e->connect_why);
		return e->connect_err;
	}
	if (e->connect_link)
		return 0;
	prog = e->path == ENFORCE_READ_FIELDS ? e->skel->progs.enforce_connect_fields
					      : e->skel->progs.enforce_connect_getsockopt;
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.connect_scope), &zero, &netns_ino,
				BPF_ANY) < 0) {
		r = -errno;
		snprintf(why, why_len, "setting the connection-time program's scope: %s",
			 strerror(-r));
		return r;
	}
	fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(why, why_len, "opening the cgroup %s: %s", cgroup_dir, strerror(-r));
		return r;
	}
	e->connect_link = bpf_program__attach_cgroup(prog, fd);
	r = e->connect_link ? 0 : -errno;
	close(fd); /* the link holds the cgroup */
	if (r) {
		snprintf(why, why_len, "attaching the connection-time program to the cgroup %s: %s",
			 cgroup_dir, strerror(-r));
		e->connect_link = NULL;
		return r;
	}
	r = connect_selftest(e, cgroup_dir, why, why_len);
	if (r && r != -EOPNOTSUPP)
		snprintf(why, why_len, "self-test of the connection-time program: %s",
			 strerror(-r));
	if (r) {
		bpf_link__destroy(e->connect_link);
		e->connect_link = NULL;
		return r;
	}
	connect_snapshot(e);
	return 0;
}

int enforce_configure(struct enforce *e, const struct config *cfg, bool dry_run)
{
	struct service_table *t = NULL;
	int pfd, r;

	if (!e)
		return 0;
	/* What the connection-time program did under the old slots counts
	 * for the old services; after the maps change, the slots may be
	 * other services'. (A connection established between the maps'
	 * update and the snapshot below is not counted.) */
	enforce_fold_connect(e);
	r = state_configure(&e->st, cfg, dry_run);
	if (r)
		return r;
	pfd = bpf_map__fd(e->skel->maps.policy);
	for (uint32_t i = 0; i < ENFORCE_MAX_SERVICES; i++) {
		struct enforce_policy p = {0};

		if (i < cfg->n_services) {
			const struct service_config *s = &cfg->services[i];

			p.kind = service_enforces(s) ? ENFORCE_KIND_ENFORCE
				 : s->n_cidrs	     ? ENFORCE_KIND_AMBIGUOUS
						     : ENFORCE_KIND_NONE;
			p.keepalive = s->enforce.keepalive;
			p.idle_s = s->enforce.idle_s;
			p.interval_s = s->enforce.interval_s;
			p.count = s->enforce.count;
			p.user_timeout_ms = s->enforce.user_timeout_ms;
			p.dry_run = dry_run;
		}
		if (bpf_map_update_elem(pfd, &i, &p, BPF_ANY) < 0)
			return -errno;
	}
	/* Configured services only: auto and "unmatched" services enforce
	 * nothing. */
	r = service_table_build(cfg, NULL, &t, NULL);
	if (r)
		return r;
	r = fill_ports(bpf_map__fd(e->skel->maps.inbound), t, DIRECTION_INBOUND);
	if (r == 0)
		r = fill_ports(bpf_map__fd(e->skel->maps.outbound), t, DIRECTION_OUTBOUND);
	service_table_free(t);
	if (r == 0)
		connect_snapshot(e);
	return r;
}

/* Contract: create an iterator from the link (it walks the calling
 * thread's namespace) and read it to the end, which runs the program on
 * every socket. 0 or -errno. */
static int run_pass(int link_fd)
{
	char sink[256];
	ssize_t n;
	int fd = bpf_iter_create(link_fd), r = 0;

	if (fd < 0)
		return -errno;
	/* The program writes nothing; reading runs it to the end. A read
	 * that visited a million sockets without output returns EAGAIN
	 * (bpf_seq_read's MAX_ITER_OBJECTS) and the next one goes on from
	 * there: a namespace with more sockets takes several reads. */
	while ((n = read(fd, sink, sizeof(sink))) != 0)
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			r = -errno;
			break;
		}
	close(fd);
	return r;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

int enforce_pass(struct enforce *e)
{
	struct timespec a, b, ca, cb;
	double s;
	int r;

	if (!e)
		return 0;
	/* The pass's own CPU, next to its wall time: the whole walk and the
	 * program run in this thread's read(), so the thread's clock holds
	 * exactly their cost (wall time also holds waiting for a CPU). */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = run_pass(bpf_link__fd(e->link));
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	s = (double)(ts_ns(&b) - ts_ns(&a)) / 1e9;
	if (s > e->slowest)
		e->slowest = s;
	e->st.pass_cpu_ns += ts_ns(&cb) - ts_ns(&ca);
	e->st.passes++;
	return r;
}

void enforce_pass_failed(struct enforce *e)
{
	if (e)
		e->st.pass_errors++;
}

void enforce_passes_skipped(struct enforce *e)
{
	if (e)
		e->st.skipped++;
}

void enforce_end_collection(struct enforce *e)
{
	int fd;

	if (!e)
		return;
	fd = bpf_map__fd(e->skel->maps.stats);
	for (uint32_t i = 0; i < e->st.n && i < ENFORCE_MAX_SERVICES; i++) {
		struct enforce_service *s = &e->st.svc[i];
		struct enforce_stats v, zero = {0};
		struct enforce_counts c = {0};

		if (!s->enforces || bpf_map_lookup_elem(fd, &i, &v) < 0)
			continue;
		bpf_map_update_elem(fd, &i, &zero, BPF_ANY);
		c.matched = v.matched;
		c.set[0] = v.keepalive_set;
		c.set[1] = v.user_timeout_set;
		c.chosen[0] = v.keepalive_chosen;
		c.chosen[1] = v.user_timeout_chosen;
		c.reverted[0] = v.keepalive_reverted;
		c.reverted[1] = v.user_timeout_reverted;
		c.errors[0] = v.keepalive_errors;
		c.errors[1] = v.user_timeout_errors;
		s->last = c;
		counts_add(&s->total, &c);
	}
	e->st.last_pass_seconds = e->slowest;
	e->slowest = 0;
}

void enforce_free(struct enforce *e)
{
	if (!e)
		return;
	unload(e);
	services_free(e->st.svc, e->st.n);
	free(e->percpu);
	free(e);
}

#else /* !HALFOPEN_HAVE_BPF */

struct enforce {
	struct enforce_state st;
};

int enforce_open(struct enforce **out, enum enforce_read_path want, char *why, size_t why_len)
{
	(void)out;
	(void)want;
	snprintf(why, why_len,
		 "this halfopen_exporter was built without BPF support (meson -Dbpf=enabled, "
		 "needs clang, bpftool and libbpf-dev)");
	return -EOPNOTSUPP;
}

int enforce_configure(struct enforce *e, const struct config *cfg, bool dry_run)
{
	return e ? state_configure(&e->st, cfg, dry_run) : 0;
}

int enforce_pass(struct enforce *e)
{
	(void)e;
	return -EOPNOTSUPP;
}

void enforce_pass_failed(struct enforce *e)
{
	(void)e;
}

void enforce_passes_skipped(struct enforce *e)
{
	(void)e;
}

void enforce_end_collection(struct enforce *e)
{
	(void)e;
}

int enforce_attach_connect(struct enforce *e, const char *cgroup_dir, uint32_t netns_ino, char *why,
			   size_t why_len)
{
	(void)e;
	(void)cgroup_dir;
	(void)netns_ino;
	snprintf(why, why_len, "built without BPF support");
	return -EOPNOTSUPP;
}

void enforce_fold_connect(struct enforce *e)
{
	(void)e;
}

void enforce_free(struct enforce *e)
{
	if (!e)
		return;
	services_free(e->st.svc, e->st.n);
	free(e);
}

#endif

size_t enforce_service_count(const struct enforce *e)
{
	return e ? e->st.n : 0;
}

bool enforce_service_get(const struct enforce *e, size_t i, struct enforce_service_info *out)
{
	const struct enforce_service *s;

	if (!e || i >= e->st.n || !e->st.svc[i].enforces)
		return false;
	s = &e->st.svc[i];
	out->name = s->name;
	out->direction = s->direction;
	out->keepalive = s->keepalive;
	out->user_timeout = s->user_timeout;
	out->last = &s->last;
	out->total = &s->total;
	out->connect_last[0] = s->connect_last[0];
	out->connect_last[1] = s->connect_last[1];
	return true;
}

void enforce_pass_stats_get(const struct enforce *e, struct enforce_pass_stats *out)
{
	out->dry_run = e->st.dry_run;
	out->passes = e->st.passes;
	out->pass_errors = e->st.pass_errors;
	out->last_pass_seconds = e->st.last_pass_seconds;
	out->pass_cpu_ns = e->st.pass_cpu_ns;
	out->skipped = e->st.skipped;
#ifdef HALFOPEN_HAVE_BPF
	out->read_path = e->path;
	out->on_connect = e->connect_link != NULL;
#else
	out->read_path = ENFORCE_READ_AUTO;
	out->on_connect = false;
#endif
}

const char *enforce_loaded_read_path(const struct enforce *e)
{
	struct enforce_pass_stats st;

	enforce_pass_stats_get(e, &st);
	return enforce_read_path_name(st.read_path);
}

const char *enforce_read_path_name(enum enforce_read_path p)
{
	switch (p) {
	case ENFORCE_READ_FIELDS:
		return "fields";
	case ENFORCE_READ_GETSOCKOPT:
		return "getsockopt";
	default:
		return "auto";
	}
}

int enforce_read_path_parse(const char *s, enum enforce_read_path *out)
{
	for (int p = ENFORCE_READ_AUTO; p <= ENFORCE_READ_GETSOCKOPT; p++)
		if (strcmp(s, enforce_read_path_name((enum enforce_read_path)p)) == 0) {
			*out = (enum enforce_read_path)p;
			return 0;
		}
	return -EINVAL;
}
