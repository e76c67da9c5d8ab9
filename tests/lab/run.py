#!/usr/bin/env python3
"""The fault lab: halfopen_exporter against real servers and their real
pooling clients (Debian packages), with the faults that leave half-open
connections in production (see net.py), a healthy control leg next to them.

    tests/lab/run.py redis|postgres|nginx|pgbouncer [--json FILE]   one (root)
    tests/lab/run.py --write-docs         all of them, then docs/lab.md

For one software: a client namespace runs the exporter (1 s collections,
stale_after 4 s) and one application process per leg (tests/lab/app.py:
the real pool doing a request every 0.5 s); each leg has its own server. All
faults are injected at once, each on its own leg; /metrics is then
scraped every 0.5 s for OBSERVE seconds. Fails when a fault's class is not
reported in time, when a fault leg raises anything before its fault, or
when the control leg raises anything at all. Exit 77 when the packages
are missing.

The client namespace's keepalive timers are short (tcp_keepalive_time 2 s,
intvl 1 s, probes 4; every pool here turns SO_KEEPALIVE on), so an idle
healthy connection is verified every 2 s and never stale; nothing else in
the kernel is tuned: a hang lasts what the default tcp_retries2 makes it.
"""
import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
sys.path.insert(0, HERE)
import testlib  # noqa: E402
from testlib import (Exporter, Netns, Peer, ScenarioFailure, SOURCE_ROOT,  # noqa: E402
                     install_signal_handlers, ss)
import net  # noqa: E402
import servers  # noqa: E402

APP = os.path.join(HERE, "app.py")
APP_PYTHON = "/usr/bin/python3"      # Debian's, with python3-redis and python3-psycopg2
STALE_AFTER = 4.0
HEALTHY = 5.0       # seconds of healthy traffic checked before the faults
OBSERVE = 16.0      # seconds watched after the faults
CAP = 12.0          # a request still running after this is a hang
DETECT_MAX = 6.0    # the fault's class must show within this (1 s collections)
CLASSES = ("retransmitting", "keepalive_probing", "zero_window", "stale", "close_wait")
KEEPALIVE = {"tcp_keepalive_time": 2, "tcp_keepalive_intvl": 1, "tcp_keepalive_probes": 4}
LEGS = ("control",) + net.FAULTS
# Legs whose application sets a client timeout (redis only): name -> (fault, seconds).
TIMEOUT_LEGS = {"crash-timeout": ("crash", 2.0)}
# halfopen_longest_unanswered_seconds (and _hanging_) can exceed the time since the fault
# by no more than the last answer's age at the fault: a keepalive interval
# (2 s) or a request interval (0.5 s), plus collection lag.
UNANSWERED_SLACK = 4.0# Bytes per request of the stall leg from just before its server stops:
# more than tcp_rmem's maximum (6 MiB), so the server's receive buffer
# fills however far autotuning grew it.
UPLOAD = 8 << 20
# What each fault must be reported as (the "right class").
EXPECT = {"crash": "retransmitting", "link": "retransmitting", "nat": "retransmitting",
          "stall": "zero_window", "reboot": None}
SOFTWARE = {
    "redis": {"what": "redis-server 7 / redis-py ConnectionPool", "app": "redis",
              "module": "redis", "legs": LEGS + tuple(TIMEOUT_LEGS)},
    "postgres": {"what": "PostgreSQL 15 / psycopg2 ThreadedConnectionPool", "app": "postgres",
                 "module": "psycopg2", "legs": LEGS},
    "nginx": {"what": "nginx upstream keepalive -> nginx backend", "app": "http", "module": None,
              "legs": LEGS},
    "pgbouncer": {"what": "pgbouncer (transaction pooling) -> PostgreSQL 15", "app": "postgres",
                  "module": "psycopg2", "legs": LEGS},
}


class Skip(Exception):
    pass


def metric(short):
    return "halfopen_%s_sockets" % short


