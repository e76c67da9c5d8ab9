#!/usr/bin/env python3
"""services[].enforce end to end: the BPF retrofit of TCP keepalive and
TCP_USER_TIMEOUT onto live sockets of an application that never set them.

    python3 tests/enforce/run.py NAME      (root; see docs/remediation.md)

A pool client (tests/enforce/pool.py) in namespace A holds idle
connections to servers in namespace B, across a veth pair; the exporter
runs in A. "The server's host vanishes" is iptables DROP of the server's
port in B, both ways, then SIGKILL of the server (its RST is dropped too).

  keepalive_dead  enforce.keepalive: the kernel resets the pool's
                  connections within idle + count x interval + one
                  collection interval, recv() gets ETIMEDOUT, the exporter
                  showed keepalive probing before; a service without
                  enforce in the same namespace is never touched
  keepalive_live  a healthy server: connections stay, keepalive-armed
                  (ss timer:(keepalive)), the application's getsockopt
                  reads the values; then the application turns keepalive
                  off again: reported once, not set again. Meanwhile the
                  process holds no capability (read back from /proc)
  user_timeout    a request pending on a black-holed peer fails within
                  user_timeout + one interval
  dry_run         --remediation.dry-run: counted and logged, nothing set;
                  the /metrics text with every enforce family passes
                  `promtool check metrics`
  no_cap          without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN: a config with
                  enforce is refused at start; a reload adding it is refused
                  (restart needed), the old config kept, collection goes on
  reload          a process started with enforce: a reload changes the
                  options (the new one is applied to the same sockets), then
                  removes enforce (no more passes); an invalid enforce block
                  is refused with its place, the old config kept
  netns_all       --collector.netns=all: the pool lives in another namespace
                  (found through a --path.procfs holding only it); the pass
                  enters it and arms keepalive there
  keepalive_default  the policy on what an application chose: pool
                  sockets with SO_KEEPALIVE on at the sysctl's idle get
                  the service's idle (fields path; the getsockopt path
                  cannot tell and keeps them), a socket with its own
                  TCP_KEEPIDLE keeps it on both paths
  postgres        Debian's PostgreSQL (SO_KEEPALIVE on, idle at the
                  sysctl's 2 h) and psycopg2 clients whose host dies
                  (DROP, then SIGKILL: no FIN): enforce keepalive on the
                  inbound service removes the backends from
                  pg_stat_activity within idle + count x interval + two
                  collection intervals; a backend whose client set
                  tcp_keepalives_idle keeps it and stays
  pass_skip       --enforce.pass-max-gap: collections that see no new
                  socket of the service skip the pass (counted), a new
                  connection gets a pass and keepalive within two
                  intervals, and a pass runs anyway once the gap is up
  on_connect      --enforce.cgroup: a new connection has the options the
                  moment connect() returns (a client, outbound) or before
                  accept() (a server, inbound), with no pass run; its own
                  idle kept; a namespace the exporter does not cover is
                  untouched; then a revert of one set at connect is seen
                  by the next pass (a reload's); a dry run sets nothing
  redis           redis-py (Debian python3-redis, default: no timeouts)
                  pools against two redis-servers whose host vanishes: the
                  pool of the service with enforce is reset by keepalive,
                  so the application's next GET fails at once (it can fail
                  over); the other pool's GET hangs, retransmitting

HALFOPEN_ENFORCE_READ_PATH=fields|getsockopt runs the exporter with
--enforce.read-path set to it (default: auto, which must load fields
here); every scenario checks halfopen_enforce_info's read_path.

The last line is "1 passed, 0 failed" or "0 passed, 1 failed".
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lab"))
import servers as lab_servers  # noqa: E402
import testlib  # noqa: E402
from testlib import (VETH_V4, Netns, Peer, ScenarioFailure,  # noqa: E402
                     main_scenarios, ss, wait_until)

READ_PATH = os.environ.get("HALFOPEN_ENFORCE_READ_PATH", "auto")
# What auto must load on every kernel the iterator runs on.
WANT_PATH = "fields" if READ_PATH == "auto" else READ_PATH


class Exporter(testlib.Exporter):
    """The exporter with --enforce.read-path=READ_PATH; once ready with a
    config that enforces, it must show the read path wanted. A pass after
    every collection (--enforce.pass-max-gap=0s), as the scenarios count
    passes and reverts, unless extra_args sets it (pass_skip). New
    connections wait for a pass (--enforce.cgroup=none: `ip netns exec`
    hides /sys/fs/cgroup anyway) unless extra_args names a cgroup
    (on_connect)."""

    def __init__(self, ns, config_text, *args, extra_args=(), **kw):
        self.enforces = bool(config_text) and "enforce:" in config_text
        extra = list(extra_args) + ["--enforce.read-path=" + READ_PATH]
        if not any(a.startswith("--enforce.pass-max-gap") for a in extra):
            extra.append("--enforce.pass-max-gap=0s")
        if not any(a.startswith("--enforce.cgroup") for a in extra):
            extra.append("--enforce.cgroup=none")
        super().__init__(ns, config_text, *args, extra_args=extra, **kw)

    def __enter__(self):
        super().__enter__()
        if self.enforces and self.samples().value("halfopen_enforce_info",
                                                  read_path=WANT_PATH) != 1:
            text = self.scrape()
            self.__exit__(None, None, None)
            raise ScenarioFailure("want halfopen_enforce_info{read_path=%s} 1:\n%s"
                                  % (WANT_PATH, text))
        return self


SCENARIO_TIMEOUT = 90
POOL_PY = os.path.join(HERE, "pool.py")
INTERVAL = 1.0
IDLE, INTVL, CNT = 2, 1, 3
USER_TIMEOUT = 3.0
N = 3
SRV = VETH_V4[1]
KEEPALIVE = "{idle: %ds, interval: %ds, count: %d}" % (IDLE, INTVL, CNT)


def config(port, other_port, enforce):
    return """\
