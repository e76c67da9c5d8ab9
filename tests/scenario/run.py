#!/usr/bin/env python3
"""Scenario tests: the real halfopen_exporter against the real kernel.

    python3 tests/scenario/run.py NAME      (root; see tests/meson.build)

Each scenario builds its own network namespace(s), starts peers
(peer.py) and the exporter inside, provokes one TCP condition, and checks
that /metrics reports it AND that `ss -tnoi` (the oracle) shows the same
socket in the matching kernel state. Exit 0 on pass; non-zero with
expected-vs-got, /metrics values, ss output and exporter log on failure.
The last line is always "1 passed, 0 failed" or "0 passed, 1 failed".
"""
import gzip
import operator
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (Exporter, Netns, ScenarioFailure, SOURCE_ROOT,  # noqa: E402
                     exporter_binary, main_scenarios, parse_exposition, run,
                     scenario_registry, ss)

SCENARIO_TIMEOUT = 60  # seconds, whole scenario including cleanup
STALE_AFTER = 3.0
PORT = 12345
SEED_CONFIG = """\
defaults: {stale_after: 3s}
services:
  - {name: seed-client, direction: outbound, ports: [12345]}   # outbound: the REMOTE port
  - {name: seed-server, direction: inbound, ports: [12345]}    # inbound: the LOCAL port
"""
CLIENT = ("seed-client", "outbound")
SERVER = ("seed-server", "inbound")
PER_SERVICE = ["established", "stale", "retransmitting", "keepalive_probing", "zero_window",
               "close_wait", "keepalive", "longest_unanswered_seconds"]
