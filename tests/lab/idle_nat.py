#!/usr/bin/env python3
"""The fault lab's "NAT forgets an idle pool": --collector.conntrack with
real servers and their real pooling clients, nothing sent after the fault.

    tests/lab/idle_nat.py redis|postgres [--json FILE]      (root)

Two legs, each through its own router namespace that masquerades with
strict tracking (net.Leg's NAT leg): the fault leg and a healthy control.
On each, the application (tests/lab/app.py --idle) fills its pool with two
connections and then sends nothing. The exporter runs in the client
namespace (1 s collections) with --collector.conntrack and
--collector.netns=all over a private namespace directory holding only the
two routers and the two servers (an empty --path.procfs keeps the rest of
the machine out), so it reads the routers' conntrack tables, where the
flows live, and counts both ends: the client's sockets (outbound) and the
server's (inbound).

The fault: `conntrack -D` of the leg's flows on its router. Measured:
detection (the first scrape with halfopen_conntrack_forgotten_sockets 2 on
the fault leg's outbound service and 2 on its inbound one), then the first
request on the forgotten pool: it goes out only then, and hangs (past
--cap; the kernel would retry for ~15 min). The control leg's counts must
stay 0 at every scrape, and its request after the fault must succeed.
The client namespace keeps the kernel's keepalive timers (2 h): nothing
but the exporter notices the forgotten flows before the request.
Exit 77 when the packages are missing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
sys.path.insert(0, HERE)
from testlib import (Exporter, Netns, Peer, ScenarioFailure,  # noqa: E402
                     install_signal_handlers, run)
import net  # noqa: E402
import servers  # noqa: E402

APP = os.path.join(HERE, "app.py")
APP_PYTHON = "/usr/bin/python3"
INTERVAL = 1.0
DETECT_WAIT = 10.0                # give up waiting for the verdict after this
CAP = 6.0                         # the first request still running after this hangs
FORGOTTEN = "halfopen_conntrack_forgotten_sockets"
SOFTWARE = {"redis": ("redis", "redis-server 7 / redis-py ConnectionPool", 6379),
            "postgres": ("postgres", "PostgreSQL 15 / psycopg2 ThreadedConnectionPool", 5432)}


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


def config(sw, legs):
    port = SOFTWARE[sw][2]
    rows = ["defaults: {stale_after: 1h}", "services:"]
    for leg in legs:
        # Outbound from the client to the leg's server; inbound on the
        # server, from the router's outside address (masquerade).
        rows.append('  - {name: %s-%s, direction: outbound, ports: [%d], cidrs: ["%s/32"]}' % (
            sw, leg.name, port, leg.addr))
        rows.append('  - {name: %s-%s-server, direction: inbound, ports: [%d], cidrs: ["198.19.%d.1/32"]}' % (
            sw, leg.name, port, leg.index))
    return "\n".join(rows) + "\n"


def names(sw, leg):
    """The leg's (outbound, inbound) services."""
    return (("%s-%s" % (sw, leg.name), "outbound"), ("%s-%s-server" % (sw, leg.name), "inbound"))


def counts(s, sw, leg):
    return tuple(s.value(FORGOTTEN, tcp_service=n, direction=d) or 0 for n, d in names(sw, leg))


def run_idle_nat(sw):
    need = ["conntrack", "redis-server" if sw == "redis" else "runuser"]
    for prog in need:
        if subprocess.run(["sh", "-c", "command -v " + prog], capture_output=True).returncode:
            raise Skip("%s not installed (scripts/deps.sh test)" % prog)
    mod = "redis" if sw == "redis" else "psycopg2"
    if subprocess.run([APP_PYTHON, "-c", "import " + mod], capture_output=True).returncode:
        raise Skip("%s cannot import %s" % (APP_PYTHON, mod))
    client = Netns("labn")
    legs, mounts = [], []
    tmp = tempfile.mkdtemp(prefix="ho-labn-")
    os.chmod(tmp, 0o755)
    nsdir, proc = os.path.join(tmp, "netns"), os.path.join(tmp, "proc")
    os.mkdir(nsdir)
    os.mkdir(proc)
    try:
        client.create()
        for i, name in enumerate(("nat-idle", "control"), 1):
            legs.append(net.Leg(client, i, name, "nat"))
        template = servers.pg_template(tmp) if sw == "postgres" else None
        for leg in legs:
            d = os.path.join(tmp, leg.name)
            leg.server = (servers.Redis(leg.ns, leg.addr, d) if sw == "redis"
                          else servers.Postgres(leg.ns, leg.addr, d, template))
            leg.server.start()
        for leg in legs:
            servers.wait_listen(client, leg.addr, leg.server.port, leg.server)
            for ns in (leg.router, leg.ns):
                path = os.path.join(nsdir, ns.name)
                open(path, "w").close()
                run(["mount", "--bind", "/run/netns/" + ns.name, path])
                mounts.append(path)
            # wait_listen's probe connections are closed: flush their
            # entries so the table holds the pool's flows only.
            leg.router.exec(["conntrack", "-F"], check=False)
        with Exporter(client, config(sw, legs), interval="%gs" % INTERVAL,
                      extra_args=["--collector.conntrack", "--collector.netns=all",
                                  "--collector.netns.dir=" + nsdir, "--path.procfs=" + proc]) as exp:
            return observe(sw, client, legs, exp)
    finally:
        for path in mounts:
            run(["umount", path], check=False)
        for leg in legs:
            leg.destroy()
        client.destroy()
        subprocess.run(["rm", "-rf", tmp])