def check_packages(sw):
    need = {"redis": ["redis-server"], "postgres": ["runuser"], "nginx": ["nginx"],
            "pgbouncer": ["runuser", "pgbouncer"]}[sw] + ["conntrack"]
    for prog in need:
        if subprocess.run(["sh", "-c", "command -v " + prog], capture_output=True).returncode:
            raise Skip("%s not installed (scripts/deps.sh test)" % prog)
    if sw in ("postgres", "pgbouncer") and not os.path.isdir("/usr/lib/postgresql"):
        raise Skip("postgresql not installed (scripts/deps.sh test)")
    mod = SOFTWARE[sw]["module"]
    if mod and subprocess.run([APP_PYTHON, "-c", "import " + mod], capture_output=True).returncode:
        raise Skip("%s cannot import %s (python3-%s)" % (APP_PYTHON, mod, mod))


def config(sw, legs):
    port = {"redis": 6379, "postgres": 5432, "nginx": 8080, "pgbouncer": 5432}[sw]
    rows = ["defaults: {stale_after: %gs}" % STALE_AFTER, "services:"]
    for leg in legs:
        rows.append('  - {name: %s, direction: outbound, ports: [%d], cidrs: ["%s/32"]}' % (
            service(sw, leg), port, leg.addr))
    return "\n".join(rows) + "\n"


def service(sw, leg):
    return "%s-%s" % (sw, leg.name)


def start_servers(sw, client, legs, tmp):
    """Start every leg's server (and the nginx or pgbouncer in front of it
    in the client namespace: the pooling client); the (host, port) each
    application talks to, by leg name."""
    template = servers.pg_template(tmp) if sw in ("postgres", "pgbouncer") else None
    targets = {}
    for leg in legs:
        d = os.path.join(tmp, leg.name)
        if sw == "redis":
            leg.server = servers.Redis(leg.ns, leg.addr, d)
        elif sw in ("postgres", "pgbouncer"):
            leg.server = servers.Postgres(leg.ns, leg.addr, d, template)
        else:
            leg.server = servers.Nginx(leg.ns, leg.addr, d)
        leg.server.start()
    for leg in legs:
        servers.wait_listen(client, leg.addr, leg.server.port, leg.server)
        targets[leg.name] = (leg.addr, leg.server.port)
        front_dir = os.path.join(tmp, leg.name + "-front")
        if sw == "nginx":
            front = servers.Nginx(client, "127.0.0.1", front_dir, port=client.free_port(),
                                  upstream=leg.addr)
        elif sw == "pgbouncer":
            front = servers.PgBouncer(client, "127.0.0.1", front_dir, client.free_port(), leg.addr)
        if sw in ("nginx", "pgbouncer"):
            leg.front = front
            front.start()
            servers.wait_listen(client, "127.0.0.1", front.port, front)
            targets[leg.name] = ("127.0.0.1", front.port)
    return targets


def drain(peer):
    """Every line the application printed so far (kept in peer.history)."""
    while True:
        try:
            line = peer.lines.get_nowait()
        except queue.Empty:
            return peer.history
        if line is not None:
            peer.history.append(line)


def parse_events(lines):
    ev = []
    for line in lines:
        parts = line.split()
        if not parts or parts[0] not in ("REQ", "HANG"):
            continue
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        e = {"kind": parts[0], "start": float(kv["start"])}
        if parts[0] == "REQ":
            e.update(dur=float(kv["dur"]), ok=kv["ok"] == "1", err=kv.get("err"),
                     msg=kv.get("msg", "").replace("_", " "))
        else:
            e["cap"] = float(kv["cap"])
        ev.append(e)
    return ev