SUSPECTS = ["stale", "retransmitting", "keepalive_probing", "zero_window", "close_wait"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metric(short):
    return "halfopen_" + short if short.endswith("_seconds") else "halfopen_%s_sockets" % short


# ------------------------------------------------------------ expectations

class Cmp:
    """A matcher for a metric value: Cmp('>', 0)."""
    OPS = {"==": operator.eq, ">": operator.gt, ">=": operator.ge, "<": operator.lt}

    def __init__(self, op, ref):
        self.op, self.ref = op, ref

    def __call__(self, v):
        return v is not None and self.OPS[self.op](v, self.ref)

    def __str__(self):
        return "%s %g" % (self.op, self.ref)


def as_cmp(want):
    return want if isinstance(want, Cmp) else Cmp("==", want)


def mismatches(s, table):
    """table: {(service, direction): {short metric: value or Cmp}} -> list of
    'want vs got' lines for what does not hold in samples s."""
    bad = []
    for (svc, dirn), wants in table.items():
        for short, want in wants.items():
            want = as_cmp(want)
            got = s.value(metric(short), tcp_service=svc, direction=dirn)
            if not want(got):
                bad.append("  %s{tcp_service=%s,direction=%s}: want %s, got %s" % (
                    metric(short), svc, dirn, want, "absent" if got is None else "%g" % got))
    return bad


def fmt_table(table):
    return "\n".join("  %s/%s: %s" % (svc, dirn, ", ".join("%s %s" % (k, as_cmp(v)) for k, v in w.items()))
                     for (svc, dirn), w in table.items())


def expect(exp, table, timeout, what):
    """Poll /metrics until every entry of table holds; the samples."""
    last = []

    def ok(s):
        last[:] = mismatches(s, table)
        return not last
    try:
        return exp.wait_for(ok, timeout, what)
    except ScenarioFailure as e:
        raise ScenarioFailure("%s\nexpected:\n%s\nbut /metrics said:\n%s\n%s" % (
            what, fmt_table(table), "\n".join(last), e)) from None


def all_zero(shorts=SUSPECTS + ["longest_unanswered_seconds"]):
    return {k: 0 for k in shorts}


def ss_expect(ns, pred, what, filt="", timeout=3.0):
    """The oracle: poll `ss` until a socket satisfies pred; that row."""
    deadline = time.monotonic() + timeout
    while True:
        rows = ss(ns, filt)
        for r in rows:
            if pred(r):
                return r
        if time.monotonic() >= deadline:
            raise ScenarioFailure("ss oracle: no socket where %s\nss -tnoi state all %s said:\n%s" % (
                what, filt, "\n".join("  " + l for l in ns.ss_text(filt).rstrip().splitlines())))
        time.sleep(0.2)


def show(row):
    return row["raw"].splitlines()[0].strip()


def agree(cond, msg, exp):
    if not cond:
        raise ScenarioFailure(exp.failure_report("exporter disagrees with ss: " + msg))


def idle_ms(row):
    return min(row["lastrcv"], row["lastack"])


def check_unanswered(exp, s, side, row):
    """longest_unanswered_seconds == ss lastack (the doc: since the peer last
    acknowledged anything), both taken back to the collection's time: the
    collection ended at halfopen_last_collection_timestamp_seconds and took
    halfopen_collection_duration_seconds; ss ran between row time and
    time_after."""
    got = s.value(metric("longest_unanswered_seconds"), tcp_service=side[0], direction=side[1])
    t_coll = s.value("halfopen_last_collection_timestamp_seconds") or 0
    dur = s.value("halfopen_collection_duration_seconds") or 0
    want = row["lastack"] / 1000.0 - (row["time"] - t_coll)
    tol = dur + (row["time_after"] - row["time"]) + 0.5
    agree(got is not None and abs(got - want) <= tol,
          "%s longest_unanswered_seconds=%s but ss lastack:%dms taken back %.2fs to the collection "
          "gives %.2f (tolerance %.2f) for %s" % (
              side[0], got, row["lastack"], row["time"] - t_coll, want, tol, show(row)), exp)
    print("%s longest_unanswered_seconds=%g, ss lastack at the collection ~%.2fs" % (side[0], got, want))


# ----------------------------------------------------------------- helpers

def start_server(ns, addr="127.0.0.1", *extra):
    srv = ns.peer("server", "--addr", addr, "--port", PORT, *extra)
    srv.expect("LISTEN")
    return srv


def connect(ns, srv, addr="127.0.0.1", *extra):
    cli = ns.peer("client", "--addr", addr, "--port", PORT, *extra)
    c = cli.expect("CONNECTED")
    srv.expect("ACCEPT")
    return cli, int(c["local"])


def seed_setup(ns, exp, family=4):
    """The seed repro up to the half-open state; returns (client peer,
    client port, time of connect). Checks the healthy phase on the way."""
    addr = "127.0.0.1" if family == 4 else "::1"
    srv = start_server(ns, addr)
    cli, cport = connect(ns, srv, addr)
    t_conn = time.monotonic()
    # Healthy: the client sends a byte every 0.5 s (a typing telnet user),
    # so neither end is idle however slow collections are; the first
    # collection that sees the connection must show no suspects at all.
    cli.send("tick 0.5")
    cli.expect("TICK")
    s = exp.wait_for(lambda s: s.value(metric("established"), tcp_service=CLIENT[0], direction=CLIENT[1]) == 1
                     and s.value(metric("established"), tcp_service=SERVER[0], direction=SERVER[1]) == 1,
                     timeout=10, what="healthy connection: established 1 on both services")
    bad = mismatches(s, {CLIENT: all_zero(), SERVER: all_zero()})
    if bad:
        raise ScenarioFailure(exp.failure_report(
            "healthy connection (talking every 0.5 s) already has suspects:\n%s" % "\n".join(bad), s))
    for svc, dirn in (CLIENT, SERVER):
        for short in PER_SERVICE:
            if s.value(metric(short), tcp_service=svc, direction=dirn) is None:
                raise ScenarioFailure(exp.failure_report(
                    "configured service %s/%s lacks %s" % (svc, dirn, metric(short)), s))
    cli.send("tick 0")
    cli.expect("TICK")
    r = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == cport and r["timer"] is None
                  and r["send_q"] == 0, "the healthy client is ESTAB, everything acked, no timer")
    print("ss healthy client:", show(r))
    # Half-open: packets to the client are dropped, the server dies; its
    # FIN never arrives.
    if family == 4:
        ns.iptables("-A", "INPUT", "-p", "tcp", "-d", addr, "--sport", str(PORT), "--dport", str(cport), "-j", "DROP")
    else:
        ns.ip6tables("-A", "INPUT", "-p", "tcp", "-d", addr, "--sport", str(PORT), "--dport", str(cport), "-j", "DROP")
    srv.kill()
    return cli, cport, t_conn