defaults: {stale_after: 1h}
services:
  - name: pool
    direction: outbound
    ports: [%d]
    enforce: %s
  - name: plain
    direction: outbound
    ports: [%d]
""" % (port, enforce, other_port)


def want(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


def counter(s, name, service="pool", option="keepalive"):
    return s.value(name, tcp_service=service, direction="outbound", option=option) or 0


def pool(ns, port, conns=N, keepalive="off"):
    p = Peer(ns, [sys.executable, POOL_PY, "--addr", SRV, "--port", str(port), "--conns",
                  str(conns), "--keepalive", keepalive])
    return p, [int(p.expect("CONNECTED")["local"]) for _ in range(conns)]


def rows(ns, port):
    return [r for r in ss(ns, "dport = :%d" % port) if r["state"] == "ESTAB"]


def keepalive_armed(ns, port):
    return [r for r in rows(ns, port) if r.get("timer") == "keepalive"]


def vanish(peer_ns, port, server=None):
    """The server's host vanishes: everything of port dropped, then the
    server killed (its FIN/RST dropped as well)."""
    peer_ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP")
    peer_ns.iptables("-A", "OUTPUT", "-p", "tcp", "--sport", str(port), "-j", "DROP")
    if server:
        server.kill()
    return time.monotonic()


def servers(ns, *ports):
    out = []
    for p in ports:
        srv = ns.peer_ns.peer("server", "--addr", SRV, "--port", str(p), "--mode", "sink")
        srv.expect("LISTEN")
        out.append(srv)
    return out


def keepalive_dead():
    with Netns("enfd", veth=True) as ns:
        port, other = 23401, 23402
        srv, _ = servers(ns, port, other)
        cli, cports = pool(ns, port)
        ocli, _ = pool(ns, other, 1)
        with Exporter(ns, config(port, other, "{keepalive: %s}" % KEEPALIVE)) as exp:
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N, 10,
                         "keepalive enforced on the %d pool sockets" % N)
            armed = keepalive_armed(ns, port)
            want(len(armed) == N, "want %d keepalive timers:\n%s" % (N, ns.ss_text()))
            t0 = vanish(ns.peer_ns, port, srv)
            bound = IDLE + CNT * INTVL + INTERVAL
            probing_seen = False
            errors = []
            deadline = t0 + bound + 4
            while len(errors) < N and time.monotonic() < deadline:
                s = exp.samples()
                probing_seen |= (s.value("halfopen_keepalive_probing_sockets", tcp_service="pool",
                                         direction="outbound") or 0) > 0
                try:
                    line = cli.lines.get(timeout=0.2)
                except Exception:
                    continue
                if line.startswith("ERROR"):
                    errors.append((line, time.monotonic() - t0))
            want(len(errors) == N, "want %d ETIMEDOUT within %.1fs, got %r" % (N, bound + 4, errors))
            want(all("errno=ETIMEDOUT" in l for l, _ in errors), "want ETIMEDOUT: %r" % errors)
            worst = max(t for _, t in errors)
            print("pool reset by keepalive %.2fs after the host vanished (bound %.1fs + 1s slack)"
                  % (worst, bound))
            want(worst <= bound + 1, "too slow: %.2fs > %.1fs" % (worst, bound + 1))
            want(probing_seen, "halfopen_keepalive_probing_sockets never showed the probing")
            orow = rows(ns, other)
            want(len(orow) == 1 and orow[0].get("timer") != "keepalive",
                 "the service without enforce was touched:\n%s" % ns.ss_text())
            s = exp.samples()
            want(s.value("halfopen_enforced_sockets_total", tcp_service="plain",
                         direction="outbound", option="keepalive") is None,
                 "plain has no enforce series")
            ocli.send("opts")
            o = ocli.expect("OPTS")
            want(o["keepalive"] == "0", "plain socket got keepalive: %r" % o)


def keepalive_default():
    """SO_KEEPALIVE on at the sysctl's idle is no choice (fields path); an
    idle the application set is (both paths). An idle set with keepalive
    left off is kept when enforce turns keepalive on (fields path)."""
    own_idle, idle_only = 600, 900
    with Netns("enfk", veth=True) as ns:
        port, other = 23481, 23482
        servers(ns, port, other)
        cli, _ = pool(ns, port, keepalive="default")
        own, _ = pool(ns, port, 1, keepalive=str(own_idle))
        half, _ = pool(ns, port, 1, keepalive="idle-only:%d" % idle_only)
        fields = WANT_PATH == "fields"
        with Exporter(ns, config(port, other, "{keepalive: %s}" % KEEPALIVE)) as exp:
            s = exp.wait_for(lambda s: s.value("halfopen_enforce_matched_sockets",
                                               tcp_service="pool", direction="outbound") == N + 2 and
                             counter(s, "halfopen_enforce_own_choice_sockets") ==
                             (1 if fields else N + 1), 10, "the own choices counted")
            passes = s.value("halfopen_enforce_passes_total")
            s = exp.wait_for(lambda s: s.value("halfopen_enforce_passes_total") >= passes + 2, 6,
                             "two more passes")
            want(counter(s, "halfopen_enforced_sockets_total") == (N + 1 if fields else 1),
                 "enforced: %s" % s.report())
            want(s.value("halfopen_enforce_errors_total", tcp_service="pool", direction="outbound",
                         option="keepalive") == 0, s.report())
            cli.send("opts")
            got = [cli.expect("OPTS") for _ in range(N)]
            sysctl_idle = int(ns.exec(["sysctl", "-n", "net.ipv4.tcp_keepalive_time"]).stdout)
            want(all(o["keepalive"] == "1" and o["idle"] == str(IDLE if fields else sysctl_idle)
                     for o in got), "the pool at the sysctl's idle reads %r" % got)
            own.send("opts")
            o = own.expect("OPTS")
            want(o["keepalive"] == "1" and o["idle"] == str(own_idle),
                 "the application's own idle must stay: %r" % o)
            half.send("opts")
            o = half.expect("OPTS")
            want(o["keepalive"] == "1" and o["idle"] == str(idle_only if fields else IDLE),
                 "keepalive given, at the application's own idle on fields: %r" % o)
            print("%s path: %d sockets at the sysctl's idle (%ds) %s, the one with its own "
                  "idle (%ds) kept, the one with its idle (%ds) but keepalive off given keepalive "
                  "at idle %s" % (WANT_PATH, N, sysctl_idle,
                                  "given idle %ds" % IDLE if fields else "kept", own_idle,
                                  idle_only, o["idle"]))


PG_CLIENT = r"""
import sys, time, psycopg2
addr, n = sys.argv[1], int(sys.argv[2])
# n pooled connections as psycopg2 opens them, and one whose backend the
# application asked for its own keepalive idle (tcp_keepalives_idle).
conns = [psycopg2.connect(host=addr, user="postgres", dbname="postgres",
                          application_name="pool") for _ in range(n)]
