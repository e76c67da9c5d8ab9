#!/usr/bin/env python3
"""The fault lab's "NAT idle timeout": idle pools behind a NAT that forgets
idle flows, detected before any request is sent.

    tests/lab/path_idle.py [--enforce] [--json FILE]      (root)

A client namespace (the exporter, 1 s collections, and the pools) reaches
redis servers through a router namespace that masquerades with strict
tracking (tests/lab/net.py, the NAT leg) and whose
nf_conntrack_tcp_timeout_established is PATH seconds
(net.nat_idle_timeout): the router forgets a flow idle that long. One
redis-server per pool, each pool a real redis-py ConnectionPool of two
connections that is filled and then left idle (tests/lab/idle_app.py):

    nokeep     no keepalive (redis-py's default)
    slowkeep   keepalive idle 3 x PATH: on, but slower than the path
    appkeep    keepalive 1 s / 1 s / 3, set by the application: it keeps the
               flows alive through the NAT (healthy control)
    enforced   (--enforce: the bpf build) no keepalive of its own; the
               exporter's enforce gives it keepalive with the idle left out,
               i.e. half the path's timeout (healthy control)

Every outbound service has path_idle_timeout: PATH s. The servers' side is
watched too, through --collector.netns=all (a --path.procfs whose one
process is in the server namespace, as tests/enforce does): inbound
services nokeep-srv and appkeep-srv say `conntrack`; the server namespace
sets its conntrack timeout to PATH s while the client's keeps the default
(432000 s), so they are judged at PATH s only if the exporter reads the
value inside the server namespace.

Checks, with no request sent: slowkeep is counted in
halfopen_keepalive_slower_than_path_sockets within DETECT s of connecting;
nokeep and slowkeep in halfopen_idle_past_path_timeout_sockets within DETECT s
after PATH s of silence, and never before PATH s; the controls stay at zero
in every class the whole time. nokeep-srv too, judged by the server
namespace's own conntrack timeout; and appkeep-srv as well: the server's
sockets of a pool that its client's keepalive keeps alive read silent (the
client's probes are never stamped on them), which is why the alert pages on
outbound sockets only. (redis-server's own keepalive, tcp-keepalive 300 s,
also counts its sockets in keepalive_slower_than_path: reported, not
required.) Then one request on each pool: on nokeep and
slowkeep it hangs (the NAT forgot the flow), on the controls it succeeds
(their flows were kept). Prints figures; exit 77 when redis or conntrack
is missing.
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
from testlib import Exporter, Netns, Peer, ScenarioFailure, install_signal_handlers  # noqa: E402
import net  # noqa: E402
import servers  # noqa: E402

APP = os.path.join(HERE, "idle_app.py")
APP_PYTHON = "/usr/bin/python3"
PATH = 4            # the router's idle timeout, seconds
DETECT = 5.0        # 1 s collections, scraped every 0.25 s, on a busy shared machine (run.py: 6)
CAP = 3.0           # a request still running after this is a hang
FAMILIES = ("idle_past_path_timeout", "keepalive_slower_than_path")
CLASSES = FAMILIES + ("retransmitting", "keepalive_probing", "zero_window", "stale", "close_wait")
POOLS = {  # name: (port, idle_app.py --keepalive, path_idle_timeout)
    "nokeep": (6379, None, "%ds" % PATH),
    "slowkeep": (6380, "%d,1,3" % (3 * PATH), "%ds" % PATH),
    "appkeep": (6381, "1,1,3", "%ds" % PATH),
    "enforced": (6382, None, "%ds" % PATH),
}
CONTROLS = ("appkeep", "enforced")
SERVER_SIDE = ("nokeep", "appkeep")  # inbound "<pool>-srv", path_idle_timeout: conntrack


class Skip(Exception):
    pass


def config(pools):
    rows = ["services:"]
    for name in pools:
        port, _, path = POOLS[name]
        row = "  - {name: %s, direction: outbound, ports: [%d], path_idle_timeout: %s" % (name, port, path)
        if name == "enforced":
            # idle left out: half the path's timeout (2 s)
            row += ", enforce: {keepalive: {interval: 1s, count: 3}}"
        rows.append(row + "}")
    for name in SERVER_SIDE:
        rows.append("  - {name: %s-srv, direction: inbound, ports: [%d], path_idle_timeout: conntrack}" % (
            name, POOLS[name][0]))
    return "\n".join(rows) + "\n"


def want(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


def run(enforce):
    for prog in ("redis-server", "conntrack", "iptables"):
        if subprocess.run(["sh", "-c", "command -v " + prog], capture_output=True).returncode:
            raise Skip("%s not installed (scripts/deps.sh test)" % prog)
    if subprocess.run([APP_PYTHON, "-c", "import redis"], capture_output=True).returncode:
        raise Skip("%s cannot import redis (python3-redis)" % APP_PYTHON)
    pools = [p for p in POOLS if enforce or p != "enforced"]
    t_begin = time.monotonic()
    client = Netns("labp")
    leg = None
    tmp = tempfile.mkdtemp(prefix="ho-labp-")
    os.chmod(tmp, 0o755)
    try:
        client.create()
        leg = net.Leg(client, 1, "nat-idle", "nat")
        fault = net.nat_idle_timeout(leg, PATH)
        # conntrack in the server namespace, for the `conntrack` services;
        # loose tracking (the default) picks a forgotten flow up again: only
        # the router breaks flows.
        leg.ns.iptables("-A", "INPUT", "-m", "conntrack", "--ctstate", "INVALID", "-j", "ACCEPT")
        leg.ns.exec(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_timeout_established=%d" % PATH])
        # --collector.netns=all sees the server namespace only: a procfs
        # whose one process is in it, and no pinned namespaces.
        os.makedirs(os.path.join(tmp, "proc", "4242", "ns"))
        os.symlink("/run/netns/" + leg.ns.name, os.path.join(tmp, "proc", "4242", "ns", "net"))
        os.makedirs(os.path.join(tmp, "netns"))
        netns_args = ["--collector.netns=all", "--path.procfs=" + os.path.join(tmp, "proc"),
                      "--collector.netns.dir=" + os.path.join(tmp, "netns")]
        srvs = {}
        for name in pools:
            srv = servers.Redis(leg.ns, leg.addr, os.path.join(tmp, name))
            srv.port = POOLS[name][0]
            srv.start()
            srvs[name] = srv
        for name in pools:
            servers.wait_listen(client, leg.addr, srvs[name].port, srvs[name])
        # wait_listen's probes left flows in the router's table: let them go
        leg.router.exec(["conntrack", "-F"], check=False)
        with Exporter(client, config(pools), interval="1s", extra_args=netns_args) as exp:
            return observe(client, leg, pools, exp, fault, t_begin)
    finally:
        if leg is not None:
            leg.destroy()
        client.destroy()
        subprocess.run(["rm", "-rf", tmp])


def observe(client, leg, pools, exp, fault, t_begin):
    apps, ready = {}, {}
    for name in pools:
        args = [APP_PYTHON, APP, "--host", leg.addr, "--port", POOLS[name][0]]
        if POOLS[name][1]:
            args += ["--keepalive", POOLS[name][1]]
        if name == "enforced":
            args.append("--warm")
        apps[name] = Peer(client, [str(a) for a in args])
    for name in pools:
        if name == "enforced":
            apps[name].expect("WARM", timeout=20)
        else:
            ready[name] = float(apps[name].expect("READY", timeout=20)["at"])
    watched = [(n, "outbound", n) for n in pools] + [(n + "-srv", "inbound", n) for n in SERVER_SIDE]
    first = {w[0]: {} for w in watched}
    top = {w[0]: {c: 0 for c in CLASSES} for w in watched}

    def record(s):
        """Note every class of every watched service in scrape s."""
        now = time.time()
        for svc, direction, pool in watched:
            for c in CLASSES:
                v = s.value("halfopen_%s_sockets" % c, tcp_service=svc, direction=direction) or 0
                top[svc][c] = max(top[svc][c], v)
                if v and c not in first[svc]:
                    first[svc][c] = round(now - ready.get(pool, now), 2)
        return s
    if "enforced" in pools:
        # enforce acts on the first collection that sees a socket: on a
        # busy machine that can take longer than the 4 s path, a limit of
        # the lab's short timeout (a real path's is minutes). So this pool
        # stays busy (a PING a second) until enforce has given both its
        # connections keepalive, and goes idle from then.
        exp.wait_for(lambda s: (record(s).value("halfopen_keepalive_sockets", tcp_service="enforced",
                                        direction="outbound") or 0) >= 2,
                     timeout=20, what="enforce gave the enforced pool keepalive")
        apps["enforced"].send("idle")
        ready["enforced"] = float(apps["enforced"].expect("READY", timeout=10)["at"])
    t_idle = max(ready.values())  # the last traffic any pool sent
    while time.time() - t_idle < PATH + DETECT + 1:
        record(exp.samples())
        time.sleep(0.25)
    est = {n: exp.samples().value("halfopen_established_sockets", tcp_service=n, direction="outbound")
           for n in pools}
    print("router: %s" % fault)
    print("first seen (s after the pool went idle): %s" % json.dumps(first))
    print("established at the end of the idle phase: %s" % est)
    print(client.ss_text("dst %s" % leg.addr))
    for n in pools:
        want(est[n] == 2, "%s: %s established sockets, want the pool's 2" % (n, est[n]))
    for n in ("nokeep", "slowkeep") + tuple(x + "-srv" for x in SERVER_SIDE):
        t = first[n].get("idle_past_path_timeout")
        want(t is not None and PATH - 0.1 <= t <= PATH + DETECT,
             "%s: idle_past_path_timeout first seen at %s s, want within [%g, %g] s of going idle" % (
                 n, t, PATH, PATH + DETECT))
    t = first["slowkeep"].get("keepalive_slower_than_path")
    want(t is not None and t <= DETECT,
         "slowkeep: keepalive_slower_than_path first seen at %s s, want within %g s" % (t, DETECT))
    want(not first["nokeep"].get("keepalive_slower_than_path"),
         "nokeep has no keepalive, yet counted in keepalive_slower_than_path")
    for n in CONTROLS:
        if n in pools and any(top[n].values()):
            raise ScenarioFailure(exp.failure_report(
                "control %s raised %s: its keepalive keeps the flow alive" % (n, top[n])))
    # One request each, now: the doomed pools hang, the controls answer.
    # The exporter is watched while they run: when does the hang show?
    reqs, retrans = {}, {}
    t_req = time.time()
    for n in pools:
        apps[n].send("request %g" % CAP)
    while time.time() < t_req + CAP + 1:
        s = exp.samples()
        for n in ("nokeep", "slowkeep"):
            if n not in retrans and (s.value("halfopen_retransmitting_sockets", tcp_service=n,
                                             direction="outbound") or 0):
                retrans[n] = round(time.time() - t_req, 2)
        time.sleep(0.25)
    for n in pools:
        while n not in reqs:
            line = apps[n].lines.get(timeout=10)
            want(line is not None, "%s: the application exited: %s" % (n, apps[n].history[-5:]))
            apps[n].history.append(line)
            if line.split()[0] in ("REQ", "HANG"):
                reqs[n] = line
    print("requests after detection: %s; retransmitting seen %s s after the request" % (reqs, retrans))
    for n in ("nokeep", "slowkeep"):
        want(reqs[n].startswith("HANG"), "%s: the request after the NAT's timeout did not hang: %s" % (
            n, reqs[n]))
    for n in CONTROLS:
        if n in pools:
            want(" ok=1" in reqs[n], "control %s: its request failed: %s" % (n, reqs[n]))
    want(all(n in retrans for n in ("nokeep", "slowkeep")),
         "the hanging requests were not seen retransmitting within %g s: %s" % (CAP + 1, retrans))
    return {"path_s": PATH, "fault": fault, "pools": pools, "first": first, "max": top,
            "requests": reqs, "retransmitting_after_request": retrans,
            "seconds": round(time.monotonic() - t_begin, 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--enforce", action="store_true", help="add the enforced pool (bpf build)")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()
    install_signal_handlers()
    try:
        if os.geteuid() != 0:
            raise Skip("needs root (ip netns, iptables)")
        res = run(a.enforce)
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    except ScenarioFailure as e:
        print("FAIL: %s" % e)
        print("0 passed, 1 failed")
        return 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    print("PASS (%.1f s)" % res["seconds"])
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