SEED_TABLE = {
    CLIENT: {"established": 1, "stale": 1, "retransmitting": 0, "keepalive_probing": 0,
             "zero_window": 0, "close_wait": 0, "keepalive": 0, "longest_unanswered_seconds": 0},
    SERVER: {"established": 0, "stale": 0, "retransmitting": 1, "keepalive_probing": 0,
             "zero_window": 0, "close_wait": 0, "keepalive": 0,
             "longest_unanswered_seconds": Cmp(">", 0)},
}


def seed_verify(ns, exp, cport):
    s = expect(exp, SEED_TABLE, timeout=15, what="seed: client stale, orphaned server socket retransmitting its FIN")
    c = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == cport and r["rport"] == PORT,
                  "the client is ESTAB")
    srv = ss_expect(ns, lambda r: r["state"] == "FIN-WAIT-1" and r["lport"] == PORT and r["rport"] == cport,
                    "the server socket is FIN-WAIT-1")
    print("ss client:", show(c), "| lastrcv:%d lastack:%d" % (c["lastrcv"], c["lastack"]))
    print("ss server:", show(srv), "| lastack:%d retrans:%s" % (srv["lastack"], srv["info"].get("retrans")))
    agree(c["timer"] is None and idle_ms(c) >= STALE_AFTER * 1000,
          "stale_sockets=1 but ss shows the client with timer %s, idle %dms" % (c["timer"], idle_ms(c)), exp)
    agree(srv["timer"] == "on" and srv["timer_retrans"] >= 1,
          "retransmitting_sockets=1 but ss shows the server %s" % show(srv), exp)
    check_unanswered(exp, s, SERVER, srv)
    for name, want in (("halfopen_collection_errors_total", Cmp("==", 0)),
                       ("halfopen_collections_total", Cmp(">=", 1)),
                       ("halfopen_collection_sockets", Cmp(">=", 2)),
                       # Services with ports: the kernel filtered by port (a
                       # bytecode the kernel rejects would fall back silently).
                       ("halfopen_collection_kernel_filter", Cmp("==", 1))):
        got = s.value(name)
        agree(want(got), "%s: want %s, got %s" % (name, want, got), exp)
    return s


# --------------------------------------------------------------- scenarios

SCENARIOS, scenario = scenario_registry()


@scenario
def seed():
    with Netns("seed") as ns, Exporter(ns, SEED_CONFIG) as exp:
        _, cport, _ = seed_setup(ns, exp)
        seed_verify(ns, exp, cport)


@scenario
def default_config():
    """The built-in config (no --config.file): the server's listening port
    is an inbound service listen_12345 and stays one after the server dies,
    so its orphaned FIN-WAIT-1 socket is counted there; the client is
    counted as unmatched/outbound; no kernel filter (every socket may
    match)."""
    with Netns("default") as ns, Exporter(ns, None) as exp:
        srv = start_server(ns)
        cli, cport = connect(ns, srv)
        listen = ("listen_%d" % PORT, "inbound")
        unmatched_out = ("unmatched", "outbound")
        exp.wait_for(lambda s: s.value(metric("established"), tcp_service=listen[0], direction=listen[1]) == 1,
                     timeout=10, what="listen_12345/inbound established 1")
        ns.iptables("-A", "INPUT", "-p", "tcp", "-d", "127.0.0.1", "--sport", str(PORT), "--dport", str(cport), "-j", "DROP")
        srv.kill()
        s = expect(exp, {listen: {"retransmitting": 1, "established": 0,
                                  "longest_unanswered_seconds": Cmp(">", 0)},
                         unmatched_out: {"established": 1, "retransmitting": 0}},
                   timeout=15, what="orphan retransmitting on listen_12345, client unmatched/outbound")
        agree(s.value("halfopen_collection_kernel_filter") == 0,
              "the built-in config counts unmatched sockets: no kernel filter expected", exp)
        srv_row = ss_expect(ns, lambda r: r["state"] == "FIN-WAIT-1" and r["lport"] == PORT,
                            "the server socket is FIN-WAIT-1")
        print("ss server:", show(srv_row))
        del cli


