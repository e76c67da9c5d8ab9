/* loadgen: hold many established loopback TCP connections for the
 * benchmark harness (tests/bench/run.py). Run it inside a network
 * namespace made for the purpose; it never touches anything else.
 *
 * The master process owns the listeners, which never accept(): the
 * server ends stay in the accept queues and cost no file descriptor.
 * Client ends are held by worker processes (fork), at most
 * --per-worker each, because open files are capped per process.
 *
 * Connection k (0-based) goes
 *   from 127.1.(a>>8).(a&255):(SRC_PORT_LO + k % SRC_PORTS), a = k / SRC_PORTS
 *   to   127.0.0.1:(listen_base + k / per_listener)
 * so every 4-tuple is unique by construction: no ephemeral port search.
 * Every 4th client socket has SO_KEEPALIVE (a keepalive timer to
 * classify); every client socket has SO_LINGER {1, 0} so that tearing
 * down is a burst of RSTs rather than a million FIN_WAIT orphans.
 *
 * Protocol (one line each way, on stdin/stdout):
 *   grow N      -> "ok N" when N connections exist in total, or
 *                  "err N <reason>" with the number that does exist
 *   count       -> "count N"
 *   quit / EOF  -> workers are killed, listeners closed, exit 0
 * Workers die with the master (PR_SET_PDEATHSIG) and the master with its
 * parent, so a crashed harness leaves nothing behind in the namespace.
 *
 * usage: loadgen [--listen-base PORT] [--per-listener N] [--per-worker N]
 *                [--parallel N] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#define SRC_PORT_LO 1024
#define SRC_PORTS 59000 /* 1024..60023: below the listener ports */
#define MAX_WORKERS 4096
#define MAX_LISTENERS 1024

struct worker {
	pid_t pid;
	int fd;        /* read end of its report pipe */
	long start, n; /* connections [start, start + n) */
	long made;
	int err;
	int done;
};

struct report {
	long made;
	int err;
	char what[16];
};

static int listen_base = 61000;
static long per_listener = 60000;
static long per_worker = 19000;
static int parallel = 4;

static struct worker workers[MAX_WORKERS];
static int n_workers;
static int listeners[MAX_LISTENERS];
static int n_listeners;
static long total;  /* connections held by finished workers */
static long next_k; /* first connection index not handed to a worker yet */

static int open_listener(int i)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)(listen_base + i));
	/* The backlog is clamped to net.core.somaxconn: the harness raises it
	 * above per_listener in the namespace. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, (int)per_listener + 1024) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void worker_main(long start, long n, int report_fd)
{
	struct report rep = {0};
	struct timeval tmo = {.tv_sec = 3};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int one = 1;
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (long k = start; k < start + n; k++) {
		long a = k / SRC_PORTS;
		struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0) {
			rep.err = errno;
			strcpy(rep.what, "socket");
			break;
		}
		src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | (uint32_t)a);
		src.sin_port = htons((uint16_t)(SRC_PORT_LO + k % SRC_PORTS));
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dst.sin_port = htons((uint16_t)(listen_base + k / per_listener));
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)); /* bounds connect() */
		if (k % 4 == 0)
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			rep.err = errno;
			strcpy(rep.what, "bind");
			close(fd);
			break;
		}
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			rep.err = errno;
			strcpy(rep.what, "connect");
			close(fd);
			break;
		}
		rep.made++;
	}
	if (write(report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(1);
	close(report_fd);
	/* Hold the sockets until killed. */
	sigemptyset(&none);
	for (;;)
		sigsuspend(&none);
}

static int spawn(long start, long n)
{
	struct worker *w;
	int p[2];
	pid_t pid;

	if (n_workers >= MAX_WORKERS)
		return -ENOSPC;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		/* Only the report pipe and the sockets it makes: the listeners
		 * and stdio stay with the master. */
		for (int i = 0; i < n_listeners; i++)
			close(listeners[i]);
		close(p[0]);
		worker_main(start, n, p[1]);
		_exit(0);
	}
	close(p[1]);
	w = &workers[n_workers++];
	*w = (struct worker){.pid = pid, .fd = p[0], .start = start, .n = n};
	return 0;
}

