"""Topology and faults of the fault lab.

One client namespace (the application, its pool, the exporter) and, per
leg, a server namespace of its own joined by a veth pair:

    client  l<i> 198.18.<i>.1/30 ---- eth0 198.18.<i>.2/30  server

or, for the NAT leg, through a router namespace that masquerades with
strict TCP tracking (nf_conntrack_tcp_loose=0, INVALID dropped, as a
stateful firewall or cloud NAT gateway does):

    client  l<i> 198.18.<i>.1 -- in0 .2  router  out0 198.19.<i>.1 -- eth0 198.19.<i>.2  server

Faults act on one leg only, never on the client namespace:
    crash   the host dies: DROP everything in and out of its namespace, then
            SIGKILL the server (its FIN/RST never leave).
    link    the server's link goes down (the client's side loses carrier).
    nat     the router forgets the flows (conntrack -D); later segments of
            them are INVALID and dropped both ways.
    reboot  same address, no state: DROP, SIGKILL, abort every socket left
            (ss -K), lift the DROP, start the server again. The client's next
            segment on an old connection gets a RST.
    stall   the server stops reading: SIGSTOP (zero window once its receive
            buffer is full).
"""
import signal

from testlib import Netns, run

FAULTS = ("crash", "link", "nat", "reboot", "stall")


class Leg:
    """One server (namespace, address) the client reaches; .server is set
    by the caller (a servers.Server in .ns at .addr)."""

    def __init__(self, client, index, name, fault=None):
        self.client, self.index, self.name, self.fault = client, index, name, fault
        self.router = None
        self.server = None
        self.ns = Netns("lab%s" % index)
        self.ns.create()
        c = client.name
        if fault == "nat":
            self.router = Netns("labr%d" % index)
            self.router.create()
            r = self.router.name
            self.addr = "198.19.%d.2" % index
            _veth(c, "l%d" % index, "198.18.%d.1" % index, r, "in0", "198.18.%d.2" % index)
            _veth(r, "out0", "198.19.%d.1" % index, self.ns.name, "eth0", self.addr)
            run(["ip", "-n", c, "route", "add", "198.19.%d.0/30" % index, "via", "198.18.%d.2" % index])
            rx = self.router.exec
            rx(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            self.router.iptables("-t", "nat", "-A", "POSTROUTING", "-o", "out0", "-j", "MASQUERADE")
            self.router.iptables("-A", "FORWARD", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
            # The conntrack rule above loaded nf_conntrack in this namespace.
            rx(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0"])
        else:
            self.addr = "198.18.%d.2" % index
            _veth(c, "l%d" % index, "198.18.%d.1" % index, self.ns.name, "eth0", self.addr)

    def destroy(self):
        self.ns.destroy()
        if self.router is not None:
            self.router.destroy()

    def inject(self):
        """Apply self.fault; a short text of what was done (for the log)."""
        f = self.fault
        if f in ("crash", "reboot"):
            self.ns.iptables("-A", "INPUT", "!", "-i", "lo", "-j", "DROP")
            self.ns.iptables("-A", "OUTPUT", "!", "-o", "lo", "-j", "DROP")
            self.server.kill()
            if f == "crash":
                return "DROP in+out, SIGKILL"
            left = self.ns.exec(["ss", "-tnH", "state", "all"]).stdout.count("\n")
            self.ns.exec(["ss", "-K", "state", "all"])
            self.ns.iptables("-F")
            self.server.start()
            return "DROP, SIGKILL, ss -K of %d sockets, DROP lifted, server restarted" % left
        if f == "link":
            self.ns.exec(["ip", "link", "set", "eth0", "down"])
            return "ip link set eth0 down (server side)"
        if f == "nat":
            cp = self.router.exec(["conntrack", "-D", "-p", "tcp", "--orig-port-dst",
                                   str(self.server.port)], check=False)
            return "conntrack -D: " + (cp.stderr.strip().splitlines() or ["?"])[-1]
        if f == "stall":
            self.server.signal(signal.SIGSTOP)
            return "SIGSTOP"
        raise ValueError(f)


def nat_idle_timeout(leg, seconds):
    """The "NAT idle timeout" fault on a NAT leg (path_idle.py): the router
    forgets a TCP flow idle for `seconds` (its
    nf_conntrack_tcp_timeout_established), as a cloud NAT gateway does after
    350 s; with strict tracking the flow's next segment is INVALID and
    dropped. Set before the pools connect: nothing is injected later, the
    pools only have to stay idle."""
    leg.router.exec(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_timeout_established=%d" % seconds])
    return "nf_conntrack_tcp_timeout_established=%d on the router" % seconds


def _veth(ns_a, dev_a, addr_a, ns_b, dev_b, addr_b):
    run(["ip", "-n", ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b])
    for ns, dev, addr in ((ns_a, dev_a, addr_a), (ns_b, dev_b, addr_b)):
        run(["ip", "-n", ns, "addr", "add", addr + "/30", "dev", dev])
        run(["ip", "-n", ns, "link", "set", dev, "up"])