@scenario
def ipv6():
    with Netns("ipv6") as ns, Exporter(ns, SEED_CONFIG) as exp:
        _, cport, _ = seed_setup(ns, exp, family=6)
        seed_verify(ns, exp, cport)


@scenario
def client_writes():
    with Netns("cwrite") as ns, Exporter(ns, SEED_CONFIG) as exp:
        cli, cport, _ = seed_setup(ns, exp)
        seed_verify(ns, exp, cport)
        cli.send("send 100")
        cli.expect("SENT")
        table = {CLIENT: {"established": 1, "retransmitting": 1, "longest_unanswered_seconds": Cmp(">", 0),
                          "keepalive_probing": 0, "zero_window": 0, "close_wait": 0}}
        s1 = expect(exp, table, timeout=12, what="client data to a dead server: client retransmitting")
        t1 = s1.value("halfopen_last_collection_timestamp_seconds")
        r = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == cport and r["timer"] == "on"
                      and r["timer_retrans"] >= 1, "the client retransmits: timer:(on,...,N>=1)")
        print("ss client:", show(r), "| lastack:%d unacked:%s" % (r["lastack"], r["info"].get("unacked")))
        check_unanswered(exp, s1, CLIENT, r)
        s2 = exp.wait_for(lambda s: (s.value("halfopen_last_collection_timestamp_seconds") or 0) >= (t1 or 0) + 1.5,
                          timeout=10, what="two collections later")
        l1 = s1.value(metric("longest_unanswered_seconds"), tcp_service=CLIENT[0], direction=CLIENT[1])
        l2 = s2.value(metric("longest_unanswered_seconds"), tcp_service=CLIENT[0], direction=CLIENT[1])
        agree(l2 is not None and l1 is not None and l2 > l1,
              "longest_unanswered_seconds on seed-client should grow between collections: %s then %s" % (l1, l2), exp)
        print("longest_unanswered_seconds seed-client: %g -> %g" % (l1, l2))
        expect(exp, table, timeout=1, what="still retransmitting")


@scenario
def keepalive_live():
    with Netns("kalive") as ns, Exporter(ns, SEED_CONFIG) as exp:
        srv = start_server(ns)
        _, cport = connect(ns, srv, "127.0.0.1", "--keepalive", "1,1,20")
        t_conn = time.time()
        table = {CLIENT: {"established": 1, "keepalive": 1, "stale": 0, "keepalive_probing": 0,
                          "retransmitting": 0, "zero_window": 0, "close_wait": 0,
                          "longest_unanswered_seconds": 0}}
        # Idle (no data) for longer than stale_after, answered keepalive
        # probes only: every collection that started >= stale_after + 0.5 s
        # after the connect must say so; want 2 of them, 3 s apart at least.
        colls, deadline = set(), time.monotonic() + 25
        while True:
            s = exp.samples()
            tc = s.value("halfopen_last_collection_timestamp_seconds") or 0
            started = tc - (s.value("halfopen_collection_duration_seconds") or 0)
            if started >= t_conn + STALE_AFTER + 0.5:
                bad = mismatches(s, table)
                if bad:
                    raise ScenarioFailure(exp.failure_report(
                        "keepalive_live: %.1fs idle with answered keepalive, expected:\n%s\nbut:\n%s" % (
                            started - t_conn, fmt_table(table), "\n".join(bad)), s))
                colls.add(tc)
                if len(colls) >= 2 and time.time() - t_conn >= STALE_AFTER + 3:
                    break
            if time.monotonic() > deadline:
                raise ScenarioFailure(exp.failure_report(
                    "keepalive_live: only %d collection(s) after stale_after in 25 s" % len(colls), s))
            time.sleep(0.3)
        print("keepalive_live: %d collections checked, the last %.1fs after the connect" % (
            len(colls), max(colls) - t_conn))
        r = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == cport, "the client is ESTAB")
        print("ss client:", show(r), "| lastrcv:%d lastack:%d" % (r["lastrcv"], r["lastack"]))
        agree(r["timer"] == "keepalive" and r["lastack"] < STALE_AFTER * 1000 <= r["lastrcv"],
              "keepalive live: expected ss timer:(keepalive,...,0), lastack < stale_after <= lastrcv; got %s lastrcv:%d lastack:%d"
              % (show(r), r["lastrcv"], r["lastack"]), exp)