/* Wait for one running worker's report. */
static void reap_one(struct worker *w)
{
	struct report rep = {0};
	ssize_t r;

	do
		r = read(w->fd, &rep, sizeof(rep));
	while (r < 0 && errno == EINTR);
	close(w->fd);
	w->fd = -1;
	w->done = 1;
	if (r != (ssize_t)sizeof(rep)) {
		w->made = 0;
		w->err = EPIPE;
		return;
	}
	w->made = rep.made;
	w->err = rep.err;
	if (rep.err)
		fprintf(stderr, "loadgen: worker %d: %s: %s after %ld of %ld\n", (int)w->pid,
			rep.what, strerror(rep.err), rep.made, w->n);
}

/* Connections the still-running workers since first were asked for. */
static long inflight(int first)
{
	long n = 0;

	for (int j = first; j < n_workers; j++)
		if (!workers[j].done)
			n += workers[j].n;
	return n;
}

static void grow(long target)
{
	int first = n_workers;
	int err = 0;

	/* Listeners first, in the master. */
	while ((long)n_listeners * per_listener < target) {
		int fd;

		if (n_listeners >= MAX_LISTENERS) {
			printf("err %ld too many listeners\n", total);
			fflush(stdout);
			return;
		}
		fd = open_listener(n_listeners);
		if (fd < 0) {
			printf("err %ld listen: %s\n", total, strerror(-fd));
			fflush(stdout);
			return;
		}
		listeners[n_listeners++] = fd;
	}
	/* Workers, at most `parallel` connecting at once. */
	for (int i = first;; i++) {
		int running = 0;

		for (int j = first; j < n_workers; j++)
			running += !workers[j].done;
		while (!err && running < parallel) {
			long want = target - total - inflight(first);
			long n = want < per_worker ? want : per_worker;
			int r;

			if (n <= 0)
				break;
			r = spawn(next_k, n);

			if (r < 0) {
				fprintf(stderr, "loadgen: fork: %s\n", strerror(-r));
				err = -r;
				break;
			}
			next_k += n;
			running++;
		}
		if (i >= n_workers)
			break;
		reap_one(&workers[i]);
		total += workers[i].made;
		if (workers[i].err && !err)
			err = workers[i].err;
	}
	if (err) {
		printf("err %ld %s\n", total, strerror(err));
	} else {
		printf("ok %ld\n", total);
	}
	fflush(stdout);
}

static void teardown(void)
{
	for (int i = 0; i < n_workers; i++)
		if (workers[i].pid > 0)
			kill(workers[i].pid, SIGKILL);
	for (int i = 0; i < n_workers; i++)
		if (workers[i].pid > 0)
			waitpid(workers[i].pid, NULL, 0);
	for (int i = 0; i < n_listeners; i++)
		close(listeners[i]);
}

static void on_term(int sig)
{
	(void)sig;
	teardown();
	_exit(0);
}

int main(int argc, char **argv)
{
	char line[128];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen-base") && i + 1 < argc)
			listen_base = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--per-listener") && i + 1 < argc)
			per_listener = atol(argv[++i]);
		else if (!strcmp(argv[i], "--per-worker") && i + 1 < argc)
			per_worker = atol(argv[++i]);
		else if (!strcmp(argv[i], "--parallel") && i + 1 < argc)
			parallel = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: loadgen [--listen-base PORT] [--per-listener N] "
					"[--per-worker N] [--parallel N]\n");
			return 2;
		}
	}
	if (per_listener < 1 || per_worker < 1 || parallel < 1 || listen_base < SRC_PORT_LO + SRC_PORTS ||
	    listen_base > 65535 - 64) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGHUP, on_term);
	signal(SIGPIPE, SIG_IGN);

	while (fgets(line, sizeof(line), stdin)) {
		long n;

		if (sscanf(line, "grow %ld", &n) == 1) {
			if (n > total)
				grow(n);
			else {
				printf("ok %ld\n", total);
				fflush(stdout);
			}
		} else if (!strncmp(line, "count", 5)) {
			printf("count %ld\n", total);
			fflush(stdout);
		} else if (!strncmp(line, "quit", 4)) {
			break;
		} else {
			printf("err %ld unknown command\n", total);
			fflush(stdout);
		}
	}
	teardown();
	return 0;
}
