#!/usr/bin/env python3
"""guest: the exporter checks inside a booted kernel (tests/kernels/run.py
boots it; see vm.py). Runs chrooted into the host's root (read-only 9p),
as root, in the guest's own kernel.

    python3 guest.py SPEC.json

SPEC: {"source_root", "exporter", "modroot", "modules", "checks": [{"id", "kind", "read_path"}]}.
Each check reuses the scenario harnesses (tests/scenario, tests/enforce,
tests/suspects: testlib's namespaces, peers, Exporter and `ss -tnoi`
oracle). Results go to results.json next to SPEC, rewritten after each
check: {"release", "modules": [...], "checks": {id: {"ok", "seconds",
"message", "reason"}}}. "reason" is the exporter's own words when it
refused enforce at start.
"""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SPEC_PATH = sys.argv[1]
with open(SPEC_PATH) as f:
    SPEC = json.load(f)
SRC = SPEC["source_root"]
OUT = os.path.join(os.path.dirname(SPEC_PATH), "results.json")
os.environ.update(HALFOPEN_EXPORTER=SPEC["exporter"], HALFOPEN_SOURCE_ROOT=SRC,
                  HALFOPEN_BUILD_ROOT=tempfile.mkdtemp(prefix="ho-build-"))
sys.path.insert(0, os.path.join(SRC, "tests", "scenario"))
import testlib  # noqa: E402
from testlib import Exporter, Netns, ScenarioFailure, ss  # noqa: E402

CHECK_TIMEOUT = 150  # seconds per check: 2-4x the host's under TCG, more when loaded