@scenario
def keepalive_dead():
    with Netns("kadead") as ns, Exporter(ns, SEED_CONFIG) as exp:
        srv = start_server(ns)
        _, cport = connect(ns, srv, "127.0.0.1", "--keepalive", "1,1,20")
        expect(exp, {CLIENT: {"established": 1, "keepalive": 1, "keepalive_probing": 0}}, timeout=10,
               what="keepalive on before the peer vanishes")
        # The server vanishes silently: nothing to or from the client port
        # passes any more, then the server dies (its FIN is dropped).
        for opt in ("--dport", "--sport"):
            ns.iptables("-A", "INPUT", "-p", "tcp", opt, str(cport), "-j", "DROP")
        srv.kill()
        table = {CLIENT: {"established": 1, "keepalive": 1, "keepalive_probing": 1,
                          "longest_unanswered_seconds": Cmp(">", 0), "retransmitting": 0,
                          "zero_window": 0, "close_wait": 0},
                 SERVER: {"retransmitting": 1, "established": 0}}
        s = expect(exp, table, timeout=12, what="keepalive_dead: client keepalive probes unanswered")
        r = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == cport, "the client is ESTAB")
        print("ss client:", show(r), "| lastrcv:%d lastack:%d" % (r["lastrcv"], r["lastack"]))
        agree(r["timer"] == "keepalive" and r["timer_retrans"] >= 1,
              "keepalive_probing_sockets=1 but ss shows %s (want timer:(keepalive,...,N>=1))" % show(r), exp)
        check_unanswered(exp, s, CLIENT, r)


@scenario
def zero_window():
    with Netns("zwin") as ns, Exporter(ns, SEED_CONFIG) as exp:
        srv = start_server(ns, "127.0.0.1", "--mode", "noread", "--rcvbuf", "4096")
        cli, cport = connect(ns, srv)
        cli.send("fill")
        print("client queued %s bytes" % cli.expect("FILLED")["n"])
        table = {CLIENT: {"established": 1, "zero_window": 1, "retransmitting": 0,
                          "keepalive_probing": 0, "close_wait": 0}}
        expect(exp, table, timeout=10, what="zero_window: the server stopped reading")
        r = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == cport and r["timer"] == "persist",
                      "the client probes a zero window: timer:(persist,...)")
        print("ss client:", show(r))
        peer = ss_expect(ns, lambda r: r["state"] == "ESTAB" and r["lport"] == PORT and r["rport"] == cport,
                         "the server socket")
        print("ss server:", show(peer))
        expect(exp, table, timeout=1, what="zero_window still")