conns.append(psycopg2.connect(host=addr, user="postgres", dbname="postgres",
                              application_name="own", options="-c tcp_keepalives_idle=600"))
for c in conns:
    c.autocommit = True
    c.cursor().execute("select 1")
print("READY", flush=True)
time.sleep(3600)
"""
PG_IDLE, PG_INTVL, PG_CNT = 2, 1, 2


def pg_backends(pg, client_addr):
    """{application_name: backends} of client_addr, from pg_stat_activity
    over the server's unix socket."""
    cp = subprocess.run(["psql", "-h", pg.dir, "-U", "postgres", "-d", "postgres", "-Atc",
                         "select application_name, count(*) from pg_stat_activity where "
                         "client_addr = '%s' group by 1" % client_addr],
                        capture_output=True, text=True, timeout=10)
    want(cp.returncode == 0, "psql: %s" % cp.stderr)
    return {l.split("|")[0]: int(l.split("|")[1]) for l in cp.stdout.split()}


def postgres():
    """The application host (ns: psycopg2) dies; the database host
    (ns.peer_ns: PostgreSQL 15 and the exporter, inbound service)."""
    with tempfile.TemporaryDirectory(prefix="ho-enfpg-") as d, Netns("enfpg", veth=True) as ns:
        app_addr = VETH_V4[0]
        pg = lab_servers.Postgres(ns.peer_ns, SRV, os.path.join(d, "pg"), lab_servers.pg_template(d))
        pg.start()
        lab_servers.wait_listen(ns, SRV, lab_servers.Postgres.port, pg)
        cli = Peer(ns, [DEBIAN_PYTHON, "-c", PG_CLIENT, SRV, str(N)])
        cli.expect("READY", timeout=20)
        want(pg_backends(pg, app_addr) == {"pool": N, "own": 1}, pg_backends(pg, app_addr))
        cfg = """\
defaults: {stale_after: 1h}
services:
  - name: postgres
    direction: inbound
    ports: [%d]
    enforce: {keepalive: {idle: %ds, interval: %ds, count: %d}}
""" % (lab_servers.Postgres.port, PG_IDLE, PG_INTVL, PG_CNT)
        with Exporter(ns.peer_ns, cfg) as exp:
            def c(s, name):
                return s.value(name, tcp_service="postgres", direction="inbound",
                               option="keepalive") or 0
            s = exp.wait_for(lambda s: c(s, "halfopen_enforced_sockets_total") == N and
                             c(s, "halfopen_enforce_own_choice_sockets") == 1, 10,
                             "keepalive given to the %d backends at the sysctl's idle, "
                             "the one with its own idle kept" % N)
            print("backends: enforced %d, own choice %d" % (
                c(s, "halfopen_enforced_sockets_total"),
                c(s, "halfopen_enforce_own_choice_sockets")))
            # The application host dies: nothing leaves or reaches it,
            # then its process is killed (its FINs dropped too).
            ns.iptables("-A", "INPUT", "-i", "veth0", "-j", "DROP")
            ns.iptables("-A", "OUTPUT", "-o", "veth0", "-j", "DROP")
            cli.kill()
            t0 = time.monotonic()
            bound = PG_IDLE + PG_CNT * PG_INTVL + 2 * INTERVAL
            left = pg_backends(pg, app_addr)
            while left.get("pool") and time.monotonic() < t0 + bound + 5:
                time.sleep(0.2)
                left = pg_backends(pg, app_addr)
            took = time.monotonic() - t0
            want(not left.get("pool"), "backends of the dead host still in pg_stat_activity "
                 "%.1fs after it died (bound %.1fs): %r\n%s" % (took, bound, left, pg.log_tail()))
            print("the dead host's %d backends left pg_stat_activity %.2fs after it died "
                  "(bound idle + count x interval + 2 intervals = %.1fs)" % (N, took, bound))
            want(took <= bound, "too slow: %.2fs > %.1fs" % (took, bound))
            want(left == {"own": 1}, "the backend with its own keepalive idle (600s) must stay "
                 "within the bound: %r" % left)


