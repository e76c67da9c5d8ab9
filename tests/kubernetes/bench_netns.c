/* bench_netns: what --collector.netns=all costs per collection.
 *
 *   bench_netns [N...]      (root; default 1 10 50)
 *
 * For each N, N children each unshare a network namespace, bring lo up
 * and hold a listener plus CONNS loopback connections (2 * CONNS + 1
 * sockets). Measured, with the real /proc of the machine scanned:
 *   first   the refresh that discovers and opens the N namespaces;
 *   refresh a steady-state refresh (scan, nothing new), mean of ROUNDS;
 *   +pods   the same with pod attribution on (pod logs directory and the
 *           cgroup2 walk of the machine), mean of ROUNDS;
 *   dump    the socket dumps of one collection over the N namespaces and
 *           the host's (LISTEN, then the connected states of AF_INET and
 *           AF_INET6 with tcp_info, as collector_collect() does), mean of
 *           ROUNDS. Other namespaces of the machine (other tests) are held
 *           but not dumped, so that their sockets do not blur the numbers.
 * Exit 77 when not root. */
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>

#include "collectors/netns.h"
#include "collectors/sockdiag.h"

#define CONNS  20
#define ROUNDS 20
#define MAX_N  512

static pid_t kids[MAX_N];
static uint64_t kid_ino[MAX_N];
static int n_kids;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0), r = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return r;
}

/* The child: a namespace with a small connection pool in it. */
static void child(int ready)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l, i;
	char ok = 1;

	if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0)
		_exit(1);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, CONNS) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		_exit(1);
	for (i = 0; i < CONNS; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    accept(l, NULL, NULL) < 0)
			_exit(1);
	}
	if (write(ready, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Also the SIGTERM/SIGINT handler: kill() and waitpid() are
 * async-signal-safe. */
static void reap_all(void)
{
	int i;

	for (i = 0; i < MAX_N; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	}
	n_kids = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	reap_all();
	_exit(1);
}

static bool ours(const struct netns_entry *e)
{
	int i;

	if (e->is_host)
		return true;
	for (i = 0; i < n_kids; i++)
		if (kid_ino[i] == e->ino)
			return true;
	return false;
}

static int count_cb(const struct sock_record *rec, void *ctx)
{
	(void)rec;
	(*(unsigned long *)ctx)++;
	return 0;
}

/* One collection's dumps over every held namespace. 0 or -errno. */
static int dump_all(struct netns_registry *r, void *buf, unsigned long *sockets)
{
	static const uint8_t families[] = {AF_INET, AF_INET6};
	size_t i, f;
	int ret;

	for (i = 0; i < netns_registry_count(r); i++) {
		const struct netns_entry *e = netns_registry_get(r, i);
		struct sockdiag_request lreq = {.family = AF_INET,
						.states = SOCKDIAG_STATE(TCPS_LISTEN)};

		if (!ours(e))
			continue;

		ret = sockdiag_dump(e->sk, &lreq, buf, SOCKDIAG_RECV_BUF, count_cb, sockets, NULL);
		if (ret < 0)
			return ret;
		for (f = 0; f < 2; f++) {
			struct sockdiag_request req = {.family = families[f],
						       .states = SOCKDIAG_STATES_CONNECTED,
						       .ext = 1 << (INET_DIAG_INFO - 1)};

			ret = sockdiag_dump(e->sk, &req, buf, SOCKDIAG_RECV_BUF, count_cb, sockets,
					    NULL);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int bench(int n, void *buf)
{
	struct netns_options o = {.all = true}, op = {.all = true, .pods = true};
	struct netns_registry *r = NULL, *rp = NULL;
	struct netns_refresh_stats st, stp;
	double t0, first, refresh = 0, refresh_pods = 0, dump = 0;
	unsigned long sockets = 0;
	char path[64];
	struct stat sb;
	int i, ret;

	for (i = 0; i < n; i++) {
		int p[2];
		char ok;

		if (pipe(p) < 0)
			return -errno;
		kids[i] = fork();
		if (kids[i] < 0)
			return -errno;
		if (kids[i] == 0) {
			close(p[0]);
			child(p[1]);
		}
		close(p[1]);
		ret = read(p[0], &ok, 1) == 1 ? 0 : -EIO;
		close(p[0]);
		if (ret < 0)
			return ret;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)kids[i]);
		if (stat(path, &sb) < 0)
			return -errno;
		kid_ino[i] = (uint64_t)sb.st_ino;
		n_kids = i + 1;
	}
	ret = netns_registry_new(&o, &r);
	if (ret < 0)
		return ret;
	ret = netns_registry_new(&op, &rp);
	if (ret < 0)
		goto out;
	t0 = now_ms();
	ret = netns_registry_refresh(r, &st);
	first = now_ms() - t0;
	if (ret < 0)
		goto out;
	for (i = 0; i < ROUNDS; i++) {
		t0 = now_ms();
		ret = netns_registry_refresh(r, &st);
		refresh += now_ms() - t0;
		if (ret < 0)
			goto out;
		t0 = now_ms();
		ret = netns_registry_refresh(rp, &stp);
		refresh_pods += now_ms() - t0;
		if (ret < 0)
			goto out;
		sockets = 0;
		t0 = now_ms();
		ret = dump_all(r, buf, &sockets);
		dump += now_ms() - t0;
		if (ret < 0)
			goto out;
	}
	printf("%4d namespaces (+%2u others, %4u pids): first %7.2f ms  refresh %6.2f ms  "
	       "+pods %6.2f ms (%u cgroups)  dump %7.2f ms  (%lu sockets)\n",
	       n, (unsigned)(netns_registry_count(r) - (size_t)n), st.scanned, first,
	       refresh / ROUNDS, refresh_pods / ROUNDS, stp.cgroups, dump / ROUNDS, sockets);
out:
	netns_registry_free(r);
	netns_registry_free(rp);
	reap_all();
	return ret;
}

int main(int argc, char **argv)
{
	static const int dflt[] = {1, 10, 50};
	static char buf[SOCKDIAG_RECV_BUF];
	int i, n = argc > 1 ? argc - 1 : 3;

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (i = 0; i < n; i++) {
		int k = argc > 1 ? atoi(argv[i + 1]) : dflt[i];
		int r;

		if (k < 1 || k > MAX_N) {
			fprintf(stderr, "bench_netns: N must be 1..%d\n", MAX_N);
			return 2;
		}
		r = bench(k, buf);
		if (r < 0) {
			fprintf(stderr, "bench_netns: N=%d: %s\n", k, strerror(-r));
			reap_all();
			return 1;
		}
	}
	return 0;
}
