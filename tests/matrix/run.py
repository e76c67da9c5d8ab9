#!/usr/bin/env python3
"""Test `matrix` (suite `scenario`): every (TCP state, timer) the kernel can produce, one real
socket each in a network namespace, against the exporter's classes and
numbers. The cases and what each must count as are in cases.py (also the
source of the table in docs/metrics.md).

For each case the oracle is `ss -tnoi` (state, timer kind, retransmit/probe
count, lastack) and the wall clock (when the case's socket started to
hang). Checked, twice a few seconds apart:
  - /metrics: every class of the subject's service is 1 when the case
    says so and 0 otherwise; halfopen_longest_unanswered_seconds matches
    ss lastack (or, for a socket that never received anything, is at most
    the socket's age: never the time since boot);
    halfopen_longest_hanging_seconds is between the time since the hang
    began minus one interval plus the first RTO, and that time;
    both grow with the wall clock between the two rounds;
  - /sockets (--web.enable-sockets-page): a suspect case has a row whose
    class, state, timer and retransmits agree with ss; other cases none;
  - suspect transitions: each suspect condition of the case entered >= 1,
    none for a case without suspect classes;
  - the orphan of a server whose listener no collection saw is counted as
    unmatched inbound, its client (CLOSE-WAIT) as unmatched outbound.
Needs root (ip netns, iptables). Exit 77 when the environment is missing.
"""
import json
import os
import shutil
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "scenario"))
import testlib  # noqa: E402
from cases import CASES, HANGING, service_of, services_config  # noqa: E402

CLASSES = ["established", "stale", "retransmitting", "keepalive_probing", "zero_window", "close_wait",
           "keepalive", "idle_past_path_timeout", "keepalive_slower_than_path"]
SUSPECT = {"stale", "retransmitting", "keepalive_probing", "zero_window", "close_wait"}
TLP_ADDR = "127.0.0.2"  # routed with rto_min 15s
INTERVAL = 1.0
# How late the exporter may first see a hang: one interval, the first RTO or
# keepalive probe interval (1 s here), and the scheduling of a busy machine.
SIGHT_LAG = INTERVAL + 1.0 + 1.5
TCP_LINGER2 = 8


class Case:
    def __init__(self, spec, port):
        self.spec = spec
        self.name = spec["name"]
        self.port = port
        self.socks = []
        self.cport = None      # the client's local port
        self.t_created = None  # the subject socket exists since
        self.t_hang = None     # the subject started to hang (wall, monotonic)
        self.rounds = []