def observe(sw, client, legs, exp):
    fault, control = legs
    apps = {}
    for leg in legs:
        apps[leg.name] = Peer(client, [APP_PYTHON, APP, SOFTWARE[sw][0], "--host", leg.addr,
                                       "--port", leg.server.port, "--cap", CAP, "--idle"])
    for leg in legs:
        apps[leg.name].expect("READY", timeout=30)
    svc = {leg.name: "%s-%s" % (sw, leg.name) for leg in legs}
    s = exp.wait_for(lambda s: all((s.value("halfopen_established_sockets", tcp_service=n,
                                            direction=d) or 0) >= 2
                                   for l in legs for n, d in names(sw, l))
                     and (s.value("halfopen_conntrack_watched_sockets") or 0) >= 8,
                     timeout=15, what="both pools (2 connections each) established and watched at both ends")
    watched = s.value("halfopen_conntrack_watched_sockets")
    for leg in legs:
        check(counts(s, sw, leg) == (0, 0), "%s: forgotten before any fault: %s" % (leg.name, counts(s, sw, leg)))
    # The fault, on an idle pool: nothing has been sent since READY.
    cp = fault.router.exec(["conntrack", "-D", "-p", "tcp", "--orig-port-dst", str(fault.server.port)],
                           check=False)
    t_fault = time.monotonic()
    inject = (cp.stderr.strip().splitlines() or ["?"])[-1]
    check("2 flow entries have been deleted" in inject, "conntrack -D: %s" % inject)
    detected, collection, control_max = None, None, (0, 0)
    while time.monotonic() - t_fault < DETECT_WAIT:
        s = exp.samples()
        c = counts(s, sw, control)
        control_max = tuple(max(a, b) for a, b in zip(control_max, c))
        if detected is None and counts(s, sw, fault) == (2, 2):
            detected = time.monotonic() - t_fault
            collection = s.value("halfopen_collection_duration_seconds")
            break
        time.sleep(0.1)
    check(detected is not None, exp.failure_report(
        "the forgotten idle pool was not counted within %gs (want 2 outbound, 2 inbound)" % DETECT_WAIT))
    # The first collection that starts after the fault counts it: it starts
    # within one interval (or when a collection longer than the interval
    # ends) and takes its own duration; plus the scrape's poll.
    bound = max(INTERVAL, collection) + collection + 0.5
    check(detected <= bound, "detected after %.2fs, later than the first collection after the fault "
          "(interval %gs, collections of %.2fs: %.2fs)" % (detected, INTERVAL, collection, bound))
    # Still nothing sent: the pool's sockets are ESTABLISHED and quiet,
    # nothing else the exporter counts says anything.
    for cls in ("retransmitting", "keepalive_probing", "stale"):
        v = s.value("halfopen_%s_sockets" % cls, tcp_service=svc[fault.name], direction="outbound")
        check(not v, "%s %s on the idle pool before any request" % (cls, v))
    # The first request on the forgotten pool goes out now.
    t_req = time.monotonic()
    apps[fault.name].send("request")
    # It hangs: a REQ line (an answer or an error) before the cap fails
    # the check below, as the expectation would time out on it.
    try:
        apps[fault.name].expect("HANG", timeout=CAP + 5)
        hung = True
    except ScenarioFailure:
        hung = False
    first_request = time.monotonic() - t_req
    check(hung, "the first request on the forgotten pool did not hang: %s" % apps[fault.name].history[-3:])
    apps[control.name].send("request")
    cev = apps[control.name].expect("REQ", timeout=CAP + 10)
    check(cev.get("ok") == "1", "the control's request failed: %s" % apps[control.name].history[-1])
    s = exp.samples()
    control_max = tuple(max(a, b) for a, b in zip(control_max, counts(s, sw, control)))
    check(control_max == (0, 0), "the control leg counted forgotten sockets: %s" % (control_max,))
    retrans = s.value("halfopen_retransmitting_sockets", tcp_service=svc[fault.name], direction="outbound")
    app_text = "sent at %.1f s: hangs (still running at the %g s cap, retransmitting %d)" % (
        t_req - t_fault, CAP, retrans or 0)
    print("%s: conntrack -D (%s); forgotten 2+2 detected at %.2f s (collections took %.2f s); "
          "first request: %s; waited %.1f s" % (sw, inject, detected, collection, app_text, first_request))
    return {"software": sw, "what": SOFTWARE[sw][1], "detected": round(detected, 2),
            "collection_seconds": round(collection, 2), "cap": CAP,
            "watched": watched, "first_request": app_text, "hung": hung,
            "control_max": list(control_max), "inject": inject}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("software", choices=sorted(SOFTWARE))
    p.add_argument("--json")
    a = p.parse_args()
    install_signal_handlers()
    t0 = time.monotonic()
    try:
        if os.geteuid() != 0:
            raise ScenarioFailure("the lab needs root")
        res = run_idle_nat(a.software)
    except Skip as e:
        print("SKIP idle_nat %s: %s" % (a.software, e))
        print("0 passed, 0 failed, 1 skipped")
        return 77
    except ScenarioFailure as e:
        print("FAIL idle_nat %s: %s" % (a.software, e))
        print("0 passed, 1 failed")
        return 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    print("PASS idle_nat %s (%.1fs)" % (a.software, time.monotonic() - t0))
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
