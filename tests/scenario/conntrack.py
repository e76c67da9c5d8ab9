#!/usr/bin/env python3
"""--collector.conntrack against the real kernel's connection tracking.

    python3 tests/scenario/conntrack.py NAME      (root; see tests/meson.build)

A client namespace reaches a server namespace through a router namespace
that masquerades with strict TCP tracking (nf_conntrack_tcp_loose=0,
INVALID dropped: a stateful NAT gateway), as tests/lab/net.py's NAT leg:

    client 198.18.0.1 -- 198.18.0.2 router 198.19.0.1 -- 198.19.0.2 server

The exporter runs in the client namespace with --collector.netns=all over
a private namespace directory (only this test's router and server, and an
empty procfs so no other namespace of the machine is scanned). The flow is
tracked only in the router's table: the client's socket matches its
original tuple, the server's socket its (masqueraded) reply tuple.

The exporter runs as nobody (--runas.user) with exactly its mode's
capabilities (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN), checked. The
server's namespace tracks the flows too, loosely and un-NATed: its dumps
must be filtered by the kernel (status filter) and guard nothing.

forgotten: two idle pooled connections, nothing sent; `conntrack -D` of
one on the router -> halfopen_conntrack_forgotten_sockets 1 on both the
outbound (client) and the inbound (server) service within one collection
interval, the other connection (the healthy control on the same leg) not
counted; then the first request on the forgotten one really hangs
(retransmitting), proving the verdict.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (Exporter, Netns, ScenarioFailure, main_scenarios, run,  # noqa: E402
                     scenario_registry, ss)

SCENARIO_TIMEOUT = 90
PORT = 15432
CLIENT_ADDR, ROUTER_IN, ROUTER_OUT, SERVER_ADDR = "198.18.0.1", "198.18.0.2", "198.19.0.1", "198.19.0.2"
CONFIG = """\
defaults: {stale_after: 1h}
services:
  - {name: pool, direction: outbound, ports: [%d]}
  - {name: db, direction: inbound, ports: [%d]}