class Matrix:
    def __init__(self, ns):
        self.ns = ns
        self.failures = []
        self.addr = {}

    def fail(self, case, msg):
        self.failures.append("%s: %s" % (case.name if case else "-", msg))
        print("FAIL %s: %s" % (case.name if case else "-", msg))

    # ------------------------------------------------------------ sockets
    def listener(self, case, addr="127.0.0.1", rcvbuf=None):
        ls = self.ns.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        ls.bind((addr, case.port))
        ls.listen(8)
        case.socks.append(ls)
        return ls

    def pair(self, case, addr="127.0.0.1", rcvbuf=None, client_opts=()):
        ls = self.listener(case, addr, rcvbuf)
        c = self.ns.socket()
        for lvl, opt, val in client_opts:
            c.setsockopt(lvl, opt, val)
        c.connect((addr, case.port))
        s, _ = ls.accept()
        case.socks += [c, s]
        case.cport = c.getsockname()[1]
        case.t_created = time.monotonic()
        return c, s

    def start_connect(self, case):
        """A nonblocking connect() that will hang in the handshake."""
        c = self.ns.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", case.port))
        case.socks.append(c)
        case.cport = c.getsockname()[1]
        case.t_created = case.t_hang = time.monotonic()

    def drop_to(self, port, addr="127.0.0.1"):
        self.ns.iptables("-A", "INPUT", "-p", "tcp", "-d", addr, "--dport", str(port), "-j", "DROP")

    def fill(self, c):
        c.setblocking(False)
        n = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                n += c.send(b"x" * 65536)
            except BlockingIOError:
                time.sleep(0.05)
                try:
                    n += c.send(b"x" * 65536)
                except BlockingIOError:
                    return n
        return n

    def build(self, case):
        n = case.name
        ka = socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1
        if n == "synsent":
            # Dropped on the way in: the SYN leaves the socket (as to a
            # black-holed peer), unlike an OUTPUT drop that fails the send.
            self.ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(case.port), "--syn", "-j", "DROP")
            self.start_connect(case)
        elif n == "synrecv":
            self.listener(case)
            # On the way in: a SYN-ACK refused at OUTPUT is not counted as
            # retransmitted (num_retrans stays 0) and the request dies.
            self.ns.iptables("-A", "INPUT", "-p", "tcp", "--sport", str(case.port), "--tcp-flags", "SYN,ACK",
                             "SYN,ACK", "-j", "DROP")
            self.start_connect(case)
        elif n in ("estab", "stale", "pathidle"):
            self.pair(case)
        elif n in ("rto", "tlp"):
            addr = TLP_ADDR if n == "tlp" else "127.0.0.1"
            c, _ = self.pair(case, addr=addr)
            self.drop_to(case.cport, addr)
            c.send(b"r" * 100)
            case.t_hang = time.monotonic()
        elif n in ("keepalive", "kaslow"):
            self.pair(case, client_opts=[ka, (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)])
        elif n == "kaprobe":
            self.pair(case, client_opts=[ka, (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1),
                                         (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1),
                                         (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 60)])
            self.drop_to(case.cport)
            case.t_hang = time.monotonic() + 1  # the first probe, after idle 1 s
        elif n in ("zerowin", "fw1zw"):
            c, _ = self.pair(case, rcvbuf=4096, client_opts=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)])
            self.fill(c)
            if n == "fw1zw":
                c.shutdown(socket.SHUT_WR)
        elif n == "fw1rto":
            c, _ = self.pair(case)
            self.drop_to(case.cport)
            c.shutdown(socket.SHUT_WR)
            case.t_hang = time.monotonic()
        elif n == "fw2":
            c, _ = self.pair(case)
            c.shutdown(socket.SHUT_WR)
        elif n == "fw2orphan":
            c, _ = self.pair(case)
            c.setsockopt(socket.IPPROTO_TCP, TCP_LINGER2, 120)
            c.close()
        elif n == "fw2tw":
            c, _ = self.pair(case)
            c.close()
        elif n in ("closewait", "cwka", "cwrto", "lastack"):
            c, s = self.pair(case, client_opts=[ka, (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)]
                             if n == "cwka" else ())
            s.close()
            time.sleep(0.05)
            if n == "cwrto":
                self.drop_to(case.cport)
                c.send(b"w" * 100)
                case.t_hang = time.monotonic()
            elif n == "lastack":
                self.drop_to(case.cport)
                c.close()
                case.t_hang = time.monotonic()
        elif n == "closing":
            c, s = self.pair(case)
            self.drop_to(case.cport)
            self.drop_to(case.port)
            c.shutdown(socket.SHUT_WR)
            case.t_hang = time.monotonic()
            s.shutdown(socket.SHUT_WR)
            time.sleep(0.05)
            self.ns.iptables("-D", "INPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", str(case.cport), "-j", "DROP")
            # Once the peer's FIN got through (CLOSING), cut it off again:
            # its FIN retransmissions would reset our count and lastack.
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                row = self.ss_row(case, testlib.ss(self.ns, "sport = :%d" % case.cport))
                if row and row["state"] == "CLOSING":
                    break
                time.sleep(0.05)
            self.drop_to(case.cport)
        elif n == "timewait":
            c, s = self.pair(case)
            c.close()
            time.sleep(0.05)
            s.close()
        elif n == "orphan":
            c, s = self.pair(case)
            self.drop_to(case.port)
            case.socks[0].close()  # the listener: gone before the exporter starts
            s.close()              # FIN unacknowledged: an orphan in FIN-WAIT-1
            case.t_hang = time.monotonic()
        else:
            raise AssertionError("no builder for " + n)

    # ------------------------------------------------------------ oracle
    def ss_row(self, case, rows):
        spec = case.spec
        for r in rows:
            if spec["subject"] == "client" and r["lport"] == case.cport and r["rport"] == case.port:
                return r
            if spec["subject"] == "server" and r["lport"] == case.port and r["rport"] == case.cport:
                return r
        return None

    def produced(self, case, rows):
        row = self.ss_row(case, rows)
        if not row or row["state"] != case.spec["state"] or (row["timer"] or "off") != case.spec["timer"]:
            return False
        return case.spec["retrans"] is not True or row["timer_retrans"] >= 1

    def wait_produced(self, cases, timeout):
        """Until ss shows every case's state, timer and (when the case wants
        it) a first retransmission; the cases still not there fail later."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = testlib.ss(self.ns)
            if all(self.produced(c, rows) for c in cases):
                return
            time.sleep(0.2)

    def check_round(self, cases, rnd):
        rows = testlib.ss(self.ns)
        t_ss = time.monotonic()
        samples = self.exp.samples()
        t_scrape = time.monotonic()
        page = json.loads(self.exp.request("GET", "/sockets?format=json&limit=1000")[2])
        for case in cases:
            self.check_case(case, rows, samples, page, t_ss, t_scrape, rnd)

    def check_case(self, case, rows, samples, page, t_ss, t_now, rnd):
        spec = case.spec
        row = self.ss_row(case, rows)
        if not row:
            self.fail(case, "round %d: no such socket in ss (setup defect)" % rnd)
            return
        timer = row["timer"] or "off"
        if row["state"] != spec["state"] or timer != spec["timer"]:
            self.fail(case, "round %d: kernel shows %s/%s, the case wants %s/%s: %s" % (
                rnd, row["state"], timer, spec["state"], spec["timer"], row["raw"]))
            return
        if spec["retrans"] is True and row["timer_retrans"] < 1:
            self.fail(case, "round %d: ss shows no unanswered retransmit/probe yet: %s" % (rnd, row["raw"]))
        if spec["retrans"] is False and row["timer_retrans"] != 0:
            self.fail(case, "round %d: ss shows %d retransmits: %s" % (rnd, row["timer_retrans"], row["raw"]))
        svc, direction = service_of(spec)
        got = {}
        for cl in CLASSES:
            v = samples.value("halfopen_%s_sockets" % cl, tcp_service=svc, direction=direction)
            got[cl] = v
        classes = CLASSES if spec["name"] != "orphan" else list(HANGING)
        for cl in classes:
            want = 1 if cl in spec["classes"] else 0
            if got[cl] != want:
                self.fail(case, "round %d: halfopen_%s_sockets{%s,%s} = %s, want %d (ss: %s)" % (
                    rnd, cl, svc, direction, got[cl], want, row["raw"].replace("\n", " ")))
        un = samples.value("halfopen_longest_unanswered_seconds", tcp_service=svc, direction=direction)
        hang = samples.value("halfopen_longest_hanging_seconds", tcp_service=svc, direction=direction)
        if un is None or hang is None:
            self.fail(case, "round %d: longest_unanswered=%s longest_hanging=%s: series missing" % (rnd, un, hang))
            return
        age = t_now - case.t_created
        kind = spec["unanswered"]
        if kind == "lastack":
            if abs(un - row["lastack"] / 1000.0) > INTERVAL + 1.0:
                self.fail(case, "round %d: longest_unanswered %.3fs, ss lastack %.3fs" % (rnd, un, row["lastack"] / 1000.0))
        elif kind == "seen":
            if not (0 <= un <= age + 0.5):
                self.fail(case, "round %d: longest_unanswered %.3fs but the socket is %.1fs old (ss lastack "
                          "reads %dms: the unset stamp)" % (rnd, un, age, row["lastack"]))
        elif un != 0:
            self.fail(case, "round %d: longest_unanswered %s, want 0" % (rnd, un))
        if any(c in HANGING for c in spec["classes"]):
            if spec.get("hang_from") == "lastack":
                since = row["lastack"] / 1000.0 + (t_now - t_ss)
            else:
                since = t_now - case.t_hang
            # The exporter sees a hang once the first retransmission (or
            # probe) is out: allow the socket's current RTO on top.
            lag = SIGHT_LAG + int(row["info"].get("rto", "1000").split(".")[0]) / 1000.0
            if not (max(0.0, since - lag) <= hang <= since + 0.5):
                self.fail(case, "round %d: longest_hanging %.3fs, the hang began %.1fs ago" % (rnd, hang, since))
            if hang > un + 0.001:
                self.fail(case, "round %d: longest_hanging %.3f > longest_unanswered %.3f" % (rnd, hang, un))
        elif hang != 0 and spec["name"] != "orphan":
            self.fail(case, "round %d: longest_hanging %s, want 0" % (rnd, hang))
        case.rounds.append({"t": t_now, "un": un, "hang": hang})
        # /sockets
        prow = [s for s in page["sockets"] if s["service"] == svc and s["direction"] == direction
                and ((s["local_port"] == case.cport and s["peer_port"] == case.port) if spec["subject"] == "client"
                     else (s["local_port"] == case.port and s["peer_port"] == case.cport))]
        want_sus = sorted(set(spec["classes"]) & SUSPECT)
        if not want_sus:
            if prow:
                self.fail(case, "round %d: on /sockets although not suspect: %s" % (rnd, prow[0]))
        elif not prow:
            self.fail(case, "round %d: not on /sockets (want %s)" % (rnd, want_sus))
        else:
            p = prow[0]
            if sorted(p["class"]) != want_sus:
                self.fail(case, "round %d: /sockets class %s, want %s" % (rnd, p["class"], want_sus))
            if p["state"] != row["state"] or p["timer"] != timer:
                self.fail(case, "round %d: /sockets %s/%s, ss %s/%s" % (rnd, p["state"], p["timer"], row["state"], timer))
            # SYN-RECV answers each SYN the client retransmits: the count
            # moves fast; ss ran just before the collection served.
            if abs(p["retransmits"] - row["timer_retrans"]) > 2:
                self.fail(case, "round %d: /sockets retransmits %d, ss %d" % (rnd, p["retransmits"], row["timer_retrans"]))
            if abs(p["unanswered_ms"] / 1000.0 - un) > INTERVAL + 0.5:
                self.fail(case, "round %d: /sockets unanswered_ms %d vs metric %.3f" % (rnd, p["unanswered_ms"], un))
        # suspect transitions
        # The tracker counts a transition once a condition held for a
        # collection: checked in the second round.
        if spec["name"] != "orphan" and rnd == 2:
            tr = {dict(k[1])["condition"]: v for k, v in samples.series(
                "halfopen_suspect_transitions_total", tcp_service=svc, direction=direction).items()}
            for cond in want_sus:
                if tr.get(cond, 0) < 1:
                    self.fail(case, "round %d: no suspect transition into %s (%s)" % (rnd, cond, tr))
            if not want_sus and any(tr.values()):
                self.fail(case, "round %d: suspect transitions %s for a healthy socket" % (rnd, tr))

    def check_orphan_client(self, case, samples):
        v = samples.value("halfopen_close_wait_sockets", tcp_service="unmatched", direction="outbound")
        if v != 1:
            self.fail(case, "the orphan's client (CLOSE-WAIT) should be unmatched outbound: close_wait=%s" % v)
        v = samples.value("halfopen_retransmitting_sockets", tcp_service="unmatched", direction="outbound")
        if v != 0:
            self.fail(case, "a retransmitting socket counted unmatched outbound (the orphan?): %s" % v)

    # ------------------------------------------------------------ run
    def run(self):
        ns = self.ns
        ports = set()
        cases = []
        for spec in CASES:
            p = ns.free_port()
            while p in ports:
                p = ns.free_port()
            ports.add(p)
            cases.append(Case(spec, p))
        ns.exec(["ip", "route", "add", "local", TLP_ADDR + "/32", "dev", "lo", "table", "local", "rto_min", "15s"])
        by = {c.name: c for c in cases}
        # The orphan first: its listener is gone before the exporter starts.
        self.build(by["orphan"])
        cfg = services_config({c.name: c.port for c in cases}, by["orphan"].port)
        with testlib.Exporter(ns, cfg, interval="1s", extra_args=["--web.enable-sockets-page"]) as exp:
            self.exp = exp
            for c in cases:
                if c.name != "orphan":
                    self.build(c)
            t0 = time.monotonic()
            self.wait_produced(cases, 12)
            # One more collection after the last case settled, and the
            # stale case silent for longer than its stale_after (2 s).
            time.sleep(max(INTERVAL + 0.5, t0 + 2 + INTERVAL + 0.5 - time.monotonic()))
            self.check_round(cases, 1)
            self.check_orphan_client(by["orphan"], exp.samples())
            time.sleep(3.0)
            self.check_round(cases, 2)
            print("wall time from building to the checks: %.1fs" % (time.monotonic() - t0))
        for c in cases:
            if len(c.rounds) == 2 and any(x in HANGING for x in c.spec["classes"]):
                dt = c.rounds[1]["t"] - c.rounds[0]["t"]
                dh = c.rounds[1]["hang"] - c.rounds[0]["hang"]
                if abs(dh - dt) > INTERVAL + 0.5:
                    self.fail(c, "longest_hanging grew %.2fs over %.2fs of wall time" % (dh, dt))
        for c in cases:
            r = c.rounds[-1] if c.rounds else {}
            print("  %-10s %-11s %-9s unanswered %6.2fs hanging %6.2fs" % (
                c.name, c.spec["state"], c.spec["timer"], r.get("un", -1), r.get("hang", -1)))
        return not self.failures


def main():
    testlib.install_signal_handlers()
    testlib.require_root("ip netns, iptables")
    for tool in ("ip", "iptables", "ss"):
        if not shutil.which(tool):
            testlib.skip("%s not installed" % tool)
    with testlib.Netns("mx") as ns:
        ok = Matrix(ns).run()
    print("matrix: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
