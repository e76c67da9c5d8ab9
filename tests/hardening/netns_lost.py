"""Suite `hardening`: the collector thread lost in a foreign network namespace.

collectors/netns.h: when returning home after setns() fails, the thread is
left in an unknown namespace and -ENOTRECOVERABLE says the caller must stop
collecting with it. The exporter's choice (docs/architecture.md, "When the
collector thread is lost"): exit non-zero, so systemd (Restart=on-failure)
or the kubelet starts a fresh process.

The real binary runs under `strace -e inject=setns:error=EBADF:when=N` in a
namespace of its own with --collector.netns=all, an empty --path.procfs and
its own --collector.netns.dir, so the only setns() calls are the ones this
test causes: once it serves /metrics, a second namespace appears in that
directory (a symlink to an `ip netns` pin);

- `refresh`: the refresh that opens it enters (call 1) and fails to come
  back (call 2);
- `enforce` (needs the bpf feature): with an enforce block in the config,
  the refresh enters and comes back (calls 1, 2), and the enforce pass of
  the same collection enters (3) and fails to come back (4);
- `conntrack`: with --collector.conntrack, the refresh enters and comes
  back (calls 1, 2), and the conntrack dump of the same collection enters
  (3) and fails to come back (4).

Each must end the process within a few intervals with a non-zero status
and one ERROR line naming where it happened, never keep collecting.
Needs root and strace. Prints `N passed, M failed`.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import hlib
from hlib import testlib

INTERVAL_MS = 200
LOST = "could not return to its own network namespace"
CASES = {
    # case: (failing setns call, the log's "during")
    "refresh": (2, "namespace discovery"),
    "enforce": (4, "enforce pass"),
    "conntrack": (4, "conntrack dump"),
}
CONFIG_ENFORCE = """\
services:
  - name: pool
    direction: outbound
    ports: [%d]
    enforce: {keepalive: {idle: 2s, interval: 1s, count: 3}}
"""


def run_case(r, case):
    call, during = CASES[case]
    work = tempfile.mkdtemp(prefix="ho-nsl-%d-" % os.getpid())
    with testlib.Netns("nsl") as ns, testlib.Netns("nsl2") as other:
        proc_dir = os.path.join(work, "proc")
        netns_dir = os.path.join(work, "netns")
        os.mkdir(proc_dir)
        os.mkdir(netns_dir)
        log_path = os.path.join(work, "log")
        port = ns.free_port()
        args = ["--collector.interval=%dms" % INTERVAL_MS,
                "--web.listen-address=127.0.0.1:%d" % port,
                "--collector.netns=all", "--path.procfs=" + proc_dir,
                "--collector.netns.dir=" + netns_dir]
        if case == "enforce":
            cfg = os.path.join(work, "config.yml")
            with open(cfg, "w") as f:
                f.write(CONFIG_ENFORCE % ns.free_port())
            # A pass after every collection: the new namespace holds no
            # socket, so the default would skip the pass that must fail.
            args += ["--config.file=" + cfg, "--enforce.pass-max-gap=0s"]
        if case == "conntrack":
            args.append("--collector.conntrack")
        env = dict(os.environ)
        # LeakSanitizer cannot run under ptrace (see netlink_faults.py).
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        with open(log_path, "w") as log:
            proc = ns.popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=setns",
                             "-e", "inject=setns:error=EBADF:when=%d" % call,
                             testlib.exporter_binary()] + args,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=env)

        def text():
            with open(log_path, errors="replace") as f:
                return f.read()

        try:
            # Serving, and collecting with only its own namespace.
            deadline = time.monotonic() + 20
            while True:
                st, out, err, _ = hlib.curl(ns, "http://127.0.0.1:%d/metrics" % port)
                s = testlib.parse_exposition(out) if st == 200 else None
                if s and (s.value("halfopen_collections_total") or 0) >= 3:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("%s: never served 3 collections (status %s, exit %s)"
                                         "\n%s" % (case, st, proc.poll(), text()[-3000:]))
                time.sleep(0.2)

            def running_before():
                if proc.poll() is not None or LOST in text():
                    raise AssertionError("exited before the namespace appeared\n" + text())

            r.check(case + ": running before the second namespace appears", running_before)
            os.symlink(os.path.join("/var/run/netns", other.name),
                       os.path.join(netns_dir, "peer"))
            t0 = time.monotonic()
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None
            took = time.monotonic() - t0
            log = text()
            lines = [ln for ln in log.splitlines() if LOST in ln]
            print("  %s: exit status %s %.2fs after the namespace appeared; log: %s" % (
                case, rc, took, lines))

            def exits_non_zero():
                if rc is None or rc == 0:
                    raise AssertionError("exit status %s, want non-zero\n%s" % (rc, log[-3000:]))

            def one_line_naming_where():
                if len(lines) != 1 or ("during=\"%s\"" % during) not in lines[0]:
                    raise AssertionError("want one line with during=%r\n%s" % (during, log[-3000:]))
                if "level=error" not in lines[0]:
                    raise AssertionError("not at ERROR: " + lines[0])

            r.check(case + ": exits non-zero", exits_non_zero)
            r.check(case + ": one ERROR line naming where", one_line_naming_where)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(work, ignore_errors=True)


def main():
    testlib.install_signal_handlers()
    case = sys.argv[1] if len(sys.argv) > 1 else ""
    if case not in CASES:
        print("usage: netns_lost.py %s" % "|".join(CASES))
        return 2
    if not shutil.which("strace"):
        print("strace missing (scripts/deps.sh test installs it)\n0 passed, 1 failed")
        return 1
    r = hlib.Runner()
    run_case(r, case)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
