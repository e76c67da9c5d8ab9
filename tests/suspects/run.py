#!/usr/bin/env python3
"""Suspect tracking, the /sockets page and remediation, end to end.

    python3 tests/suspects/run.py NAME      (root; see docs/suspects.md)

Each scenario runs the real halfopen_exporter in network namespaces it
creates (tests/scenario/testlib.py), provokes half-open connections with
tests/scenario/peer.py, and checks the exporter against the kernel (`ss`):

  transitions         a half-open client killed by keepalive: transitions,
                      closed counters and the duration histogram
  page_json           GET /sockets (JSON) against `ss -tnoi` for the same
                      socket; limit parsing; content negotiation; off by
                      default
  page_html           the HTML page in headless Chromium: a screenshot with
                      real suspects (saved under <build>/tests/suspects/)
  remediation         destroy_after: the client's blocked read fails within
                      destroy_after + one interval; a service without
                      destroy_after, in the same namespace at the same time,
                      still hangs (the "off" measurement)
  remediation_dry_run --remediation.dry-run: logged, counted, not destroyed
  remediation_no_cap  without CAP_NET_ADMIN: counted as an error, the socket
                      keeps hanging, the exporter keeps running

The last line is "1 passed, 0 failed" or "0 passed, 1 failed".
"""
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402
from testlib import (Exporter, Netns, ScenarioFailure, main_scenarios,  # noqa: E402
                     run, scenario_registry, ss)

SCENARIO_TIMEOUT = 120
# --collector.interval and the opted-in service's destroy_after, seconds.
# Overridable for measurements on machines whose dumps are slow.
INTERVAL = float(os.environ.get("HALFOPEN_SUSPECTS_INTERVAL", "1"))
DESTROY_AFTER = float(os.environ.get("HALFOPEN_SUSPECTS_DESTROY_AFTER", "3"))
IVL = "%dms" % (INTERVAL * 1000)
PAGE_FLAG = "--web.enable-sockets-page"
DRY_RUN_FLAG = "--remediation.dry-run"

A_PORT, B_PORT, CW_PORT, ZW_PORT = 12345, 12346, 12347, 12348

CONFIG = """\
defaults: {stale_after: 3s}
services:
  - {name: seed-client, direction: outbound, ports: [12345], destroy_after: %dms}
  - {name: seed-server, direction: inbound, ports: [12345]}
  - {name: other-client, direction: outbound, ports: [12346]}
  - {name: other-server, direction: inbound, ports: [12346]}
  - {name: cw-client, direction: outbound, ports: [12347]}
  - {name: zw-client, direction: outbound, ports: [12348]}
""" % (DESTROY_AFTER * 1000)
NO_REMEDIATION_CONFIG = re.sub(r", destroy_after: \d+ms", "", CONFIG)

# The documented JSON schema (docs/suspects.md), every key of a socket.
SOCKET_KEYS = {
    "service", "direction", "family", "local_address", "local_port", "peer_address",
    "peer_port", "state", "class", "keepalive", "timer", "idle_ms", "unanswered_ms",
    "suspect_ms", "condition_ms", "retransmits", "total_retransmits", "backoff", "unacked",
    "recv_q", "send_q", "netns", "pod_namespace", "pod", "cookie", "current", "remediated",
    "silent_ms", "path", "keepalive_effective", "user_timeout",
}
TOP_KEYS = {"schema", "collected", "collection_time", "total", "shown", "limit", "truncated",
            "dropped_total", "sockets"}


def want(cond, msg):
    if not cond:
        raise ScenarioFailure(msg)


def output_dir():
    """<build>/tests/suspects: where screenshots and reports go."""
    root = os.environ.get("HALFOPEN_BUILD_ROOT")
    if not root:
        root = os.path.dirname(testlib.exporter_binary())
    d = os.path.join(root, "tests", "suspects")
    os.makedirs(d, exist_ok=True)
    return d