def app_impact(events, t_fault):
    """What the application saw: the first request running at or after the
    fault that failed or hung (one that slipped through while the fault was
    being set up is not it), and when requests succeeded again."""
    after = [e for e in events if e["start"] + e.get("dur", e.get("cap", 0)) >= t_fault]
    if not after:
        return {"text": "no request finished", "hang": None}
    first = next((e for e in after if e["kind"] == "HANG" or not e["ok"]), after[0])
    after = after[after.index(first):]
    if first["kind"] == "HANG":
        return {"text": "hangs > %g s" % first["cap"], "hang": first["cap"], "error": None}
    res = {"hang": first["dur"], "error": None if first["ok"] else first["err"], "recovered": first["ok"]}
    if first["ok"]:
        res["text"] = "no error (%.2f s)" % first["dur"]
        return res
    text = "%s after %.2f s" % (first["err"], first["dur"])
    if first["msg"]:
        text += ' ("%s")' % first["msg"][:60]
    for e in after[1:]:
        if e["kind"] == "HANG":
            text += "; then hangs > %g s" % e["cap"]
            break
        if e["ok"]:
            text += "; ok again at +%.1f s" % (e["start"] + e["dur"] - t_fault)
            res["recovered"] = True
            break
    else:
        errs = {e["err"] for e in after[1:]}
        if errs:
            text += "; then %d more failed (%s), none succeeded" % (len(after) - 1, ", ".join(sorted(errs)))
    res["text"] = text
    return res


class Watch:
    """Per-service history of the classes and established count."""

    def __init__(self, names):
        self.first = {n: {} for n in names}      # class -> first time > 0 (s after fault)
        self.max = {n: {c: 0 for c in CLASSES} for n in names}
        self.est = {n: [] for n in names}        # (t rel, established)
        self.last = {n: {} for n in names}       # class -> value at the last scrape
        self.unanswered = {n: (0, None) for n in names}  # (max longest_unanswered, t rel then)
        self.hanging = {n: (0, None) for n in names}     # (max longest_hanging, t rel then)

    def add(self, s, svc, t_rel):
        est = s.value(metric("established"), tcp_service=svc, direction="outbound")
        u = s.value("halfopen_longest_unanswered_seconds", tcp_service=svc, direction="outbound") or 0
        if u > self.unanswered[svc][0]:
            self.unanswered[svc] = (u, round(t_rel, 2))
        h = s.value("halfopen_longest_hanging_seconds", tcp_service=svc, direction="outbound") or 0
        if h > self.hanging[svc][0]:
            self.hanging[svc] = (h, round(t_rel, 2))
        self.est[svc].append((round(t_rel, 2), est))
        for c in CLASSES:
            v = s.value(metric(c), tcp_service=svc, direction="outbound") or 0
            self.max[svc][c] = max(self.max[svc][c], v)
            self.last[svc][c] = v
            if v > 0 and c not in self.first[svc]:
                self.first[svc][c] = round(t_rel, 2)


def run_software(sw):
    check_packages(sw)
    t_begin = time.monotonic()
    client = Netns("lab")
    legs = []
    tmp = tempfile.mkdtemp(prefix="ho-lab-")
    os.chmod(tmp, 0o755)
    try:
        client.create()
        for k, v in KEEPALIVE.items():
            client.exec(["sysctl", "-qw", "net.ipv4.%s=%d" % (k, v)])
        for i, name in enumerate(SOFTWARE[sw]["legs"], 1):
            fault = TIMEOUT_LEGS[name][0] if name in TIMEOUT_LEGS else name
            legs.append(net.Leg(client, i, name, None if name == "control" else fault))
        targets = start_servers(sw, client, legs, tmp)
        with Exporter(client, config(sw, legs), interval="1s") as exp:
            return observe(sw, client, legs, targets, exp, t_begin)
    finally:
        for leg in legs:
            leg.destroy()
        client.destroy()
        subprocess.run(["rm", "-rf", tmp])