@scenario
def close_wait():
    with Netns("cwait") as ns, Exporter(ns, SEED_CONFIG) as exp:
        srv = start_server(ns, "127.0.0.1", "--mode", "close")
        cli, cport = connect(ns, srv)
        cli.expect("EOF")
        table = {CLIENT: {"close_wait": 1, "established": 0, "stale": 0, "retransmitting": 0,
                          "keepalive_probing": 0, "zero_window": 0},
                 SERVER: {"close_wait": 0, "established": 0}}
        expect(exp, table, timeout=10, what="close_wait: the server closed, the client did not")
        r = ss_expect(ns, lambda r: r["state"] == "CLOSE-WAIT" and r["lport"] == cport, "the client is CLOSE-WAIT")
        print("ss client:", show(r))
        o = [x for x in ss(ns, "sport = :%d" % PORT) if x["rport"] == cport]
        if o:
            print("ss server:", show(o[0]))


@scenario
def healthy_busy():
    conns = 50
    with Netns("busy") as ns, Exporter(ns, SEED_CONFIG) as exp:
        srv = start_server(ns, "127.0.0.1", "--mode", "echo")
        busy = ns.peer("busy", "--addr", "127.0.0.1", "--port", PORT, "--conns", conns, "--period", "0.02")
        busy.expect("READY", timeout=10)
        table = {CLIENT: dict(all_zero(), established=conns, keepalive=0),
                 SERVER: dict(all_zero(), established=conns, keepalive=0)}
        expect(exp, {CLIENT: {"established": conns}, SERVER: {"established": conns}}, timeout=10,
               what="all %d connections established" % conns)
        # >= 6 s of traffic and >= 4 collections (slow collections on a
        # loaded host: up to 20 s, and 2 collections suffice).
        t0, checked = time.monotonic(), set()
        while time.monotonic() - t0 < 6 or (len(checked) < 4 and time.monotonic() - t0 < 20):
            if busy.proc.poll() is not None:
                raise ScenarioFailure("busy peer died: %r" % busy.history[-5:])
            s = exp.samples()
            bad = mismatches(s, table)
            if bad:
                raise ScenarioFailure(exp.failure_report(
                    "healthy_busy: %d connections in request/response for %.1fs, expected:\n%s\nbut:\n%s" % (
                        conns, time.monotonic() - t0, fmt_table(table), "\n".join(bad)), s))
            checked.add(s.value("halfopen_last_collection_timestamp_seconds"))
            time.sleep(0.4)
        if len(checked) < 2:
            raise ScenarioFailure(exp.failure_report(
                "healthy_busy: only %d distinct collection(s) in %.0f s" % (len(checked), time.monotonic() - t0)))
        rows = ss(ns, "'( sport = :%d or dport = :%d )'" % (PORT, PORT))
        est = [r for r in rows if r["state"] == "ESTAB"]
        odd = [show(r) for r in est if r["timer"] not in (None, "on") or (r["timer"] == "on" and r["timer_retrans"])]
        agree(len(est) == 2 * conns and not odd,
              "ss shows %d ESTAB sockets (want %d), suspicious timers: %s" % (len(est), 2 * conns, odd[:5]), exp)
        busy.proc.stdin.close()
        print("busy:", busy.expect("DONE"), "collections checked: %d" % len(checked))