""" % (PORT, PORT)
POOL = dict(tcp_service="pool", direction="outbound")
DB = dict(tcp_service="db", direction="inbound")
FORGOTTEN = "halfopen_conntrack_forgotten_sockets"
INTERVAL_S = 1.0

SCENARIOS, scenario = scenario_registry()


def check(cond, msg, exp=None):
    if not cond:
        raise ScenarioFailure(exp.failure_report(msg) if exp else msg)


def veth(ns_a, dev_a, addr_a, ns_b, dev_b, addr_b):
    run(["ip", "-n", ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b,
         "netns", ns_b])
    for ns, dev, addr in ((ns_a, dev_a, addr_a), (ns_b, dev_b, addr_b)):
        run(["ip", "-n", ns, "addr", "add", addr + "/30", "dev", dev])
        run(["ip", "-n", ns, "link", "set", dev, "up"])


class NatLeg:
    """client -> router (MASQUERADE, strict tracking) -> server, and a
    private namespace directory naming the router and the server."""

    def __init__(self):
        self.client, self.router, self.server = Netns("ctc"), Netns("ctr"), Netns("cts")
        self.dir = tempfile.mkdtemp(prefix="ho-ct-netns-")
        self.empty_proc = tempfile.mkdtemp(prefix="ho-ct-proc-")
        for d in (self.dir, self.empty_proc):
            os.chmod(d, 0o755)  # the exporter reads them as nobody
        self.mounts = []

    def __enter__(self):
        try:
            for ns in (self.client, self.router, self.server):
                ns.create()
            veth(self.client.name, "up0", CLIENT_ADDR, self.router.name, "in0", ROUTER_IN)
            veth(self.router.name, "out0", ROUTER_OUT, self.server.name, "eth0", SERVER_ADDR)
            run(["ip", "-n", self.client.name, "route", "add", "198.19.0.0/30", "via", ROUTER_IN])
            self.router.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            self.router.iptables("-t", "nat", "-A", "POSTROUTING", "-o", "out0", "-j", "MASQUERADE")
            self.router.iptables("-A", "FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
            self.router.exec(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0"])
            # The server's namespace tracks the flows too, loosely and un-NATed:
            # nothing there is guarded, and the kernel's status filter sends none.
            self.server.iptables("-A", "INPUT", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
            for ns in (self.router, self.server):
                path = os.path.join(self.dir, ns.name)
                open(path, "w").close()
                run(["mount", "--bind", "/run/netns/" + ns.name, path])
                self.mounts.append(path)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for path in self.mounts:
            run(["umount", path], check=False)
            os.unlink(path)
        self.mounts = []
        for ns in (self.client, self.router, self.server):
            ns.destroy()
        for d in (self.dir, self.empty_proc):
            os.rmdir(d)
        return False

    def exporter(self, extra=()):
        return Exporter(self.client, CONFIG, interval="%gs" % INTERVAL_S,
                        extra_args=["--collector.conntrack", "--collector.netns=all", "--runas.user=nobody",
                                    "--collector.netns.dir=" + self.dir,
                                    "--path.procfs=" + self.empty_proc] + list(extra))


def count_forgotten(s, svc):
    return s.value(FORGOTTEN, **svc)


@scenario
def forgotten():
    with NatLeg() as leg, leg.exporter() as exp:
        srv = leg.server.peer("server", "--addr", SERVER_ADDR, "--port", PORT)
        srv.expect("LISTEN")
        conns = []
        for _ in range(2):  # an idle pool: connected, nothing sent
            cli = leg.client.peer("client", "--addr", SERVER_ADDR, "--port", PORT)
            conns.append((cli, int(cli.expect("CONNECTED")["local"])))
            srv.expect("ACCEPT")
        (victim, vport), (_control, cport) = conns
        # Dumps run after the drop: as nobody, with exactly the mode's
        # capabilities (netns=all: SYS_ADMIN + SYS_PTRACE; conntrack:
        # NET_ADMIN).
        with open("/proc/%d/status" % exp.proc.pid) as f:
            st = dict(l.split(":", 1) for l in f if ":" in l)
        want = (1 << 21) | (1 << 19) | (1 << 12)  # CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN
        check(int(st["CapEff"], 16) == want and st["Uid"].split()[0] == "65534",
              "exporter runs as nobody with CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN only: "
              "Uid %s CapEff %s" % (st["Uid"].split()[0], st["CapEff"].strip()), exp)
        s = exp.wait_for(lambda s: s.value("halfopen_conntrack_watched_sockets") == 4
                         and s.value("halfopen_established_sockets", **POOL) == 2
                         and s.value("halfopen_established_sockets", **DB) == 2,
                         timeout=10, what="4 sockets (both ends of 2 connections) watched")
        for svc in (POOL, DB):
            check(s.value(FORGOTTEN, **svc) == 0, "nothing forgotten yet: %s" % svc, exp)
        r = leg.router.name
        for name, want in (("halfopen_conntrack_tcp_strict", 1),
                           ("halfopen_conntrack_guarded_flows", 2),
                           ("halfopen_conntrack_table_read_errors", 0),
                           ("halfopen_conntrack_dumped_entries", 2)):
            check(s.value(name, netns=r) == want, "%s{netns=%s}: want %s, got %s" % (
                name, r, want, s.value(name, netns=r)), exp)
        # The server's table: 2 un-NATed entries under loose tracking; the
        # kernel's status filter let none of them through.
        v = leg.server.name
        for name, want in (("halfopen_conntrack_entries", 2), ("halfopen_conntrack_tcp_strict", 0),
                           ("halfopen_conntrack_kernel_filter", 1),
                           ("halfopen_conntrack_dumped_entries", 0),
                           ("halfopen_conntrack_guarded_flows", 0)):
            check(s.value(name, netns=v) == want, "%s{netns=%s}: want %s, got %s" % (
                name, v, want, s.value(name, netns=v)), exp)
        check((s.value("halfopen_conntrack_entries", netns=r) or 0) >= 2, "router entries", exp)
        check((s.value("halfopen_conntrack_tcp_timeout_established_seconds", netns=r) or 0) > 0,
              "established timeout read", exp)
        check(s.value("halfopen_conntrack_drops_total", netns=r, reason="early_drop") is not None,
              "drops family", exp)
        check(s.value("halfopen_conntrack_judged") == 1, "judged", exp)
        # The conntrack families pass promtool's own checks.
        text = exp.scrape()
        cp = run(["/usr/bin/promtool", "check", "metrics"], input=text, timeout=20, check=False)
        out = (cp.stdout + cp.stderr).strip()
        check(cp.returncode == 0 and not out, "promtool check metrics: rc=%d\n%s" % (cp.returncode, out), exp)
        print("watched 4, router table: %s entries, timeout_established %ss, strict" % (
            s.value("halfopen_conntrack_entries", netns=r),
            s.value("halfopen_conntrack_tcp_timeout_established_seconds", netns=r)))

        cp = leg.router.exec(["conntrack", "-D", "-p", "tcp", "--orig-port-src", vport], check=False)
        t0 = time.monotonic()
        check("1 flow entries have been deleted" in cp.stderr,
              "conntrack -D deleted the victim's flow: %r" % cp.stderr)
        s = exp.wait_for(lambda s: count_forgotten(s, POOL) == 1 and count_forgotten(s, DB) == 1,
                         timeout=10, what="forgotten 1 on both ends", poll=0.05)
        detected = time.monotonic() - t0
        took = s.value("halfopen_collection_duration_seconds")
        print("detected %.2fs after conntrack -D (interval %gs, collections of %.2fs)" % (
            detected, INTERVAL_S, took))
        # The first collection that starts after the deletion counts it: it
        # starts within one interval (or when an overrunning one ends) and
        # takes its own duration; plus the scrape's poll.
        bound = max(INTERVAL_S, took) + took + 0.5
        check(detected <= bound, "detection took %.2fs, later than the first collection after the "
              "deletion (%.2fs)" % (detected, bound), exp)
        # The control on the same leg is still tracked: 1, not 2.
        time.sleep(2 * INTERVAL_S)
        s = exp.samples()
        for svc in (POOL, DB):
            check(count_forgotten(s, svc) == 1, "only the victim is forgotten (%s): %s" % (
                svc, count_forgotten(s, svc)), exp)
        check(s.value("halfopen_conntrack_watched_sockets") == 4, "still 4 watched", exp)
        # The verdict is true: the first request on the victim hangs
        # (its segments are INVALID at the router and dropped); the
        # control's is answered.
        victim.send("send 10")
        victim.expect("SENT")
        t_req = time.monotonic()
        row = None
        while time.monotonic() - t_req < 5:
            rows = [x for x in ss(leg.client, "sport = :%d" % vport) if x["state"] == "ESTAB"]
            row = rows[0] if rows else None
            if row and row["timer"] == "on" and row["timer_retrans"] >= 1:
                break
            time.sleep(0.1)
        check(row and row["timer"] == "on" and row["timer_retrans"] >= 1,
              "the forgotten connection's request retransmits: %s" % row, exp)
        print("first request on the forgotten connection: retransmitting after %.1fs" % (
            time.monotonic() - t_req))
        _control.send("send 10")
        _control.expect("SENT")
        t_req = time.monotonic()
        while True:
            rows = [x for x in ss(leg.client, "sport = :%d" % cport) if x["state"] == "ESTAB"]
            if rows and rows[0]["send_q"] == 0 and rows[0]["timer"] is None:
                break
            check(time.monotonic() - t_req < 3, "the control's request is acknowledged: %s" % rows, exp)
            time.sleep(0.05)
        print("control's request acknowledged in %.2fs" % (time.monotonic() - t_req))


if __name__ == "__main__":
    sys.exit(main_scenarios(SCENARIOS, SCENARIO_TIMEOUT))