def capabilities(pid):
    """{tid: (CapEff, CapPrm, CapBnd)} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        st = dict(l.split(":\t", 1) for l in open("/proc/%d/task/%s/status" % (pid, tid))
                  if ":\t" in l)
        out[tid] = tuple(st[k].strip() for k in ("CapEff", "CapPrm", "CapBnd"))
    return out


def keepalive_live():
    with Netns("enfl", veth=True) as ns:
        port, other = 23411, 23412
        servers(ns, port, other)
        cli, cports = pool(ns, port)
        with Exporter(ns, config(port, other, "{keepalive: %s}" % KEEPALIVE)) as exp:
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N, 10,
                         "keepalive enforced")
            caps = capabilities(exp.proc.pid)
            print("capabilities with enforce running (CapEff, CapPrm, CapBnd):", set(caps.values()))
            want(set(caps.values()) == {("0000000000000000",) * 3},
                 "enforce must run without capabilities: %r" % caps)
            cli.send("opts")
            for _ in range(N):
                o = cli.expect("OPTS")
                want(o["keepalive"] == "1" and o["idle"] == str(IDLE),
                     "the application reads %r" % o)
            time.sleep(IDLE + CNT * INTVL + 2 * INTERVAL)
            want(len(keepalive_armed(ns, port)) == N,
                 "a healthy pool must stay up and armed:\n%s" % ns.ss_text())
            exp.wait_for(lambda s: (s.value("halfopen_keepalive_sockets", tcp_service="pool",
                                            direction="outbound") or 0) == N, 5,
                         "halfopen_keepalive_sockets{pool} reflects it")
            # The application changes its mind: reported once, not fought.
            cli.send("keepalive_off")
            cli.expect("OK")
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforce_reverted_total") == N, 5,
                             "the revert reported")
            passes = s.value("halfopen_enforce_passes_total")
            exp.wait_for(lambda s: s.value("halfopen_enforce_passes_total") >= passes + 3, 8,
                         "three more passes")
            want(not keepalive_armed(ns, port), "keepalive set again:\n%s" % ns.ss_text())
            s = exp.samples()
            want(counter(s, "halfopen_enforced_sockets_total") == N and
                 counter(s, "halfopen_enforce_reverted_total") == N,
                 "counted once: %s" % s.report())
            want("turned off what enforce had set" in exp.stderr_text(40), exp.stderr_text(20))


def pass_skip():
    gap = 8.0
    with Netns("enfs", veth=True) as ns:
        port, other = 23491, 23492
        servers(ns, port, other)
        cli, _ = pool(ns, port)
        with Exporter(ns, config(port, other, "{keepalive: %s}" % KEEPALIVE),
                      extra_args=["--enforce.pass-max-gap=%gs" % gap]) as exp:
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N, 10,
                             "the pool enforced by the first pass")
            # Steady: the passes stop while the collections go on.
            passes = s.value("halfopen_enforce_passes_total")
            skipped = s.value("halfopen_enforce_passes_skipped_total")
            colls = s.value("halfopen_collections_total")
            s = exp.wait_for(lambda s: s.value("halfopen_collections_total") >= colls + 2, 6,
                             "two more collections")
            want(s.value("halfopen_enforce_passes_total") == passes and
                 s.value("halfopen_enforce_passes_skipped_total") >= skipped + 2,
                 "a steady pool must skip the passes: %s" % s.report())
            want(s.value("halfopen_enforce_matched_sockets", tcp_service="pool",
                         direction="outbound") == N,
                 "the last pass's figures stay: %s" % s.report())
            # A new connection: a pass, and it is armed.
            t0 = time.monotonic()
            new, _ = pool(ns, port, 1)
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N + 1,
                         2 * INTERVAL + 2, "the new connection enforced")
            took = time.monotonic() - t0
            want(len(keepalive_armed(ns, port)) == N + 1, ns.ss_text())
            print("new connection enforced %.1fs after it connected (interval %gs)" % (
                took, INTERVAL))
            # Nothing new again: a pass anyway once the gap is up.
            s = exp.samples()
            passes = s.value("halfopen_enforce_passes_total")
            t1 = time.monotonic()
            exp.wait_for(lambda s: s.value("halfopen_enforce_passes_total") == passes + 1,
                         gap + 2 * INTERVAL + 2, "a pass once the gap is up")
            print("steady: the next pass came %.1fs later (gap %gs)" % (
                time.monotonic() - t1, gap))


class Cgroup2:
    """The cgroup v2 hierarchy mounted in a temporary directory: `ip netns
    exec` mounts a fresh /sys, without /sys/fs/cgroup, so the exporter is
    given this one (the same hierarchy: its root holds every process)."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="ho-cg2-")
        cp = subprocess.run(["mount", "-t", "cgroup2", "none", self.dir], capture_output=True,
                            text=True)
        if cp.returncode:
            os.rmdir(self.dir)
            raise ScenarioFailure("mount -t cgroup2: %s" % cp.stderr.strip())
        return self.dir

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.dir], capture_output=True)
        os.rmdir(self.dir)