def observe(sw, client, legs, targets, exp, t_begin):
    apps = {}
    for leg in legs:
        host, port = targets[leg.name]
        args = [APP_PYTHON, APP, SOFTWARE[sw]["app"], "--host", host, "--port", port, "--cap", CAP]
        if leg.name in TIMEOUT_LEGS:
            args += ["--timeout", TIMEOUT_LEGS[leg.name][1]]
        apps[leg.name] = Peer(client, args)
    for leg in legs:
        apps[leg.name].expect("READY", timeout=30)
    names = [service(sw, l) for l in legs]
    exp.wait_for(lambda s: all((s.value(metric("established"), tcp_service=n, direction="outbound") or 0) >= 1
                               for n in names), timeout=10, what="every leg's pool established")
    # Healthy phase: nothing may be raised on any leg.
    pre = Watch(names)
    t0 = time.time()
    while time.time() - t0 < HEALTHY:
        s = exp.samples()
        for n in names:
            pre.add(s, n, time.time() - t0)
        time.sleep(0.5)
    est_before = {n: pre.est[n][-1][1] for n in names}
    for leg in legs:
        ev = parse_events(drain(apps[leg.name]))
        if not ev or not all(e.get("ok") for e in ev):
            raise ScenarioFailure("%s: the application's requests failed before any fault:\n  %s" % (
                leg.name, "\n  ".join(apps[leg.name].history[-5:])))
    bad = ["%s: %s" % (n, pre.max[n]) for n in names if any(pre.max[n].values())]
    if bad:
        raise ScenarioFailure(exp.failure_report("healthy pools raised suspects before any fault:\n  "
                                                 + "\n  ".join(bad)))
    before = {leg.name: {(r["lport"]) for r in ss(client, "dst %s" % leg.addr) if r["state"] == "ESTAB"}
              for leg in legs}
    # Detection times and the application's requests count from when the
    # leg's fault began (a request started before it is not the
    # application meeting the fault, even when it ends after).
    # The reboot, slow to inject (kill, ss -K, restart), goes first so the
    # others are watched from the moment they begin.
    t_fault, inject = {}, {}
    for leg in sorted(legs, key=lambda leg: leg.fault != "reboot"):
        if leg.fault:
            if leg.fault == "stall":
                apps[leg.name].send("payload %d" % UPLOAD)
                apps[leg.name].expect("PAYLOAD")
            t_fault[leg.name] = time.time()
            inject[leg.name] = leg.inject()
    t_ref = min(t_fault.values())
    post = Watch(names)
    gone = {}
    while time.time() - t_ref < OBSERVE:
        s = exp.samples()
        now = time.time()
        for leg in legs:
            post.add(s, service(sw, leg), now - t_fault.get(leg.name, t_ref))
        for leg in legs:
            if leg.fault == "reboot" and leg.name not in gone:
                still = {r["lport"] for r in ss(client, "dst %s" % leg.addr)} & before[leg.name]
                if not still:
                    gone[leg.name] = round(time.time() - t_fault[leg.name], 2)
        time.sleep(0.5)
    for leg in legs:
        print("ss -tnoi dst %s (%s, end of the window):\n%s" % (
            leg.addr, leg.name, client.ss_text("dst %s" % leg.addr)))
        print("application (%s), last lines:\n  %s" % (leg.name, "\n  ".join(drain(apps[leg.name])[-3:])))
        if getattr(leg, "front", None) and leg.fault:
            print("%s (%s), last log lines:\n%s" % (type(leg.front).__name__, leg.name, leg.front.log_tail(4)))
        if leg.fault == "reboot":  # the lab's own check: the server came back
            servers.wait_listen(client, leg.addr, leg.server.port, leg.server, timeout=5)
    results = {"software": sw, "what": SOFTWARE[sw]["what"], "legs": {}}
    for leg in legs:
        n = service(sw, leg)
        est = [e for _, e in post.est[n]]
        drop = next((t for t, e in post.est[n] if e is not None and e < est_before[n]), None)
        r = {"fault": leg.fault, "inject": inject.get(leg.name),
             "client_timeout": TIMEOUT_LEGS.get(leg.name, (None, None))[1], "first": post.first[n],
             "max": post.max[n], "last": post.last[n],
             "unanswered_max": post.unanswered[n][0], "unanswered_at": post.unanswered[n][1],
             "hanging_max": post.hanging[n][0], "hanging_at": post.hanging[n][1],
             "est_before": est_before[n],
             "est_min": min(e for e in est if e is not None), "est_drop": drop,
             "old_conns_gone": gone.get(leg.name),
             "app": app_impact(parse_events(drain(apps[leg.name])), t_fault.get(leg.name, t_ref))}
        results["legs"][leg.name] = r
    results["control_false_suspects"] = int(max(max(pre.max[service(sw, legs[0])].values()),
                                                 max(post.max[service(sw, legs[0])].values())))
    results["seconds"] = round(time.monotonic() - t_begin, 1)
    return results