def measure_cadence(exp, collections=3):
    """(period, duration) in seconds: the longest gap between the starts of
    consecutive collections and the longest collection, over a few. On a
    fast machine period is the interval; where a dump takes longer than the
    interval (a large TCP hash table on a small VM), the exporter skips
    slots and every bound in these tests stretches with it."""
    stamps, durs = [], []
    deadline = time.monotonic() + 30
    while len(stamps) < collections + 1 and time.monotonic() < deadline:
        s = exp.samples()
        t = s.value("halfopen_last_collection_timestamp_seconds")
        if t and (not stamps or t != stamps[-1]):
            stamps.append(t)
            durs.append(s.value("halfopen_collection_duration_seconds") or 0.0)
        time.sleep(0.1)
    want(len(stamps) >= 2, "fewer than 2 collections in 30s")
    period = max(b - a for a, b in zip(stamps, stamps[1:]))
    dur = max(durs)
    print("cadence: period %.2fs (interval %gs), collection %.2fs" % (period, INTERVAL, dur))
    return max(period, INTERVAL), dur


def destroy_bound(period, dur):
    """Latest time from a send to the client's error: retransmitting starts
    after the first RTO (~0.2s, 0.3 allowed), the first collection that
    sees it starts within a period, remediation acts at the first
    collection destroy_after later (a whole number of periods) once its
    dump is done. With collections on time: destroy_after + interval +
    collection time + RTO."""
    steps = -(-(DESTROY_AFTER - 0.1) // period)
    return 0.3 + period + steps * period + dur


def counter(s, name, svc, cond=None):
    labels = {"tcp_service": svc[0], "direction": svc[1]}
    if cond:
        labels["condition"] = cond
    return s.value(name, **labels)


SEED_CLIENT = ("seed-client", "outbound")
SEED_SERVER = ("seed-server", "inbound")
OTHER_CLIENT = ("other-client", "outbound")


# ------------------------------------------------------------------ peers

def server(ns, port, *extra):
    srv = ns.peer("server", "--addr", "127.0.0.1", "--port", port, *extra)
    srv.expect("LISTEN")
    return srv


def client(ns, srv, port, *extra):
    cli = ns.peer("client", "--addr", "127.0.0.1", "--port", port, *extra)
    c = cli.expect("CONNECTED")
    srv.expect("ACCEPT")
    return cli, int(c["local"])


def half_open(ns, srv, cport, sport, both_ways=False):
    """The seed repro: nothing from the server's port sport reaches the
    client port any more, then the server dies (its FIN and RST never
    arrive). Only that pair of ports: a scraper whose ephemeral port is
    cport again (connect() reuses a port for another peer) must still be
    answered (CI once timed out connecting to the exporter)."""
    ns.iptables("-A", "INPUT", "-p", "tcp", "-d", "127.0.0.1", "--sport", str(sport),
                "--dport", str(cport), "-j", "DROP")
    if both_ways:
        ns.iptables("-A", "INPUT", "-p", "tcp", "-s", "127.0.0.1", "--sport", str(cport),
                    "--dport", str(sport), "-j", "DROP")
    srv.kill()


def ss_row(ns, cport):
    """The client socket on local port cport, to one of the test's servers:
    connect() may give a scrape the same local port for another peer (the
    exporter), whose socket must not stand in for it (seen: a scrape's
    TIME-WAIT socket compared with the page's ESTAB client)."""
    rows = [r for r in ss(ns, "sport = :%d" % cport)
            if r["lport"] == cport and r["rport"] in (A_PORT, B_PORT, CW_PORT, ZW_PORT)]
    return rows[0] if rows else None


def show(row):
    return row["raw"].splitlines()[0].strip() if row else "(no socket)"


# ----------------------------------------------------------- /sockets page

def get_sockets(exp, query="", accept=None):
    """(status, headers, body bytes) of GET /sockets?query."""
    path = "/sockets" + ("?" + query if query else "")
    return exp.request("GET", path, headers={"Accept": accept} if accept else None)


def sockets_json(exp, query="format=json"):
    st, h, body = get_sockets(exp, query)
    want(st == 200, "GET /sockets?%s: status %d %r\n%s" % (query, st, body[:300], exp.stderr_text(10)))
    want(h.get("content-type", "").startswith("application/json"),
         "GET /sockets?%s: Content-Type %r" % (query, h.get("content-type")))
    try:
        return json.loads(body)
    except ValueError as e:
        raise ScenarioFailure("GET /sockets?%s: not JSON (%s): %r" % (query, e, body[:500]))


def wait_socket(exp, pred, what, timeout=10):
    """Poll /sockets until a socket satisfies pred; (that socket, page)."""
    deadline = time.monotonic() + timeout
    page = None
    while time.monotonic() < deadline:
        page = sockets_json(exp, "format=json&limit=1000")
        for s in page["sockets"]:
            if pred(s):
                return s, page
        time.sleep(0.25)
    raise ScenarioFailure(exp.failure_report("no socket on /sockets where %s; last page:\n%s" % (
        what, json.dumps(page, indent=1)[:3000] if page else None)))


# ---------------------------------------------------------------- scenarios

SCENARIOS, scenario = scenario_registry()


@scenario
def transitions():
    """A half-open client with keepalive 1,1,4: stale and keepalive probing
    appear (one transition each), then keepalive kills it (closed under
    each), and its episode lands in the histogram."""
    with Netns("strans") as ns, Exporter(ns, CONFIG, interval=IVL) as exp:
        srv = server(ns, A_PORT)
        cli, cport = client(ns, srv, A_PORT, "--keepalive", "1,1,4")
        exp.wait_for(lambda s: s.value("halfopen_established_sockets", tcp_service="seed-client",
                                       direction="outbound") == 1, timeout=5, what="client established")
        period, dur = measure_cadence(exp, 2)
        slow = 4 * period + dur
        t0 = time.monotonic()
        half_open(ns, srv, cport, A_PORT, both_ways=True)

        s = exp.wait_for(lambda s: (counter(s, "halfopen_suspect_transitions_total", SEED_CLIENT,
                                            "keepalive_probing") or 0) >= 1,
                         timeout=6 + slow, what="seed-client keepalive_probing transition")
        print("keepalive_probing transition after %.1fs" % (time.monotonic() - t0))
        r = ss_row(ns, cport)
        print("ss client while probing:", show(r))

        s = exp.wait_for(lambda s: (counter(s, "halfopen_suspect_closed_total", SEED_CLIENT,
                                            "keepalive_probing") or 0) >= 1,
                         timeout=10 + slow, what="seed-client closed after keepalive gave up")
        t_closed = time.monotonic() - t0
        want(ss_row(ns, cport) is None,
             exp.failure_report("closed_total counted but ss still shows the client: %s" % show(ss_row(ns, cport)), s))
        ev = None
        try:
            ev = cli.expect("ERROR", timeout=2)
        except ScenarioFailure:
            pass
        print("client killed by keepalive: %s; closed counted %.1fs after the peer vanished" % (ev, t_closed))

        # Two more collections: nothing counts twice.
        t1 = s.value("halfopen_last_collection_timestamp_seconds") or 0
        s = exp.wait_for(lambda s: (s.value("halfopen_last_collection_timestamp_seconds") or 0) >= t1 + 2 * INTERVAL,
                         timeout=2 + 3 * period + dur, what="two more collections")
        expect = {
            ("halfopen_suspect_transitions_total", "keepalive_probing"): 1,
            ("halfopen_suspect_closed_total", "keepalive_probing"): 1,
            ("halfopen_suspect_recovered_total", "keepalive_probing"): 0,
            ("halfopen_suspect_transitions_total", "retransmitting"): 0,
            ("halfopen_suspect_transitions_total", "zero_window"): 0,
        }
        for (name, cond), v in expect.items():
            got = counter(s, name, SEED_CLIENT, cond)
            want(got == v, exp.failure_report("%s{seed-client,%s}: want %s, got %s" % (name, cond, v, got), s))
        stale_t = counter(s, "halfopen_suspect_transitions_total", SEED_CLIENT, "stale")
        stale_c = counter(s, "halfopen_suspect_closed_total", SEED_CLIENT, "stale")
        want(stale_t == stale_c and stale_t in (0, 1),
             "stale transitions %s / closed %s: want equal, 0 or 1" % (stale_t, stale_c))
        count = s.value("halfopen_suspect_duration_seconds_count", tcp_service="seed-client", direction="outbound")
        total = s.value("halfopen_suspect_duration_seconds_sum", tcp_service="seed-client", direction="outbound")
        inf = s.value("halfopen_suspect_duration_seconds_bucket", tcp_service="seed-client",
                      direction="outbound", le="+Inf")
        le1 = s.value("halfopen_suspect_duration_seconds_bucket", tcp_service="seed-client",
                      direction="outbound", le="1")
        want(count == 1 and inf == 1, "duration histogram count %s, +Inf %s: want 1" % (count, inf))
        want(total is not None and 1 <= total <= 10 + slow,
             "duration sum %s: want the episode's length, 1..%.0f s" % (total, 10 + slow))
        want(le1 == 0, "a %gs episode in the le=1 bucket" % total)
        # The orphaned server socket, FIN unanswered: a retransmitting
        # transition on the server side.
        srv_t = counter(s, "halfopen_suspect_transitions_total", SEED_SERVER, "retransmitting")
        want((srv_t or 0) >= 1, "seed-server retransmitting transitions: %s, want >= 1" % srv_t)
        print("transitions: keepalive_probing 1, stale %d; closed: keepalive_probing 1; "
              "duration %.0fs (count %d); seed-server retransmitting %d" % (stale_t, total, count, srv_t))
        for name in ("halfopen_suspects_tracked", "halfopen_suspects_dropped_total",
                     "halfopen_suspects_memory_bytes"):
            want(s.value(name) is not None, "no %s" % name)
        want(s.types.get("halfopen_suspect_duration_seconds") == "histogram",
             "halfopen_suspect_duration_seconds TYPE %r" % s.types.get("halfopen_suspect_duration_seconds"))


@scenario
def page_json():
    """A client retransmitting to a dead server: its /sockets entry says
    what `ss -tnoi` says about the same socket."""
    with Netns("spage") as ns:
        with Exporter(ns, CONFIG, interval=IVL, extra_args=[]) as exp:
            st, _, _ = get_sockets(exp)
            want(st == 404, "without %s, GET /sockets: want 404, got %d" % (PAGE_FLAG, st))
        with Exporter(ns, NO_REMEDIATION_CONFIG, interval=IVL, extra_args=[PAGE_FLAG]) as exp:
            page = sockets_json(exp)
            want(set(page) == TOP_KEYS, "top-level keys %s, want %s" % (sorted(page), sorted(TOP_KEYS)))
            want(page["schema"] == "halfopen.sockets.v1", "schema %r" % page["schema"])

            period, dur = measure_cadence(exp, 2)
            srv = server(ns, A_PORT)
            cli, cport = client(ns, srv, A_PORT)
            time.sleep(0.5)
            half_open(ns, srv, cport, A_PORT)
            cli.send("send 100")
            cli.expect("SENT")
            sock, page = wait_socket(
                exp, lambda s: s["local_port"] == cport and "retransmitting" in s["class"]
                and s["retransmits"] >= 2, "the client retransmitting (>= 2)", timeout=10 + 3 * period)
            row = ss_row(ns, cport)
            print("/sockets:", json.dumps(sock))
            print("ss:      ", row["raw"].replace("\n", " ") if row else None)
            want(row is not None, "ss does not show the client")
            want(set(sock) == SOCKET_KEYS, "socket keys differ from the schema: extra %s, missing %s" % (
                sorted(set(sock) - SOCKET_KEYS), sorted(SOCKET_KEYS - set(sock))))

            def agree(cond, what):
                if not cond:
                    raise ScenarioFailure(exp.failure_report(
                        "/sockets disagrees with ss on %s:\n  /sockets: %s\n  ss: %s" % (
                            what, json.dumps(sock), row["raw"])))

            agree(row["local"] == "%s:%d" % (sock["local_address"], sock["local_port"]), "local")
            agree(row["peer"] == "%s:%d" % (sock["peer_address"], sock["peer_port"]), "peer")
            agree(sock["peer_port"] == A_PORT and sock["family"] == "ipv4", "peer port/family")
            agree(row["state"] == sock["state"] == "ESTAB", "state")
            agree(row["timer"] == sock["timer"] == "on", "timer")
            # ss looks later than the dump did: retransmissions back off
            # exponentially (0.2, 0.6, 1.4, 3s...), so a step or two.
            agree(0 <= row["timer_retrans"] - sock["retransmits"] <= 2, "retransmits vs timer:(on,_,N)")
            agree(0 <= row["backoff"] - sock["backoff"] <= 2, "backoff")
            agree(sock["unacked"] == int(row["info"].get("unacked", 0)) == 1, "unacked")
            agree(sock["send_q"] == row["send_q"] == 100, "send_q")
            agree(sock["recv_q"] == row["recv_q"], "recv_q")
            # The page is as old as its collection's dump; ss runs after.
            lag = 1000 * (period + dur + 3.0)
            agree(0 <= row["lastack"] - sock["unanswered_ms"] <= lag, "unanswered_ms vs lastack")
            agree(0 <= min(row["lastrcv"], row["lastack"]) - sock["idle_ms"] <= lag, "idle_ms vs lastrcv/lastack")
            agree(sock["service"] == "seed-client" and sock["direction"] == "outbound", "service")
            agree(sock["keepalive"] is False and sock["netns"] == 0, "keepalive/netns")
            agree(sock["pod"] is None and sock["pod_namespace"] is None, "pod")
            agree(re.fullmatch(r"[1-9][0-9]*", sock["cookie"]) is not None, "cookie")
            agree(sock["current"] is True and sock["remediated"] is False, "current/remediated")
            agree(sock["suspect_ms"] >= sock["condition_ms"]["retransmitting"] >= 0, "suspect_ms")
            un = [s["unanswered_ms"] for s in page["sockets"]]
            want(un == sorted(un, reverse=True), "not worst first: unanswered_ms %s" % un)
            want(page["total"] >= page["shown"] == len(page["sockets"]), "total/shown %s/%s" % (page["total"], page["shown"]))

            # limit and negotiation
            for q in ("limit=0", "limit=-1", "limit=abc", "format=xml"):
                st, _, body = get_sockets(exp, q)
                want(st == 400, "GET /sockets?%s: want 400, got %d %r" % (q, st, body[:200]))
            p1 = sockets_json(exp, "format=json&limit=1")
            want(p1["limit"] == 1 and p1["shown"] <= 1, "limit=1: %s" % {k: p1[k] for k in ("limit", "shown")})
            p2 = sockets_json(exp, "format=json&limit=100000")
            want(p2["limit"] == 1000, "limit=100000: clamped limit %s, want 1000" % p2["limit"])
            st, h, body = get_sockets(exp, "", accept="text/html,application/xhtml+xml,*/*;q=0.8")
            want(st == 200 and h.get("content-type", "").startswith("text/html") and b"<table" in body,
                 "browser Accept: status %d, %r" % (st, h.get("content-type")))
            st, h, body = get_sockets(exp, "", accept="*/*")
            want(st == 200 and h.get("content-type", "").startswith("application/json"),
                 "Accept */*: status %d, %r (want JSON)" % (st, h.get("content-type")))
            print("page_json: %d fields agree with ss; limit/format/Accept handled" % len(SOCKET_KEYS))


def png_pixels(path):
    """(width, height, rows of RGB tuples) of a non-interlaced 8-bit RGB or
    RGBA PNG, stdlib only."""
    with open(path, "rb") as f:
        data = f.read()
    want(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    want(depth == 8 and ctype in (2, 6) and not interlace, "unexpected PNG format %s" % (ihdr,))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ft, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def count_color(rows, bpp, rgb, tol=12):
    n = 0
    for line in rows:
        for x in range(0, len(line), bpp):
            if all(abs(line[x + k] - rgb[k]) <= tol for k in range(3)):
                n += 1
    return n


@scenario
def page_html():
    """Four kinds of real suspects, the HTML page rendered by headless
    Chromium: a screenshot (looked at by a human) and its DOM (checked
    here), both saved under <build>/tests/suspects/."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    want(chromium, "no chromium (apt-get install -y chromium)")
    out = output_dir()
    png = os.path.join(out, "sockets_page.png")
    if os.path.exists(png):
        os.unlink(png)
    with Netns("shtml") as ns, Exporter(ns, NO_REMEDIATION_CONFIG, interval=IVL, extra_args=[PAGE_FLAG]) as exp:
        # retransmitting: data to a dead server
        srv_a = server(ns, A_PORT)
        cli_a, cport_a = client(ns, srv_a, A_PORT)
        # stale: a second idle connection to a dead server
        cli_s, cport_s = client(ns, srv_a, A_PORT)
        # CLOSE_WAIT: the server closes, the client never does
        srv_cw = server(ns, CW_PORT, "--mode", "close")
        cli_cw, cport_cw = client(ns, srv_cw, CW_PORT)
        cli_cw.expect("EOF")
        # zero window: the server stops reading
        srv_zw = server(ns, ZW_PORT, "--mode", "noread", "--rcvbuf", "4096")
        cli_zw, cport_zw = client(ns, srv_zw, ZW_PORT)
        cli_zw.send("fill")
        cli_zw.expect("FILLED")
        for port in (cport_a, cport_s):
            ns.iptables("-A", "INPUT", "-p", "tcp", "-d", "127.0.0.1", "--sport", str(A_PORT),
                        "--dport", str(port), "-j", "DROP")
        srv_a.kill()
        cli_a.send("send 100")
        cli_a.expect("SENT")
        wanted = {cport_a: "retransmitting", cport_s: "stale", cport_cw: "close_wait", cport_zw: "zero_window"}

        def all_there(_s):
            page = sockets_json(exp, "format=json&limit=1000")
            got = {s["local_port"]: s["class"] for s in page["sockets"]}
            return all(p in got and c in got[p] for p, c in wanted.items())
        period, dur = measure_cadence(exp, 1)
        exp.wait_for(all_there, timeout=10 + 3 * period + dur, what="all four suspect kinds on /sockets")
        time.sleep(2 * INTERVAL)  # let the ages grow a little for the picture

        url = "http://%s:%d/sockets" % (exp.host, exp.port)
        with tempfile.TemporaryDirectory(prefix="ho-chromium-") as prof:
            base = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--user-data-dir=" + prof,
                    "--window-size=1200,800"]
            cp = ns.exec(base + ["--screenshot=" + png, url], timeout=90, check=False)
            want(os.path.exists(png), "chromium wrote no screenshot (rc %d):\n%s" % (
                cp.returncode, (cp.stdout + cp.stderr)[-2000:]))
            cp = ns.exec(base + ["--dump-dom", url], timeout=90, check=False)
            dom = cp.stdout
        with open(os.path.join(out, "sockets_page.dom.html"), "w") as f:
            f.write(dom)
        for port, cls in wanted.items():
            want(re.search(r"127\.0\.0\.1:%d</td>.*?%s" % (port, cls), dom),
                 "the page Chromium rendered has no row for 127.0.0.1:%d (%s); DOM saved in %s" % (
                     port, cls, out))
        w, h, bpp, rows = png_pixels(png)
        want((w, h) == (1200, 800), "screenshot is %dx%d, want 1200x800" % (w, h))
        red = count_color(rows, bpp, (0xc6, 0x28, 0x28))
        blue = count_color(rows, bpp, (0x15, 0x65, 0xc0))
        want(red > 50 and blue > 50, "the screenshot lacks the class badges (red %d, blue %d pixels): %s" % (
            red, blue, png))
        print("screenshot %s (%dx%d, %d red / %d blue badge pixels); DOM has all 4 rows" % (png, w, h, red, blue))


def remediation_setup(ns, exp):
    """Two half-open clients with data pending, to seed-client (opted in)
    and other-client (not). Returns (cli_a, cport_a, cli_b, cport_b, t_sent)."""
    srv_a = server(ns, A_PORT)
    srv_b = server(ns, B_PORT)
    cli_a, cport_a = client(ns, srv_a, A_PORT)
    cli_b, cport_b = client(ns, srv_b, B_PORT)
    exp.wait_for(lambda s: s.value("halfopen_established_sockets", tcp_service="seed-client",
                                   direction="outbound") == 1, timeout=10, what="clients established")
    half_open(ns, srv_a, cport_a, A_PORT)
    half_open(ns, srv_b, cport_b, B_PORT)
    cli_a.send("send 100")
    cli_b.send("send 100")
    cli_a.expect("SENT")
    cli_b.expect("SENT")
    return cli_a, cport_a, cli_b, cport_b, time.monotonic()


def log_lines(exp, *needles):
    text = exp._read_stderr()
    return [l for l in text.splitlines() if all(n in l for n in needles)]


@scenario
def remediation():
    with Netns("srem") as ns, Exporter(ns, CONFIG, interval=IVL) as exp:
        bound = destroy_bound(*measure_cadence(exp))
        cli_a, cport_a, cli_b, cport_b, t_sent = remediation_setup(ns, exp)
        try:
            cli_a.expect("ERROR", timeout=bound + 3)
        except ScenarioFailure:
            raise ScenarioFailure(exp.failure_report(
                "seed-client (destroy_after %gs): no error in the client within %.1fs; ss: %s" % (
                    DESTROY_AFTER, bound + 3, show(ss_row(ns, cport_a)))))
        tte = time.monotonic() - t_sent
        err = cli_a.history[-1]
        print("remediation on: client error %.2fs after its send (%s); bound %.2fs" % (tte, err, bound))
        want("Software_caused_connection_abort" in err, "want ECONNABORTED, got %r" % err)
        want(tte <= bound, "time to error %.2fs > bound %.2fs" % (tte, bound))
        want(tte >= DESTROY_AFTER, "destroyed after %.2fs, before destroy_after %gs" % (tte, DESTROY_AFTER))
        want(ss_row(ns, cport_a) is None, "ss still shows the destroyed socket: %s" % show(ss_row(ns, cport_a)))
        s = exp.wait_for(lambda s: counter(s, "halfopen_destroyed_sockets_total", SEED_CLIENT) == 1,
                         timeout=3 + bound, what="halfopen_destroyed_sockets_total{seed-client} 1")
        lines = log_lines(exp, "local=127.0.0.1:%d" % cport_a, "peer=127.0.0.1:%d" % A_PORT)
        want(lines and not any("dry" in l.lower() for l in lines),
             "no log line with the destroyed socket's addresses:\n%s" % exp.stderr_text(20))
        print("log:", lines[0])

        # The control, same namespace and time, no destroy_after: hangs.
        time.sleep(max(0.0, bound + 3 - (time.monotonic() - t_sent)))
        cli_b.expect_none("ERROR", 0.1, "other-client (no destroy_after) got an error")
        r = ss_row(ns, cport_b)
        want(r is not None and r["state"] == "ESTAB" and r["timer"] == "on" and r["timer_retrans"] >= 3,
             "other-client should still be retransmitting: %s" % show(r))
        s = exp.samples()
        want(counter(s, "halfopen_destroyed_sockets_total", OTHER_CLIENT) in (None, 0),
             "other-client has destroyed sockets")
        want(not log_lines(exp, "127.0.0.1:%d" % cport_b), "other-client's socket was logged: %s" % (
            log_lines(exp, "127.0.0.1:%d" % cport_b)))
        print("remediation off (other-client): still hanging after %.1fs: %s" % (
            time.monotonic() - t_sent, show(r)))
        out = output_dir()
        with open(os.path.join(out, "remediation_time_to_error.txt"), "w") as f:
            f.write("on: %.2f s (destroy_after %g s, interval %g s)\noff: still hanging after %.1f s (%s)\n" % (
                tte, DESTROY_AFTER, INTERVAL, time.monotonic() - t_sent, show(r)))


@scenario
def remediation_dry_run():
    with Netns("sdry") as ns, Exporter(ns, CONFIG, interval=IVL, extra_args=[DRY_RUN_FLAG]) as exp:
        period, dur = measure_cadence(exp)
        bound = destroy_bound(period, dur)
        cli_a, cport_a, _, cport_b, t_sent = remediation_setup(ns, exp)
        s = exp.wait_for(lambda s: counter(s, "halfopen_destroy_dry_run_total", SEED_CLIENT) == 1,
                         timeout=bound + 3, what="halfopen_destroy_dry_run_total{seed-client} 1")
        print("dry run counted %.2fs after the send" % (time.monotonic() - t_sent))
        want(counter(s, "halfopen_destroyed_sockets_total", SEED_CLIENT) in (None, 0),
             "dry run destroyed something")
        lines = log_lines(exp, "local=127.0.0.1:%d" % cport_a, "peer=127.0.0.1:%d" % A_PORT)
        want(lines and all("dry" in l.lower() for l in lines),
             "want a dry-run log line with the socket's addresses:\n%s" % exp.stderr_text(20))
        print("log:", lines[0])
        time.sleep(2 * period)
        cli_a.expect_none("ERROR", 0.1, "dry run, yet the client got an error")
        r = ss_row(ns, cport_a)
        want(r is not None and r["state"] == "ESTAB" and r["timer"] == "on",
             "dry run: the socket should still be retransmitting: %s" % show(r))
        s = exp.samples()
        want(counter(s, "halfopen_destroy_dry_run_total", SEED_CLIENT) == 1,
             "dry run counted more than once per socket")
        want(not log_lines(exp, "127.0.0.1:%d" % cport_b), "other-client (no destroy_after) was logged")
        print("dry run: logged once, counted once, socket untouched: %s" % show(r))


@scenario
def remediation_no_cap():
    """Without CAP_NET_ADMIN: SOCK_DESTROY fails with EPERM, counted and
    logged once; the exporter keeps collecting."""
    real = testlib.exporter_binary()
    with tempfile.TemporaryDirectory(prefix="ho-nocap-") as d:
        wrapper = os.path.join(d, "halfopen_exporter")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec setpriv --bounding-set -net_admin --inh-caps -net_admin "
                    "--ambient-caps -net_admin %s \"$@\"\n" % real)
        os.chmod(wrapper, 0o755)
        saved = testlib.exporter_binary
        testlib.exporter_binary = lambda: wrapper
        try:
            with Netns("snocap") as ns, Exporter(ns, CONFIG, interval=IVL) as exp:
                period, dur = measure_cadence(exp)
                bound = destroy_bound(period, dur)
                cli_a, cport_a, _, _, t_sent = remediation_setup(ns, exp)
                s = exp.wait_for(lambda s: counter(s, "halfopen_destroy_errors_total", SEED_CLIENT) == 1,
                                 timeout=bound + 3, what="halfopen_destroy_errors_total{seed-client} 1")
                lines = log_lines(exp, "local=127.0.0.1:%d" % cport_a)
                want(lines and any("not permitted" in l.lower() or "eperm" in l.lower() for l in lines),
                     "want a log line with the socket and EPERM:\n%s" % exp.stderr_text(20))
                print("log:", lines[-1])
                r = ss_row(ns, cport_a)
                want(r is not None and r["timer"] == "on", "the socket should still hang: %s" % show(r))
                t1 = s.value("halfopen_last_collection_timestamp_seconds")
                s = exp.wait_for(lambda s: (s.value("halfopen_last_collection_timestamp_seconds") or 0) > t1,
                                 timeout=2 + period + dur, what="collections go on")
                want(counter(s, "halfopen_destroy_errors_total", SEED_CLIENT) == 1, "retried every interval")
        finally:
            testlib.exporter_binary = saved



if __name__ == "__main__":
    sys.exit(main_scenarios(SCENARIOS, SCENARIO_TIMEOUT))