def on_connect(quick=False):
    """quick (tests/kernels, under emulation): the connection-time part
    only, not the revert seen by the gap's pass nor the dry run (the
    pass's and the flag's code, kernel-independent; run natively)."""
    ut_ms = int(USER_TIMEOUT * 1000)
    with Cgroup2() as cg, Netns("enfc", veth=True) as ns:
        port, front, other = 23521, 23522, 23523
        servers(ns, port, other)
        # front: a server here (the exporter's namespace) whose clients
        # are in the peer namespace.
        fsrv = ns.peer("server", "--addr", VETH_V4[0], "--port", front, "--mode", "sink")
        fsrv.expect("LISTEN")
        cfg = """\
defaults: {stale_after: 1h}
services:
  - name: pool
    direction: outbound
    ports: [%d]
    enforce: {keepalive: %s, user_timeout: %gs}
  - name: front
    direction: inbound
    ports: [%d]
    enforce: {keepalive: %s}
  - name: plain
    direction: outbound
    ports: [%d]
  - name: elsewhere
    direction: inbound
    ports: [%d]
    enforce: {keepalive: %s}
""" % (port, KEEPALIVE, USER_TIMEOUT, front, KEEPALIVE, other, port, KEEPALIVE)
        with Exporter(ns, cfg, extra_args=["--enforce.cgroup=" + cg,
                                           "--enforce.pass-max-gap=1h"]) as exp:
            s = exp.samples()
            want(s.value("halfopen_enforce_on_connect") == 1,
                 "want halfopen_enforce_on_connect 1: %s\n%s" % (s.report(), exp.stderr_text(10)))
            passes = s.value("halfopen_enforce_passes_total")
            t0 = time.monotonic()
            cli, _ = pool(ns, port)
            own, _ = pool(ns, port, 1, keepalive="600")
            fcli = Peer(ns.peer_ns, [sys.executable, POOL_PY, "--addr", VETH_V4[0], "--port",
                                     str(front), "--conns", "2"])
            for _ in range(2):
                fcli.expect("CONNECTED")
            # What the applications read right after connect(): ours.
            cli.send("opts")
            got = [cli.expect("OPTS") for _ in range(N)]
            took = time.monotonic() - t0
            want(all(o["keepalive"] == "1" and o["user_timeout"] == str(ut_ms) and
                     (o["idle"] == str(IDLE) or WANT_PATH == "getsockopt") for o in got),
                 "the pool reads %r right after connecting" % got)
            own.send("opts")
            o = own.expect("OPTS")
            want(o["keepalive"] == "1" and o["idle"] == "600" and o["user_timeout"] == str(ut_ms),
                 "its own idle kept, the user timeout given: %r" % o)
            # The server side in this namespace: armed before the server
            # read a byte; in the peer namespace (not covered): untouched.
            srv_side = [r for r in ss(ns, "sport = :%d" % front) if r["state"] == "ESTAB"]
            want(len(srv_side) == 2 and all(r.get("timer") == "keepalive" for r in srv_side),
                 "front's accepted sockets armed at once:\n%s" % ns.ss_text())
            far = [r for r in ss(ns.peer_ns, "sport = :%d" % port) if r["state"] == "ESTAB"]
            want(len(far) == N + 1 and not any(r.get("timer") == "keepalive" for r in far),
                 "a namespace the exporter does not cover was touched:\n%s"
                 % ns.peer_ns.ss_text())
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforced_at_connect_sockets_total")
                             == N + 1 and s.value("halfopen_enforced_at_connect_sockets_total",
                                              tcp_service="front", direction="inbound",
                                              option="keepalive") == 2, 5,
                             "the connection-time sets counted")
            # pool.py sets its own keepalive after connect(), as most
            # clients do: ours came first, then its own idle.
            want(s.value("halfopen_enforce_passes_total") == passes and
                 counter(s, "halfopen_enforced_sockets_total") == N + 1 and
                 counter(s, "halfopen_enforced_at_connect_sockets_total") == N + 1 and
                 counter(s, "halfopen_enforced_sockets_total", option="user_timeout") == N + 1,
                 "set at connect, no pass: %s" % s.report())
            print("%d pool, 1 own-idle and 2 front connections had their options %.2fs after "
                  "they were made, with no pass (passes_total stayed %d)" % (N, took, passes))
            if quick:
                return
            # The application changes its mind: the next pass (a reload's:
            # the gap is an hour) sees it.
            cli.send("keepalive_off")
            cli.expect("OK")
            exp.proc.send_signal(signal.SIGHUP)
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforce_reverted_total") == N, 10,
                             "the revert of a connect-time set seen by a pass")
            want(s.value("halfopen_enforce_passes_total") > passes, s.report())
            # The one that set its own idle after ours: its own choice
            # (the getsockopt path cannot tell an idle from ours).
            want(counter(s, "halfopen_enforce_own_choice_sockets") == (1 if WANT_PATH == "fields"
                                                                       else 0), s.report())
            armed = keepalive_armed(ns, port)
            want(len(armed) == 1, "keepalive set again, or the own one lost:\n%s" % ns.ss_text())
        # Exited: the program went with the process. A dry run counts a
        # new connection at connect and sets nothing.
        with Exporter(ns, cfg, extra_args=["--enforce.cgroup=" + cg, "--enforce.pass-max-gap=1h",
                                           "--remediation.dry-run"]) as exp:
            s = exp.samples()
            want(s.value("halfopen_enforce_on_connect") == 1, s.report())
            base = counter(s, "halfopen_enforced_sockets_total", option="user_timeout")
            dry, _ = pool(ns, port, 1)
            dry.send("opts")
            o = dry.expect("OPTS")
            want(o["keepalive"] == "0" and o["user_timeout"] == "0", "dry run set %r" % o)
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_at_connect_sockets_total",
                                           option="user_timeout") == 1 and
                         counter(s, "halfopen_enforced_sockets_total", option="user_timeout") ==
                         base + 1, 5, "the dry run's would-set counted at connect")
            want("Would enforce on new connections" in exp.stderr_text(40), exp.stderr_text(20))


