"""Suite `hardening`: netlink faults injected into the real binary with strace.

The exporter runs under `strace -f -e inject=...` in a network namespace with
a known ESTABLISHED connection (server and client in the namespace):

- recvmsg fails with ENOBUFS (the kernel dropped part of a dump) for a run of
  calls, then sendmsg fails with EPERM for another run: two failure streaks;
- during each streak the connection is closed, so fresh counts would change:
  /metrics must keep the last good counts, halfopen_collection_errors_total
  must grow, the process must stay up;
- after each streak the counts catch up, and the log has exactly one error
  line per streak and one recovery line per streak (not one per interval);
- SIGTERM at the end: exit status 0.

Needs root and strace. Prints `N passed, M failed`.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import hlib
from hlib import testlib

INTERVAL_MS = 200
# About two recvmsg and one or two sendmsg per collection here; a failing
# collection stops at its first failing call, so each injected run is a
# streak of about that many collections. strace counts calls per thread, and
# the HTTP workers send responses with sendmsg too: the test scrapes at most
# every POLL_S so no worker reaches SEND_FAIL's range.
POLL_S = 0.3
RECV_FAIL = (41, 65)
SEND_FAIL = (80, 104)


class Traced:
    """The exporter under strace in ns; its own pid found as strace's child."""

    def __init__(self, ns):
        self.ns = ns
        self.dir = tempfile.mkdtemp(prefix="ho-nlf-")
        self.log_path = os.path.join(self.dir, "log")
        self.port = ns.free_port()
        self.log = open(self.log_path, "w")
        cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=sendmsg,recvmsg",
               "-e", "inject=recvmsg:error=ENOBUFS:when=%d..%d" % RECV_FAIL,
               "-e", "inject=sendmsg:error=EPERM:when=%d..%d" % SEND_FAIL,
               testlib.exporter_binary(), "--collector.interval=%dms" % INTERVAL_MS,
               "--web.listen-address=127.0.0.1:%d" % self.port]
        env = dict(os.environ)
        # LeakSanitizer cannot run under ptrace (an ASan build of the
        # exporter would abort at exit); the other suites check leaks.
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        self.proc = ns.popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                             stderr=subprocess.STDOUT, env=env)
        self.pid = self.exporter_pid()
        if self.pid is None:
            raise AssertionError("no exporter under strace:\n" + self.text())

    def exporter_pid(self, timeout=10):
        """strace's child that runs the exporter binary. Not merely its
        first child: strace may briefly have another one at start-up (seen
        under load), whose pid would then be gone at SIGTERM time."""
        want = os.path.realpath(testlib.exporter_binary())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                kids = []
            for k in kids:
                try:
                    if os.path.realpath("/proc/%d/exe" % k) == want:
                        return k
                except OSError:
                    pass
            time.sleep(0.05)
        return None

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def scrape(self):
        deadline = time.monotonic() + 10
        while True:
            st, out, err, _ = hlib.curl(self.ns, "http://127.0.0.1:%d/metrics" % self.port)
            # 0: not listening yet (the first scrape can beat the start,
            # ASan and strace slow it); 503: before the first collection.
            if st not in (0, 503) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if st != 200:
            raise AssertionError("scrape: %d %s\n%s" % (st, err, self.text()[-2000:]))
        return testlib.parse_exposition(out)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def established(s, port_service):
    v = s.value("halfopen_established_sockets", tcp_service=port_service, direction="inbound")
    return v or 0


def run_streak(r, t, ns, conn, svc, name):
    """Wait for a streak to begin, close the connection inside it, check the
    last good counts are served, then wait for the recovery."""
    before = t.scrape()
    errs0 = before.value("halfopen_collection_errors_total") or 0
    est0 = established(before, svc)
    deadline = time.monotonic() + 30
    s = before
    while (s.value("halfopen_collection_errors_total") or 0) == errs0:
        assert time.monotonic() < deadline, "%s: no collection error within 30s\n%s" % (
            name, t.text()[-2000:])
        time.sleep(POLL_S)
        s = t.scrape()
    # Inside the streak: what a fresh collection would change.
    for c in conn:
        c.close()
    conn.clear()
    time.sleep(INTERVAL_MS * 3 / 1000.0)
    s = t.scrape()
    held = established(s, svc)
    errs1 = s.value("halfopen_collection_errors_total")
    # Recovery: errors stop, counts catch up.
    deadline = time.monotonic() + 30
    while True:
        s = t.scrape()
        if established(s, svc) < est0:
            break
        assert time.monotonic() < deadline, "%s: no recovery within 30s\n%s" % (
            name, t.text()[-2000:])
        time.sleep(POLL_S)
    errs2 = s.value("halfopen_collection_errors_total")
    print("  %s: established before %d, during streak %d, after %d; errors_total %d -> %d -> %d"
          % (name, est0, held, established(s, svc), errs0, errs1, errs2))

    def kept():
        assert est0 >= 2 and held == est0, "last good counts not kept: %d then %d" % (est0, held)

    def counted():
        assert errs2 > errs0, (errs0, errs2)

    r.check(name + ": last good counts served during the streak", kept)
    r.check(name + ": errors counted", counted)
    r.check(name + ": still running", lambda: t.proc.poll() is None or (_ for _ in ()).throw(
        AssertionError("exited %s" % t.proc.returncode)))


def main():
    testlib.install_signal_handlers()
    if not shutil.which("strace"):
        print("strace missing (scripts/deps.sh test installs it)\n0 passed, 1 failed")
        return 1
    r = hlib.Runner()
    with testlib.Netns("nlf") as ns:
        lport = ns.free_port()
        svc = "listen_%d" % lport
        ls = ns.socket()
        ls.bind(("127.0.0.1", lport))
        ls.listen(16)
        t = Traced(ns)
        try:
            for streak, name in ((1, "recvmsg ENOBUFS"), (2, "sendmsg EPERM")):
                conn = []
                for _ in range(2):
                    c = ns.socket()
                    c.connect(("127.0.0.1", lport))
                    conn += [c, ls.accept()[0]]
                # Counted by a good collection before the streak starts.
                deadline = time.monotonic() + 20
                while established(t.scrape(), svc) < 2:
                    assert time.monotonic() < deadline, "connection never counted\n" + t.text()
                    time.sleep(POLL_S)
                run_streak(r, t, ns, conn, svc, name)
            log = t.text()
            fails = log.count("Collection failed")
            recov = log.count("Collections recovered")
            print("  log: %d 'Collection failed' lines, %d 'Collections recovered' lines" % (
                fails, recov))
            for line in log.splitlines():
                if "Collection failed" in line or "recovered" in line:
                    print("  | " + line)

            def one_line_per_streak():
                assert fails == 2 and recov == 2, log[-3000:]

            r.check("one error line and one recovery line per streak", one_line_per_streak)
            assert t.exporter_pid(timeout=1) == t.pid, "the exporter's pid changed"
            os.kill(t.pid, signal.SIGTERM)
            try:
                rc = t.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None

            def clean_exit():
                assert rc == 0, "exit status %s after SIGTERM\n%s" % (rc, t.text()[-2000:])

            r.check("exit status 0 on SIGTERM", clean_exit)
        finally:
            t.close()
            ls.close()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