@scenario
def http():
    binary = exporter_binary()
    with Netns("http") as ns:
        with Exporter(ns, SEED_CONFIG) as exp:
            st, h, body = exp.request("GET", "/metrics")
            want(st == 200, "GET /metrics: status %d" % st)
            want(h.get("content-type") == CONTENT_TYPE,
                 "GET /metrics Content-Type: want %r, got %r" % (CONTENT_TYPE, h.get("content-type")))
            plain = parse_exposition(body.decode())
            want("halfopen_build_info" in plain.names(), "no halfopen_build_info in /metrics")
            st, hz, zbody = exp.request("GET", "/metrics", {"Accept-Encoding": "gzip"})
            want(st == 200 and hz.get("content-encoding") == "gzip",
                 "GET /metrics with Accept-Encoding: gzip: status %d Content-Encoding %r (want gzip)" % (
                     st, hz.get("content-encoding")))
            want(hz.get("content-type") == CONTENT_TYPE, "gzip Content-Type %r" % hz.get("content-type"))
            try:
                unz = parse_exposition(gzip.decompress(zbody).decode())
            except (OSError, EOFError) as e:
                raise ScenarioFailure("gzip body does not decompress: %s (%r)" % (e, zbody[:40]))
            want(unz.names() == plain.names(), "gzip and plain sample names differ: %s" % (
                sorted(unz.names() ^ plain.names())))
            st, hh, hbody = exp.request("HEAD", "/metrics")
            want(st == 200 and hbody == b"" and hh.get("content-type") == CONTENT_TYPE,
                 "HEAD /metrics: status %d, body %d bytes, Content-Type %r" % (st, len(hbody), hh.get("content-type")))
            st, _, _ = exp.request("POST", "/metrics", {"Content-Length": "0"})
            want(st == 405, "POST /metrics: want 405, got %d" % st)
            st, _, _ = exp.request("GET", "/no/such/path")
            want(st == 404, "GET /no/such/path: want 404, got %d" % st)
            st, _, page = exp.request("GET", "/")
            want(st == 200 and re.search(rb'href=["\']?/metrics["\' >]', page),
                 "GET /: want 200 and a link to /metrics, got %d %r" % (st, page[:300]))
            st, _, _ = exp.request("GET", "/-/ready")
            want(st == 200, "GET /-/ready: want 200, got %d" % st)
            # SIGTERM exits 0 promptly.
            t0 = time.monotonic()
            exp.stop(check=True, timeout=5)
            dt = time.monotonic() - t0
            print("SIGTERM: exit 0 after %.2fs" % dt)
        with Exporter(ns, SEED_CONFIG, extra_args=["--web.telemetry-path=/custom"],
                      telemetry_path="/custom") as exp:
            s = parse_exposition(exp.scrape("/custom"))
            want("halfopen_collections_total" in s.names(), "/custom lacks halfopen_collections_total")
            st, _, _ = exp.request("GET", "/metrics")
            want(st == 404, "with --web.telemetry-path=/custom, GET /metrics: want 404, got %d" % st)
            st, _, page = exp.request("GET", "/")
            want(st == 200 and b"/custom" in page, "landing page does not link /custom: %r" % page[:300])
            build = s.series("halfopen_build_info")
        cp = run([binary, "--version"], timeout=5, check=False)
        out = cp.stdout + cp.stderr
        want(cp.returncode == 0 and re.search(r"\d+\.\d+\.\d+", out),
             "--version: want exit 0 and a version, got rc=%d %r" % (cp.returncode, out[:300]))
        version = project_version()
        if version:
            want(version in out, "--version output %r lacks the project version %s" % (out[:200], version))
            labels = [dict(k[1]) for k in build]
            want(any(l.get("version") == version for l in labels),
                 "halfopen_build_info labels %r lack version=%s" % (labels, version))
        print("--version:", out.strip().splitlines()[0] if out.strip() else "")
        cp = ns.exec([binary, "--log.level=bogus", "--web.listen-address=127.0.0.1:%d" % ns.free_port()],
                     timeout=5, check=False)
        want(cp.returncode > 0 and ("log.level" in cp.stderr or "bogus" in cp.stderr),
             "--log.level=bogus: want exit > 0 and a message naming it, got rc=%d stderr %r" % (
                 cp.returncode, cp.stderr[:300]))
        print("bad --log.level:", cp.stderr.strip().splitlines()[0] if cp.stderr.strip() else "")