def user_timeout():
    with Netns("enfu", veth=True) as ns:
        port, other = 23421, 23422
        servers(ns, port, other)
        cli, _ = pool(ns, port)
        ocli, _ = pool(ns, other, 1)
        cfg = config(port, other, "{user_timeout: %dms}" % (USER_TIMEOUT * 1000))
        with Exporter(ns, cfg) as exp:
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total",
                                           option="user_timeout") == N, 10,
                         "user_timeout enforced")
            vanish(ns.peer_ns, port)
            vanish(ns.peer_ns, other)
            cli.send("send")
            ocli.send("send")
            t0 = time.monotonic()
            cli.expect("OK")
            errors = [cli.expect("ERROR") for _ in range(N)]
            took = time.monotonic() - t0
            want(all(e["errno"] == "ETIMEDOUT" for e in errors), "want ETIMEDOUT: %r" % errors)
            print("pending requests failed %.2fs after sending (user_timeout %.1fs)"
                  % (took, USER_TIMEOUT))
            want(took <= USER_TIMEOUT + INTERVAL + 1, "too slow: %.2fs" % took)
            r = rows(ns, other)
            want(len(r) == 1 and r[0].get("timer") == "on",
                 "the service without enforce still retransmits:\n%s" % ns.ss_text())


def dry_run():
    with Netns("enfy", veth=True) as ns:
        port, other = 23431, 23432
        servers(ns, port, other)
        cli, _ = pool(ns, port)
        cfg = config(port, other, "{keepalive: %s, user_timeout: 3s}" % KEEPALIVE)
        with Exporter(ns, cfg, extra_args=["--remediation.dry-run"]) as exp:
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N and
                             counter(s, "halfopen_enforced_sockets_total",
                                     option="user_timeout") == N, 10, "would-enforce counted")
            want(s.value("halfopen_enforce_dry_run") == 1, "dry run gauge")
            passes = s.value("halfopen_enforce_passes_total")
            s = exp.wait_for(lambda s: s.value("halfopen_enforce_passes_total") >= passes + 2, 6,
                             "two more passes")
            want(counter(s, "halfopen_enforced_sockets_total") == N, "counted once per socket")
            want(not keepalive_armed(ns, port), "dry run armed keepalive:\n%s" % ns.ss_text())
            cli.send("opts")
            for _ in range(N):
                o = cli.expect("OPTS")
                want(o["keepalive"] == "0" and o["user_timeout"] == "0", "dry run set %r" % o)
            want("Would enforce" in exp.stderr_text(40), exp.stderr_text(20))
            text = exp.scrape()
            want(text.count("# TYPE halfopen_enforce") == 14, text)
            promtool = shutil.which("promtool")
            want(promtool, "promtool not installed (scripts/deps.sh test)")
            cp = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                                text=True, timeout=30)
            want(cp.returncode == 0, "promtool check metrics:\n%s%s" % (cp.stdout, cp.stderr))