def load(rel, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(SRC, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


scenario_run = load("tests/scenario/run.py", "scenario_run")
enforce_run = load("tests/enforce/run.py", "enforce_run")
suspects_run = load("tests/suspects/run.py", "suspects_run")

# A peer's first line waits for python3 to start: ~1 s on the host, up to
# ~10 s under TCG on a busy machine. Only that first wait is stretched; every
# later expectation keeps the harness's own timeout.
PEER_START_TIMEOUT = 30
_peer_expect = testlib.Peer.expect


def _expect_first_line_late(self, word, timeout=5):
    if not self.history:
        timeout = max(timeout, PEER_START_TIMEOUT)
    return _peer_expect(self, word, timeout=timeout)


testlib.Peer.expect = _expect_first_line_late

# destroy_after's bound (tests/suspects/run.py) is the exporter's cadence plus
# one RTO, as measured on the host. In the emulated guest the client's
# wake-up and report of the error lag by up to a few hundred ms more (seen:
# 4.47 s against 4.41 s); the allowance is for the emulator, said on each run.
TCG_LAG = 0.5
_destroy_bound = suspects_run.destroy_bound


def _destroy_bound_tcg(period, dur):
    b = _destroy_bound(period, dur)
    print("destroy_after bound %.2fs + %.1fs for the emulated guest's scheduling" % (b, TCG_LAG))
    return b + TCG_LAG


suspects_run.destroy_bound = _destroy_bound_tcg


def want(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


def with_read_path(path):
    """tests/enforce's exporter with --enforce.read-path=path, and the
    path halfopen_enforce_info must then show (None: the default, auto,
    which must load fields wherever the iterator runs). Exporters without
    the flag: nothing to set."""
    if not hasattr(enforce_run, "READ_PATH"):
        return
    enforce_run.READ_PATH = path or "auto"
    enforce_run.WANT_PATH = path or "fields"


# ------------------------------------------------------------------ checks

def syn_sent():
    """A connect() whose SYNs are dropped: retransmitting, and its age is
    the socket's own (first sighting), never the time since boot."""
    with Netns("ksyn") as ns:
        port = ns.free_port()
        ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP")
        cfg = "services:\n  - {name: syn, direction: outbound, ports: [%d]}\n" % port
        with Exporter(ns, cfg) as exp:
            s = ns.socket()
            s.setblocking(False)
            t0 = time.monotonic()
            s.connect_ex(("127.0.0.1", port))
            exp.wait_for(lambda x: x.value("halfopen_retransmitting_sockets", tcp_service="syn",
                                           direction="outbound") == 1, 15, "SYN-SENT retransmitting")
            time.sleep(max(0.0, 4.0 - (time.monotonic() - t0)))
            ta = time.monotonic() - t0
            x = exp.samples()
            tb = time.monotonic() - t0
            rows = [r for r in ss(ns, "dport = :%d" % port) if r["state"] == "SYN-SENT"]
            want(len(rows) == 1 and rows[0]["timer"] == "on",
                 "ss: want one SYN-SENT with timer on:\n%s" % ns.ss_text())
            un = x.value("halfopen_longest_unanswered_seconds", tcp_service="syn",
                         direction="outbound")
            hang = x.value("halfopen_longest_hanging_seconds", tcp_service="syn",
                           direction="outbound")
            uptime = float(open("/proc/uptime").read().split()[0])
            print("SYN-SENT %.1fs old: unanswered %.2fs, hanging %.2fs (uptime %.0fs); ss: %s" % (
                ta, un, hang, uptime, rows[0]["raw"].splitlines()[0].strip()))
            # At most the socket's age; at least its age minus one interval,
            # the collection's lag and one RTO.
            want(un is not None and ta - 1.0 - 2.5 <= un <= tb + 0.5,
                 "SYN-SENT unanswered %s for a %.1f-%.1fs old connect()" % (un, ta, tb))
            want(hang is not None and 0 < hang <= tb + 0.5,
                 "SYN-SENT hanging %s for a %.1fs old connect()" % (hang, tb))
            s.close()


def netns_all():
    """--collector.netns=all: a connection in a second namespace is counted
    (the discovery sees only it: a fake --path.procfs linking to it)."""
    with tempfile.TemporaryDirectory(prefix="ho-kns-") as d, Netns("kns", veth=True) as ns:
        os.makedirs(os.path.join(d, "proc", "4242", "ns"))
        os.symlink("/run/netns/" + ns.peer_ns.name, os.path.join(d, "proc", "4242", "ns", "net"))
        os.makedirs(os.path.join(d, "netns"))
        port = ns.peer_ns.free_port()
        srv = ns.peer_ns.peer("server", "--addr", "127.0.0.1", "--port", port)
        srv.expect("LISTEN")
        cli = ns.peer_ns.peer("client", "--addr", "127.0.0.1", "--port", port)
        cli.expect("CONNECTED")
        cfg = ("services:\n  - {name: other-client, direction: outbound, ports: [%d]}\n"
               "  - {name: other-server, direction: inbound, ports: [%d]}\n" % (port, port))
        args = ["--collector.netns=all", "--path.procfs=" + os.path.join(d, "proc"),
                "--collector.netns.dir=" + os.path.join(d, "netns")]
        with Exporter(ns, cfg, extra_args=args) as exp:
            x = exp.wait_for(lambda x: x.value("halfopen_established_sockets",
                                               tcp_service="other-client",
                                               direction="outbound") == 1 and
                             x.value("halfopen_established_sockets", tcp_service="other-server",
                                     direction="inbound") == 1, 15,
                             "the connection in %s counted" % ns.peer_ns.name)
            want(x.value("halfopen_collection_errors_total") == 0, x.report())
            print("netns=all: the second namespace's connection counted on both ends")
        own = [r for r in ss(ns, "dport = :%d or sport = :%d" % (port, port))]
        want(not own, "the connection leaked into the exporter's namespace: %r" % own)


def enforce_refused():
    """A config with enforce is refused at start, with the exporter's reason."""
    with Netns("kenr", veth=True) as ns:
        cfg = enforce_run.config(23491, 23492, "{keepalive: %s}" % enforce_run.KEEPALIVE)
        exp = getattr(enforce_run, "Exporter", Exporter)(ns, cfg, wait_ready=False)
        exp.start()
        try:
            rc = exp.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            exp.stop(check=False)
            raise ScenarioFailure("the exporter started with enforce (want a refusal):\n%s"
                                  % exp.stderr_text(20))
        text = exp.stderr_text(20)
        exp._tmp.cleanup()
        lines = [l for l in text.splitlines() if "asks for enforce" in l and "err=" in l]
        want(rc == 1 and lines, "want exit 1 and the reason at start, got %s:\n%s" % (rc, text))
        return lines[-1].strip(" |")


CHECKS = {
    "collection": lambda: scenario_run.SCENARIOS["seed"](),
    "syn_sent": syn_sent,
    "netns_all": netns_all,
    "destroy_after": lambda: suspects_run.SCENARIOS["remediation"](),
    "enforce_keepalive": enforce_run.keepalive_dead,
    "enforce_keepalive_live": enforce_run.keepalive_live,
    "enforce_user_timeout": enforce_run.user_timeout,
    "enforce_netns_all": enforce_run.netns_all,
    "enforce_on_connect": lambda: enforce_run.on_connect(quick=True),
    "enforce_refused": enforce_refused,
}


def modules_loaded():
    with open("/proc/modules") as f:
        return sorted(l.split()[0] for l in f)


def main():
    testlib.install_signal_handlers()

    def on_alarm(_sig, _frame):
        raise ScenarioFailure("check exceeded %ds" % CHECK_TIMEOUT)
    signal.signal(signal.SIGALRM, on_alarm)
    res = {"release": os.uname().release, "checks": {}}
    cp = subprocess.run(["modprobe", "-d", SPEC["modroot"], "-a"] + SPEC["modules"], capture_output=True, text=True)
    res["modprobe"] = cp.stderr.strip()
    res["modules"] = modules_loaded()
    for c in SPEC["checks"]:
        with_read_path(c.get("read_path"))
        print("HOK check %s ...%s" % (c["id"], " (--enforce.read-path=%s)" % c["read_path"]
                                      if c.get("read_path") else ""), flush=True)
        t0 = time.monotonic()
        r = {"ok": False, "message": "", "reason": None}
        try:
            signal.alarm(CHECK_TIMEOUT)
            r["reason"] = CHECKS[c["kind"]]()
            r["ok"] = True
        except ScenarioFailure as e:
            r["message"] = str(e)
        except BaseException:
            r["message"] = traceback.format_exc()
        finally:
            signal.alarm(0)
        r["seconds"] = round(time.monotonic() - t0, 1)
        print("HOK check %s %s (%.1fs)%s" % (c["id"], "ok" if r["ok"] else "FAILED", r["seconds"],
                                             "" if r["ok"] else ": " + r["message"]), flush=True)
        res["checks"][c["id"]] = r
        with open(OUT + ".tmp", "w") as f:
            json.dump(res, f)
        os.replace(OUT + ".tmp", OUT)
    with_read_path(None)


if __name__ == "__main__":
    main()