def verdicts(res):
    """Lines of what went wrong in res (empty: pass)."""
    bad = []
    if res["control_false_suspects"]:
        bad.append("control leg raised %d suspect socket(s): %s" % (
            res["control_false_suspects"], res["legs"]["control"]["max"]))
    for name, r in res["legs"].items():
        want = EXPECT.get(r["fault"])
        if want:
            t = r["first"].get(want)
            if t is None or t > DETECT_MAX:
                bad.append("%s: %s not reported within %gs (first seen: %s)" % (name, want, DETECT_MAX, r["first"]))
        for what in ("unanswered", "hanging"):
            at, top = r[what + "_at"], r[what + "_max"]
            if at is not None and top > at + UNANSWERED_SLACK:
                bad.append("%s: halfopen_longest_%s_seconds was %g %.1f s after the fault: the "
                           "peer answered until the fault, so at most ~%g" % (
                               name, what, top, at, at + UNANSWERED_SLACK))
        if want == "retransmitting" and not r["hanging_max"]:
            bad.append("%s: a request hangs but halfopen_longest_hanging_seconds stayed 0" % name)
        if r["fault"] == "stall" and r["max"]["retransmitting"]:
            bad.append("stall: a peer that stops reading (and ACKs zero-window probes) was counted "
                       "as retransmitting: %s" % r["max"])
        if r["fault"] == "reboot":
            if r["old_conns_gone"] is None:
                bad.append("reboot: the pre-fault connections were not reset within %gs" % OBSERVE)
            # A probe sent while the host was down may be seen unanswered
            # for a moment; once it answers with RST nothing may remain.
            if any(r["last"].values()):
                bad.append("reboot: suspects remain after the peer reset the old connections: %s" % r["last"])
    return bad


def main_one(sw, json_path):
    install_signal_handlers()
    t0 = time.monotonic()
    try:
        if os.geteuid() != 0:
            raise Skip("needs root (ip netns, iptables)")
        res = run_software(sw)
    except Skip as e:
        testlib.skip("%s: %s" % (sw, e))
    except ScenarioFailure as e:
        print("FAIL %s: %s" % (sw, e))
        print("0 passed, 1 failed")
        return 1
    for name, r in res["legs"].items():
        print("%-8s first seen %s; established %s -> min %s (drop at %s); old conns gone %s; "
              "longest unanswered max %g at %s; application: %s" % (
                  name, r["first"] or "nothing", r["est_before"], r["est_min"], r["est_drop"],
                  r["old_conns_gone"], r["unanswered_max"], r["unanswered_at"], r["app"]["text"]))
    print("control false suspects: %d; %.1f s" % (res["control_false_suspects"], res["seconds"]))
    bad = verdicts(res)
    res["failures"] = bad
    if json_path:
        with open(json_path, "w") as f:
            json.dump(res, f, indent=1)
    for line in bad:
        print("FAIL " + line)
    print("%s %s (%.1fs)" % ("FAIL" if bad else "PASS", sw, time.monotonic() - t0))
    print("0 passed, 1 failed" if bad else "1 passed, 0 failed")
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("software", nargs="?", choices=sorted(SOFTWARE))
    p.add_argument("--json", help="write the results here")
    p.add_argument("--write-docs", action="store_true", help="run every software, write docs/lab.md")
    a = p.parse_args()
    if a.write_docs:
        import report
        return report.write_docs(SOURCE_ROOT, os.path.abspath(__file__), sorted(SOFTWARE),
                                 OBSERVE, CAP, UPLOAD, UNANSWERED_SLACK, DETECT_MAX)
    if not a.software:
        p.error("name a software or --write-docs")
    return main_one(a.software, a.json)


if __name__ == "__main__":
    sys.exit(main())