def reload():
    with Netns("enfre", veth=True) as ns:
        port, other = 23471, 23472
        servers(ns, port, other)
        cli, _ = pool(ns, port)
        with Exporter(ns, config(port, other, "{user_timeout: 30s}")) as exp:
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total",
                                           option="user_timeout") == N, 10, "user_timeout set")

            def reload_with(text):
                with open(exp.config_path, "w") as f:
                    f.write(text)
                t = exp.samples().value("halfopen_config_last_reload_success_timestamp_seconds")
                exp.proc.send_signal(signal.SIGHUP)
                return t

            reload_with(config(port, other, "{keepalive: %s}" % KEEPALIVE))
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N, 5,
                             "keepalive set on the same sockets after the reload")
            want(counter(s, "halfopen_enforced_sockets_total", option="user_timeout") == 0 or
                 s.value("halfopen_enforced_sockets_total", tcp_service="pool",
                         direction="outbound", option="user_timeout") is None,
                 "user_timeout series gone with its option")
            want(len(keepalive_armed(ns, port)) == N, ns.ss_text())
            # A bad block: refused with file:line:col, the old config kept.
            reload_with(config(port, other, "{keepalive: {idle: 1500ms, interval: 1s, count: 3}}"))
            exp.wait_for(lambda s: s.value("halfopen_config_last_reload_successful") == 0, 5,
                         "the bad reload refused")
            want(re.search(r"config.yaml:6:33: services\[0\]\.enforce\.keepalive\.idle: must be "
                           r"whole seconds", exp.stderr_text(10)), exp.stderr_text(10))
            # enforce removed: no more passes.
            reload_with("services:\n  - {name: pool, direction: outbound, ports: [%d]}\n" % port)
            s = exp.wait_for(lambda s: s.value("halfopen_config_last_reload_successful") == 1, 5,
                             "the reload without enforce")
            time.sleep(2 * INTERVAL)
            p = exp.samples().value("halfopen_enforce_passes_total")
            time.sleep(3 * INTERVAL)
            want(exp.samples().value("halfopen_enforce_passes_total") == p,
                 "passes go on without enforce")


def netns_all():
    """The pool in namespace B, the exporter in A with --collector.netns=all.
    Its discovery sees only B: a fake --path.procfs whose one "process"
    links to B, and an empty --collector.netns.dir, so no other namespace
    of the machine is ever entered."""
    with tempfile.TemporaryDirectory(prefix="ho-enfns-") as d, Netns("enfn", veth=True) as ns:
        port, other = 23461, 23462
        os.makedirs(os.path.join(d, "proc", "4242", "ns"))
        os.symlink("/run/netns/" + ns.peer_ns.name, os.path.join(d, "proc", "4242", "ns", "net"))
        os.makedirs(os.path.join(d, "netns"))
        srv = ns.peer("server", "--addr", VETH_V4[0], "--port", str(port), "--mode", "sink")
        srv.expect("LISTEN")
        cli = Peer(ns.peer_ns, [sys.executable, POOL_PY, "--addr", VETH_V4[0], "--port",
                                str(port), "--conns", str(N)])
        for _ in range(N):
            cli.expect("CONNECTED")
        args = ["--collector.netns=all", "--path.procfs=" + os.path.join(d, "proc"),
                "--collector.netns.dir=" + os.path.join(d, "netns")]
        with Exporter(ns, config(port, other, "{keepalive: %s}" % KEEPALIVE),
                      extra_args=args) as exp:
            s = exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N, 10,
                             "keepalive enforced in the other namespace")
            want(s.value("halfopen_enforce_pass_errors_total") == 0, s.report())
            want(len(keepalive_armed(ns.peer_ns, port)) == N,
                 "want keepalive timers in %s:\n%s" % (ns.peer_ns.name, ns.peer_ns.ss_text()))
            cli.send("opts")
            for _ in range(N):
                o = cli.expect("OPTS")
                want(o["keepalive"] == "1", "the application in B reads %r" % o)


def no_cap_wrapper(d):
    wrapper = os.path.join(d, "halfopen_exporter")
    drop = "-bpf,-perfmon,-sys_admin"
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --bounding-set %s --inh-caps %s --ambient-caps %s "
                "%s \"$@\"\n" % (drop, drop, drop, testlib.exporter_binary()))
    os.chmod(wrapper, 0o755)
    return wrapper


def no_cap():
    real = testlib.exporter_binary
    with tempfile.TemporaryDirectory(prefix="ho-enfcap-") as d, Netns("enfc", veth=True) as ns:
        wrapper = no_cap_wrapper(d)
        testlib.exporter_binary = lambda: wrapper
        try:
            port, other = 23441, 23442
            cfg = config(port, other, "{keepalive: %s}" % KEEPALIVE)
            exp = Exporter(ns, cfg, wait_ready=False)
            exp.start()
            rc = exp.proc.wait(timeout=15)
            text = exp.stderr_text(20)
            exp._tmp.cleanup()
            want(rc == 1, "want exit 1 at start, got %s:\n%s" % (rc, text))
            want("asks for enforce" in text and ("CAP_BPF" in text or "without BPF" in text), text)
            print("start refused:", [l for l in text.splitlines() if "enforce" in l][-1])
            plain = "services:\n  - {name: plain, direction: outbound, ports: [%d]}\n" % other
            with Exporter(ns, plain) as exp:
                with open(exp.config_path, "w") as f:
                    f.write(cfg)
                exp.proc.send_signal(signal.SIGHUP)
                s = exp.wait_for(lambda s: s.value("halfopen_config_last_reload_successful") == 0,
                                 5, "the reload refused")
                t = s.value("halfopen_last_collection_timestamp_seconds")
                exp.wait_for(lambda s: s.value("halfopen_last_collection_timestamp_seconds") > t,
                             5, "collections go on")
                text = exp.stderr_text(20)
                want("restart" in text and "keeping the previous configuration" in text, text)
                want(exp.samples().value("halfopen_established_sockets", tcp_service="pool",
                                         direction="outbound") is None, "old config kept")
        finally:
            testlib.exporter_binary = real