def want(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


def project_version():
    try:
        with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
            m = re.search(r"version\s*:\s*'([^']+)'", f.read())
            return m.group(1) if m else None
    except OSError:
        return None


def cidr_key():
    """The config key that holds peer CIDRs, as the examples spell it."""
    for path in sorted(_examples()):
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*-?\s*(\w+)\s*:\s*\[?\s*['\"]?[0-9a-fA-F:.]+/\d+", line)
                if m:
                    return m.group(1), True
    return "cidrs", False


def _examples():
    import glob
    return glob.glob(os.path.join(SOURCE_ROOT, "config", "examples", "*.yaml"))


@scenario
def config_check():
    binary = exporter_binary()
    examples = sorted(_examples())
    want(examples, "no config/examples/*.yaml to check")
    for path in examples:
        cp = run([binary, "--config.check", "--config.file=" + path], timeout=10, check=False)
        want(cp.returncode == 0, "--config.check %s: want exit 0, got %d\n%s" % (
            os.path.relpath(path, SOURCE_ROOT), cp.returncode, cp.stderr))
        print("ok", os.path.relpath(path, SOURCE_ROOT))
    cp = run([binary, "-n", "--config.file=" + examples[0]], timeout=10, check=False)
    want(cp.returncode == 0, "-n %s: want exit 0, got %d\n%s" % (examples[0], cp.returncode, cp.stderr))
    key, found = cidr_key()
    bad = [
        ("unknown key", "defaults:\n  stale_afterr: 3s\nservices:\n"
         "  - {name: a, direction: outbound, ports: [12345]}\n", 2, "stale_afterr"),
        ("port 70000", "services:\n  - name: a\n    direction: outbound\n    ports: [70000]\n", 4, "ports"),
        ("bad CIDR (key %r%s)" % (key, "" if found else ", guessed: no example uses CIDRs"),
         "services:\n  - name: a\n    direction: outbound\n    ports: [12345]\n    %s: [10.1.2.3/33]\n" % key,
         5, key),
    ]
    with tempfile.TemporaryDirectory(prefix="ho-cfg-") as d:
        for i, (what, text, line, k) in enumerate(bad):
            path = os.path.join(d, "bad%d.yaml" % i)
            with open(path, "w") as f:
                f.write(text)
            cp = run([binary, "--config.check", "--config.file=" + path], timeout=10, check=False)
            m = re.search(re.escape(path) + r":(\d+):(\d+): ([^:\n]*): (.+)", cp.stderr)
            want(cp.returncode > 0 and m and int(m.group(1)) == line and k in m.group(3),
                 "--config.check on a config with %s: want exit > 0 and stderr '%s:%d:COL: <key with %s>: msg', "
                 "got rc=%d stderr:\n%s" % (what, path, line, k, cp.returncode, cp.stderr))
            print("rejected %s: %s" % (what, m.group(0).replace(d + "/", "")))
        # A bad --config.file on a real start: a clean non-zero exit, no crash.
        with Netns("cfg") as ns:
            for path in (os.path.join(d, "bad0.yaml"), os.path.join(d, "missing.yaml")):
                cp = ns.exec([binary, "--config.file=" + path, "--collector.interval=1s",
                              "--web.listen-address=127.0.0.1:%d" % ns.free_port()], timeout=5, check=False)
                want(cp.returncode > 0 and os.path.basename(path) in cp.stderr,
                     "starting with bad --config.file=%s: want exit > 0 (not a signal) naming the file, "
                     "got rc=%d stderr %r" % (path, cp.returncode, cp.stderr[:400]))
                print("start with %s: rc=%d" % (os.path.basename(path), cp.returncode))


@scenario
def promtool():
    promtool_bin = "/usr/bin/promtool"
    want(os.access(promtool_bin, os.X_OK), "no %s (install package prometheus)" % promtool_bin)
    with Netns("promtool") as ns, Exporter(ns, SEED_CONFIG) as exp:
        _, cport, _ = seed_setup(ns, exp)
        seed_verify(ns, exp, cport)
        text = exp.scrape()
        cp = run([promtool_bin, "check", "metrics"], input=text, timeout=20, check=False)
        out = (cp.stdout + cp.stderr).strip()
        want(cp.returncode == 0 and not out,
             "promtool check metrics: rc=%d, output:\n%s" % (cp.returncode, out))
        print("promtool check metrics: clean (%d lines checked)" % len(text.splitlines()))



if __name__ == "__main__":
    sys.exit(main_scenarios(SCENARIOS, SCENARIO_TIMEOUT))