REDIS_CLIENT = r"""
import sys, threading, time, redis
pools = {}
for name, port in (("pool", int(sys.argv[1])), ("plain", int(sys.argv[2]))):
    r = redis.Redis(host=sys.argv[3], port=port)   # redis-py's defaults: no timeouts
    conns = [r.connection_pool.get_connection("PING") for _ in range(%d)]
    for c in conns:
        c.send_command("PING"); c.read_response()
    for c in conns:
        r.connection_pool.release(c)
    pools[name] = r
print("READY", flush=True)
sys.stdin.readline()
def request(name, r):
    t0 = time.monotonic()
    try:
        r.get("k")
        out = "ok"
    except (redis.ConnectionError, redis.TimeoutError) as e:
        out = type(e).__name__
    print("RESULT service=%%s outcome=%%s after=%%.3f" %% (name, out, time.monotonic() - t0),
          flush=True)
for name, r in pools.items():
    threading.Thread(target=request, args=(name, r), daemon=True).start()
time.sleep(3600)
""" % N


def redis_server(ns, port, d):
    return ns.popen(["redis-server", "--port", str(port), "--bind", SRV, "--save", "",
                     "--appendonly", "no", "--dir", d, "--protected-mode", "no"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Debian's python3-redis is installed for Debian's python3, which may not
# be the python3 first on PATH.
DEBIAN_PYTHON = "/usr/bin/python3"


def redis_missing():
    """Why the redis scenario cannot run here, or None."""
    if not shutil.which("redis-server"):
        return "redis-server not installed"
    if subprocess.run([DEBIAN_PYTHON, "-c", "import redis"], capture_output=True).returncode:
        return "python3-redis not installed for " + DEBIAN_PYTHON
    return None


def redis():
    with tempfile.TemporaryDirectory(prefix="ho-enfr-") as d, Netns("enfr", veth=True) as ns:
        port, other = 23451, 23452
        procs = [redis_server(ns.peer_ns, p, d) for p in (port, other)]
        for p in (port, other):
            wait_until(lambda: ns.peer_ns.exec(["redis-cli", "-h", SRV, "-p", str(p), "ping"],
                                               check=False).stdout.strip() == "PONG", 5,
                       "redis-server on %d" % p)
        cli = Peer(ns, [DEBIAN_PYTHON, "-c", REDIS_CLIENT, str(port), str(other), SRV])
        cli.expect("READY")
        with Exporter(ns, config(port, other, "{keepalive: %s}" % KEEPALIVE)) as exp:
            exp.wait_for(lambda s: counter(s, "halfopen_enforced_sockets_total") == N, 10,
                         "keepalive enforced on redis-py's pool")
            for p in (port, other):
                vanish(ns.peer_ns, p)
            for pr in procs:
                os.killpg(pr.pid, signal.SIGKILL)
                pr.wait()
            exp.wait_for(lambda s: not rows(ns, port), IDLE + CNT * INTVL + INTERVAL + 2,
                         "the pool's dead connections reset by keepalive")
            want(len(rows(ns, other)) == N, "plain's stale connections stay:\n%s" % ns.ss_text())
            # The application now needs redis: one GET on each pool.
            cli.send("go")
            r = cli.expect("RESULT", timeout=5)
            print("redis-py GET on the enforced pool:", r)
            want(r["service"] == "pool" and r["outcome"] == "ConnectionError" and
                 float(r["after"]) < 1.0,
                 "the enforced pool should fail fast (the application can fail over): %r"
                 % cli.history)
            cli.expect_none("RESULT", 3, "the control without enforce answered")
            hung = [x for x in rows(ns, other) if x.get("timer") == "on"]
            want(len(hung) == 1, "the control's GET should hang, retransmitting:\n%s"
                 % ns.ss_text())
            print("redis-py GET on the pool without enforce: still hanging after 3s "
                  "(retransmitting; ~15 min with tcp_retries2=15)")


def on_read_path(path, scenario):
    """scenario with the exporter forced to --enforce.read-path=path."""
    def run():
        global READ_PATH, WANT_PATH
        READ_PATH = WANT_PATH = path
        scenario()
    return run


def postgres_missing():
    """Why the postgres scenario cannot run here, or None."""
    if not os.path.isdir("/usr/lib/postgresql"):
        return "postgresql not installed"
    if subprocess.run([DEBIAN_PYTHON, "-c", "import psycopg2"], capture_output=True).returncode:
        return "python3-psycopg2 not installed for " + DEBIAN_PYTHON
    return None


SCENARIOS = {f.__name__: f for f in (keepalive_dead, keepalive_live, user_timeout, dry_run, no_cap,
                                     reload, netns_all, redis, keepalive_default, postgres,
                                     pass_skip, on_connect)}
# The scenarios whose outcome depends on how the options are read, again
# on the other read path (this kernel has both; auto loads fields).
for _f in (keepalive_dead, keepalive_live, user_timeout, keepalive_default, on_connect):
    SCENARIOS[_f.__name__ + "_getsockopt"] = on_read_path("getsockopt", _f)

if __name__ == "__main__":
    if sys.argv[1:] == ["redis"] and redis_missing():
        testlib.skip("redis: " + redis_missing())
    if sys.argv[1:] == ["postgres"] and postgres_missing():
        testlib.skip("postgres: " + postgres_missing())
    sys.exit(main_scenarios(SCENARIOS, SCENARIO_TIMEOUT))
