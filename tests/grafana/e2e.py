#!/usr/bin/env python3
"""Suite `e2e`: a real Prometheus scrapes the real exporter while the seed scenario
(and one scenario per other alert) is reproduced in a network namespace.

- The exporter ($HALFOPEN_EXPORTER) and Prometheus (Debian's `prometheus`, 2.42)
  run in one network namespace on 127.0.0.1; scrape and evaluation interval 1s.
- Prometheus loads a fast variant of grafana/alerts/halfopen.rules.yml: the same
  expressions and thresholds, every `for:` divided by 60 (2m -> 2s, 1h -> 60s).
- Scenarios, all in the namespace:
    seed      server on :12345 accepts, client connects, iptables drops what goes
              to the client's port, the server is killed, the client writes:
              it retransmits into the void (HalfOpenPoolHanging, and the idle
              seed client is stale and has no keepalive).
    healthy   a pool of 3 connections with keepalive, one request/response per
              0.5 s on each: must raise no alert at all.
    leak      a server that closes every connection at once, a client that opens
              one per second and never closes: CLOSE_WAIT grows.
    stuck     a server that never reads, a client that fills the window: zero window.
    reload    the config file is broken and the exporter gets SIGHUP:
              HalfOpenExporterConfigReloadFailed.
    down      at the end the exporter is stopped: HalfOpenExporterDown.
- Alerts are read from Prometheus's /api/v1/alerts (bounded polling). Each alert
  must reach `firing` with the expected labels and annotations within a bound;
  the time from its scenario event to `firing` is printed. A failing API call
  fails the test.
- Delivery: Prometheus sends to a real Alertmanager (Debian's
  prometheus-alertmanager; ALERTMANAGER_ROUTE: one group per alert and pool,
  group_wait 1s, group_interval 2s) whose webhook is a receiver in this test.
  The seed's HalfOpenPoolHanging notification must carry the rule's labels,
  summary, runbook_url and a description whose duration is the hang's age;
  when the fault ends (the hung socket destroyed, as `ss -K`) one resolved
  notification follows, and before it the group got exactly one firing one.
  The healthy pool must cause no notification. Delivery times are printed.
- Every dashboard query (panels and variables, template variables substituted)
  runs against the live Prometheus (instant and range): it must succeed, return
  data, and name only metrics the exporter exposes (or recording rules, up, ALERTS).
  With --enforce (meson passes it when the bpf feature is built), healthy-client
  has `enforce.keepalive`: its pool already sets keepalive, so enforce sets
  nothing, but every enforce family is served and the enforce panels' queries
  must answer too (on the single-service dashboard with tcp_service=healthy-client).
  Without it those queries are checked by name only (docs and sources), and the
  run says so.
- Every metric family the exporter serves is documented in docs/metrics.md.
- The rules Prometheus loaded (/api/v1/rules) must match the rules file as parsed.

Needs root (ip netns, iptables). Prints `N passed, M failed`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import yaml  # noqa: E402
from common import Runner, alerting_rules, load_rules, metric_names, recording_rules  # noqa: E402

sys.path.insert(0, os.path.join(common.ROOT, "tests", "scenario"))
import testlib  # noqa: E402

FOR_SCALE = 60          # fast variant: for: / 60
SEED_PORT = 12345
HEALTHY_CONNS = 3
LEAK_SOCKETS = 60
JOB = "halfopen"
ENFORCE = "--enforce" in sys.argv[1:]
ENFORCE_SERVICE = "healthy-client"
HEALTHY_ENFORCE = ", enforce: {keepalive: {idle: 60s, interval: 10s, count: 6}}" if ENFORCE else ""


def is_enforce_query(expr):
    return any(m.startswith(("halfopen_enforce_", "halfopen_enforced_")) for m in metric_names(expr))


def family(sample_name, families):
    """The family of a scraped sample name (histogram series folded)."""
    base = re.sub(r"_(bucket|sum|count)$", "", sample_name)
    return base if base in families else sample_name


# ------------------------------------------------------------------ helpers

def parse_duration(s):
    total = 0.0
    for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", s):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[u]
    return total


def fmt_duration(sec):
    sec = int(round(sec))
    return f"{sec // 60}m{sec % 60}s" if sec >= 60 and sec % 60 else (f"{sec // 60}m" if sec >= 60 else f"{sec}s")


def fast_rules_text(text):
    """The rules file with every `for:` divided by FOR_SCALE (at least 2s)."""
    def rep(m):
        fast = max(2, int(parse_duration(m.group(2)) // FOR_SCALE))
        return f"{m.group(1)}{fast}s"
    return re.sub(r"^(\s+for:\s*)(\S+)\s*$", rep, text, flags=re.M)


class NsHTTP(http.client.HTTPConnection):
    """HTTP to a server listening inside the namespace."""

    def __init__(self, ns, port, timeout=10):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self._ns = ns

    def connect(self):
        s = self._ns.socket()
        s.settimeout(self.timeout)
        s.connect((self.host, self.port))
        self.sock = s


class NsDaemon:
    """A Prometheus-family server run inside a namespace on a free loopback
    port: its output in self.log_path, its folder self.dir removed on stop.
    Subclasses set name, probe_timeout (the /-/ready request's) and self.dir,
    self.log_path, self.port, self.proc = None in __init__."""

    name = "daemon"
    probe_timeout = 10

    def _launch(self, argv, ready_within):
        """Start argv and return once GET /-/ready answers 200; raise
        ScenarioFailure with the log's tail if it exits or is not ready
        within ready_within seconds."""
        self.log = open(self.log_path, "w")
        self.proc = self.ns.popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise testlib.ScenarioFailure(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                c = NsHTTP(self.ns, self.port, timeout=self.probe_timeout)
                try:
                    c.request("GET", "/-/ready")
                    if c.getresponse().status == 200:
                        return
                finally:
                    c.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise testlib.ScenarioFailure(f"{self.name} not ready within {ready_within}s\n" + self.log_tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=20):
        try:
            return "".join(open(self.log_path).readlines()[-n:])
        except OSError:
            return ""


class Prometheus(NsDaemon):
    name = "prometheus"

    def __init__(self, ns, rules_text, targets, alertmanager=None):
        self.ns = ns
        self.dir = tempfile.mkdtemp(prefix="ho-prom-")
        self.rules_path = os.path.join(self.dir, "halfopen.fast.rules.yml")
        with open(self.rules_path, "w") as f:
            f.write(rules_text)
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        with open(self.config_path, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                f"rule_files:\n  - {self.rules_path}\n"
                f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n"
                f"      - targets: {json.dumps(targets)}\n"
                + (f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n"
                   if alertmanager else ""))
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.dir, "prometheus.log")

    def start(self):
        self.port = self.ns.free_port()
        self._launch(
            [common.PROMETHEUS, f"--config.file={self.config_path}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"], 60)

    def get(self, path, params=None):
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        c = NsHTTP(self.ns, self.port)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def api(self, path, params=None):
        st, body = self.get("/api/v1/" + path, params)
        try:
            doc = json.loads(body)
        except ValueError:
            raise AssertionError(f"{path}: HTTP {st}: {body[:300]!r}")
        if doc.get("status") != "success":
            raise AssertionError(f"{path} {params}: {doc.get('errorType')}: {doc.get('error')}")
        return doc["data"]

    def query(self, expr):
        return self.api("query", {"query": expr})

    def value(self, expr):
        r = self.query(expr)["result"]
        return [float(x["value"][1]) for x in r]


# The route the test runs Alertmanager with (docs/alerting.md recommends the
# same grouping): one group per alert and pool, so one pool's outage is one
# notification, and its resolution another. Timers shortened like `for:`.
ALERTMANAGER_ROUTE = """route:
  receiver: hook
  group_by: [alertname, job, instance, tcp_service, direction, namespace, pod]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{port}/hook
        send_resolved: true
"""


class Webhook:
    """An Alertmanager webhook receiver (http.server) on a socket in the
    namespace; remembers every notification with its arrival time."""

    def __init__(self, ns):
        import http.server

        hook = self
        self.lock = threading.Lock()
        self.received = []   # (monotonic, payload)
        self.errors = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    doc = json.loads(body)
                except ValueError as e:
                    hook.errors.append(f"not JSON: {e}: {body[:200]!r}")
                    doc = None
                if doc is not None:
                    with hook.lock:
                        hook.received.append((time.monotonic(), doc))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = ns.free_port()
        sock = ns.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self.server = http.server.HTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def notifications(self, alertname, status=None, **labels):
        """[(time, payload, alert)] of notified alerts matching, in order."""
        out = []
        with self.lock:
            for t, doc in self.received:
                for a in doc.get("alerts", []):
                    L = a.get("labels", {})
                    if L.get("alertname") == alertname and all(L.get(k) == v for k, v in labels.items()) \
                            and (status is None or a.get("status") == status):
                        out.append((t, doc, a))
        return out

    def wait(self, alertname, status, deadline, **labels):
        while time.monotonic() < deadline:
            got = self.notifications(alertname, status, **labels)
            if got:
                return got[0]
            time.sleep(0.2)
        got = self.notifications(alertname, status, **labels)
        return got[0] if got else None


class Alertmanager(NsDaemon):
    name = "alertmanager"
    probe_timeout = 2

    def __init__(self, ns, hook_port):
        self.ns = ns
        self.dir = tempfile.mkdtemp(prefix="ho-am-")
        self.config_path = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config_path, "w") as f:
            f.write(ALERTMANAGER_ROUTE.format(port=hook_port))
        self.log_path = os.path.join(self.dir, "alertmanager.log")
        self.port = None
        self.proc = None

    def start(self):
        self.port = self.ns.free_port()
        self._launch(
            [common.ALERTMANAGER, f"--config.file={self.config_path}",
             f"--storage.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"], 30)


def parse_humanized(text):
    """Seconds of a Prometheus humanizeDuration string ("1m 3s", "2h 0m 1s")."""
    m = re.fullmatch(r"(?:(\d+)d )?(?:(\d+)h )?(?:(\d+)m )?(\d+(?:\.\d+)?)s", text)
    if not m:
        raise AssertionError(f"not a humanized duration: {text!r}")
    d, h, mi, sec = m.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(sec)


class AlertWatcher(threading.Thread):
    """Polls /api/v1/alerts every 0.5 s; remembers when each alert (name +
    labels) was first seen pending/firing, and every alert a healthy service raised."""

    def __init__(self, prom):
        super().__init__(daemon=True)
        self.prom = prom
        self.lock = threading.Lock()
        self.first = {}        # (alertname, frozenset labels) -> {"state": {pending: t, firing: t}, "alert": {...}}
        self.healthy_alerts = []
        self.errors = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            try:
                alerts = self.prom.api("alerts")["alerts"]
            except Exception as e:  # noqa: BLE001
                self.errors.append(str(e))
                alerts = []
            now = time.monotonic()
            with self.lock:
                for a in alerts:
                    key = (a["labels"]["alertname"], frozenset(a["labels"].items()))
                    rec = self.first.setdefault(key, {"state": {}, "alert": a})
                    if a["state"] not in rec["state"]:
                        rec["state"][a["state"]] = now
                        rec["alert"] = a
                    if a["labels"].get("tcp_service", "").startswith("healthy-"):
                        self.healthy_alerts.append(a)
            self.stop_event.wait(0.5)

    def firing(self, alertname, **labels):
        """(time first seen firing, alert) for the first alert matching, or None."""
        with self.lock:
            for (name, lk), rec in self.first.items():
                if name == alertname and set(labels.items()) <= set(lk) and "firing" in rec["state"]:
                    return rec["state"]["firing"], rec["alert"]
        return None

    def wait_firing(self, alertname, deadline, **labels):
        while time.monotonic() < deadline:
            r = self.firing(alertname, **labels)
            if r:
                return r
            time.sleep(0.2)
        return self.firing(alertname, **labels)


# ------------------------------------------------------------------ socket scenarios (in-process)

class HealthyPool:
    """Echo server + client pool with keepalive on both ends; one
    request/response per connection every 0.5 s."""

    def __init__(self, ns, port):
        self.ns, self.port = ns, port
        self.stop = threading.Event()
        self.socks = []
        self.error = None

    def start(self):
        ls = self.ns.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)   # inherited by accepted sockets
        ls.bind(("127.0.0.1", self.port))
        ls.listen(16)
        ls.settimeout(0.5)
        self.socks.append(ls)
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()
        for _ in range(HEALTHY_CONNS):
            c = self.ns.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.connect(("127.0.0.1", self.port))
            c.settimeout(5)
            self.socks.append(c)
            threading.Thread(target=self._client, args=(c,), daemon=True).start()

    def _accept(self, ls):
        while not self.stop.is_set():
            try:
                s, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(s)
            threading.Thread(target=self._echo, args=(s,), daemon=True).start()

    def _echo(self, s):
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    return
                s.sendall(d)
        except OSError:
            return

    def _client(self, c):
        try:
            while not self.stop.wait(0.5):
                c.sendall(b"ping")
                got = b""
                while len(got) < 4:
                    d = c.recv(4 - len(got))
                    if not d:
                        raise OSError("healthy pool: server closed")
                    got += d
        except OSError as e:
            if not self.stop.is_set():
                self.error = str(e)

    def close(self):
        self.stop.set()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


class Leaker:
    """Opens one connection per second to a server that closes at once, and
    never closes its end: CLOSE_WAIT grows by one per second."""

    def __init__(self, ns, port, n):
        self.ns, self.port, self.n = ns, port, n
        self.socks = []
        self.stop = threading.Event()

    def start(self):
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for _ in range(self.n):
            if self.stop.is_set():
                return
            s = self.ns.socket()
            try:
                s.connect(("127.0.0.1", self.port))
            except OSError:
                s.close()
                continue
            self.socks.append(s)
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        for s in self.socks:
            s.close()


# ------------------------------------------------------------------ the test

class E2E:
    def __init__(self, runner):
        self.r = runner
        self.timings = []    # (alert, event, seconds to firing, bound)
        self.deliveries = []  # (what, seconds)
        self.rules_doc = load_rules()
        self.rules_text = open(common.RULES, encoding="utf-8").read()
        self.fast_text = fast_rules_text(self.rules_text)

    # -- checks on the static inputs

    def check_fast_rules(self):
        fast = yaml.safe_load(self.fast_text)
        orig = alerting_rules(self.rules_doc)
        fa = alerting_rules(fast)
        assert [a["alert"] for a in fa] == [a["alert"] for a in orig]
        for o, f in zip(orig, fa):
            assert f["expr"] == o["expr"] and f["labels"] == o["labels"] and f["annotations"] == o["annotations"]
            assert parse_duration(f["for"]) == max(2, parse_duration(o["for"]) // FOR_SCALE), (o["for"], f["for"])
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as t:
            t.write(self.fast_text)
            t.flush()
            r = subprocess.run([common.PROMTOOL, "check", "rules", t.name], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr

    # -- the live part

    def run(self):
        ns = testlib.Netns("graf")
        ns.create()
        self.ns = ns
        self.prom = self.am = self.hook = None
        self.pool = self.leaker = None
        try:
            self._run(ns)
        finally:
            if getattr(self, "watcher", None):
                self.watcher.stop_event.set()
            if self.prom:
                self.prom.stop()
            if self.am:
                self.am.stop()
            if self.hook:
                self.hook.stop()
            for x in (self.pool, self.leaker):
                if x:
                    x.close()
            ns.destroy()

    def _run(self, ns):
        r = self.r
        healthy_port, leak_port, stuck_port = ns.free_port(), ns.free_port(), ns.free_port()
        while len({healthy_port, leak_port, stuck_port, SEED_PORT}) < 4:
            leak_port, stuck_port = ns.free_port(), ns.free_port()
        config = (
            "defaults: {stale_after: 3s}\n"
            "services:\n"
            f"  - {{name: seed-client, direction: outbound, ports: [{SEED_PORT}]}}\n"
            f"  - {{name: seed-server, direction: inbound, ports: [{SEED_PORT}]}}\n"
            f"  - {{name: healthy-client, direction: outbound, ports: [{healthy_port}]{HEALTHY_ENFORCE}}}\n"
            f"  - {{name: healthy-server, direction: inbound, ports: [{healthy_port}]}}\n"
            f"  - {{name: leaky-client, direction: outbound, ports: [{leak_port}]}}\n"
            f"  - {{name: stuck-client, direction: outbound, ports: [{stuck_port}]}}\n")
        # The context manager stops the exporter if the body fails (the body
        # stops it itself for HalfOpenExporterDown) and removes its temp dir.
        with testlib.Exporter(ns, config, interval="1s") as exp:
            self.exp = exp
            self.instance = f"127.0.0.1:{exp.port}"
            self.exposed = {k[0] for k in exp.samples()}
            self.hook = Webhook(ns)
            self.am = Alertmanager(ns, self.hook.port)
            self.am.start()
            self.prom = Prometheus(ns, self.fast_text, [self.instance], alertmanager=f"127.0.0.1:{self.am.port}")
            self.prom.start()
            watcher = AlertWatcher(self.prom)
            self.watcher = watcher

            ok = r.check("prometheus scrapes the exporter", self.wait_up)
            if not ok:
                return
            watcher.start()

            # healthy pool
            self.pool = HealthyPool(ns, healthy_port)
            self.pool.start()

            # seed: nc -l 12345 / telnet / iptables DROP to the client port / kill nc / type
            srv = ns.peer("server", "--port", SEED_PORT)
            srv.expect("LISTEN")
            cli = ns.peer("client", "--port", SEED_PORT)
            cport = cli.expect("CONNECTED")["local"]
            srv.expect("ACCEPT")
            t_connect = time.monotonic()
            # Only the server's packets to the client: a scrape that
            # reuses cport as its own port must still be answered.
            ns.iptables("-A", "INPUT", "-p", "tcp", "-d", "127.0.0.1", "--sport", str(SEED_PORT),
                        "--dport", cport, "-j", "DROP")
            srv.kill()
            cli.send("send 100")
            cli.expect("SENT")
            t_hang = time.monotonic()

            # CLOSE_WAIT leak
            leak_srv = ns.peer("server", "--port", leak_port, "--mode", "close")
            leak_srv.expect("LISTEN")
            self.leaker = Leaker(ns, leak_port, LEAK_SOCKETS)
            self.leaker.start()
            t_leak = time.monotonic()

            # zero window: a server that never reads, a client that fills
            zw_srv = ns.peer("server", "--port", stuck_port, "--mode", "noread", "--rcvbuf", "4096")
            zw_srv.expect("LISTEN")
            zw_cli = ns.peer("client", "--port", stuck_port, "--no-read")
            zw_cli.expect("CONNECTED")
            zw_cli.send("fill")
            zw_cli.expect("FILLED")
            t_zw = time.monotonic()

            fr = {a["alert"]: parse_duration(fast_for["for"])
                  for a, fast_for in zip(alerting_rules(self.rules_doc), alerting_rules(yaml.safe_load(self.fast_text)))}
            slack = 30
            expectations = [
                # alert, labels, event name, event time, bound (s from the event)
                ("HalfOpenPoolHanging", {"tcp_service": "seed-client", "direction": "outbound"},
                 "client writes on the half-open connection", t_hang, 60 + fr["HalfOpenPoolHanging"] + slack),
                ("HalfOpenStaleConnections", {"tcp_service": "seed-client", "direction": "outbound"},
                 "seed connection established (then silent)", t_connect, 3 + fr["HalfOpenStaleConnections"] + slack),
                ("HalfOpenKeepaliveMissing", {"tcp_service": "seed-client", "direction": "outbound"},
                 "seed connection established without keepalive", t_connect,
                 fr["HalfOpenKeepaliveMissing"] + slack),
                ("HalfOpenCloseWaitLeak", {"tcp_service": "leaky-client", "direction": "outbound"},
                 "first leaked connection (one more per second)", t_leak, 11 + fr["HalfOpenCloseWaitLeak"] + slack),
                ("HalfOpenZeroWindow", {"tcp_service": "stuck-client", "direction": "outbound"},
                 "client filled a peer that never reads", t_zw, fr["HalfOpenZeroWindow"] + slack),
            ]
            for alert, labels, event, t_event, bound in expectations:
                r.check(f"{alert} fires for {labels['tcp_service']} within {bound:.0f}s",
                        self.expect_firing, alert, labels, event, t_event, bound)

            r.check("the healthy pool is healthy and scraped", self.check_healthy_pool)
            r.check("every family the exporter serves is documented", self.check_served_documented)
            r.check("dashboard queries run against the live Prometheus", self.check_dashboards)
            r.check("Prometheus loaded exactly the rules of the file", self.check_loaded_rules)
            # After the dashboards: ending the fault empties the seed's series.
            r.check("HalfOpenPoolHanging reaches the webhook through Alertmanager", self.check_delivered, t_hang)
            r.check("one notification for the pool's outage, then its resolution when the fault ends",
                    self.check_resolved, cport)

            # configuration reload failure: a broken file, then SIGHUP
            with open(exp.config_path, "w") as f:
                f.write("services: [{name: broken, direction: sideways, ports: [0]}\n")
            os.kill(exp.proc.pid, signal.SIGHUP)
            t_reload = time.monotonic()
            r.check("HalfOpenExporterConfigReloadFailed fires after a bad reload", self.expect_firing,
                    "HalfOpenExporterConfigReloadFailed", {"instance": self.instance, "job": JOB},
                    "SIGHUP with a broken config file", t_reload, fr["HalfOpenExporterConfigReloadFailed"] + slack)

            # exporter down
            exp.stop()
            t_down = time.monotonic()
            r.check("HalfOpenExporterDown fires when the exporter stops", self.expect_firing,
                    "HalfOpenExporterDown", {"instance": self.instance, "job": JOB}, "exporter stopped", t_down,
                    fr["HalfOpenExporterDown"] + slack)
            watcher.stop_event.set()
            watcher.join(5)
            r.check("no alert ever raised for the healthy pool", self.check_no_healthy_alerts)
            r.check("no alert on services the scenario keeps healthy", self.check_no_unexpected)
            r.check("no notification for the healthy pool", self.check_no_healthy_notifications)
            r.check("the alert watcher and the webhook saw no errors", self.check_watch_errors)

    def wait_up(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.prom.value(f'up{{job="{JOB}"}} == 1'):
                # the first rule evaluations need the first scrapes
                return
            time.sleep(0.5)
        raise AssertionError("target not up within 30s: " + json.dumps(self.prom.api("targets"))[:500]
                             + "\n" + self.prom.log_tail())

    def expect_firing(self, alert, labels, event, t_event, bound):
        got = self.watcher.wait_firing(alert, t_event + bound, **labels)
        if not got:
            state = self.prom.api("alerts")["alerts"]
            raise AssertionError(f"{alert}{labels} not firing {bound:.0f}s after '{event}'. Alerts now: "
                                 + json.dumps([{**a["labels"], "state": a["state"], "value": a["value"]}
                                               for a in state])[:1500]
                                 + ("\n" + self.exp.failure_report("exporter state") if self.exp.proc else ""))
        t_fire, a = got
        print(f"     {alert} firing: {a['annotations'].get('description', '')}")
        self.timings.append((alert, labels.get("tcp_service", labels.get("instance")), event,
                             t_fire - t_event, bound))
        # Labels and annotations as Alertmanager would get them.
        src = next(x for x in alerting_rules(self.rules_doc) if x["alert"] == alert)
        L, A = a["labels"], a["annotations"]
        assert L.get("severity") == src["labels"]["severity"], L
        assert L.get("job") == JOB and L.get("instance") == self.instance, L
        for k, v in labels.items():
            assert L.get(k) == v, (k, L)
        assert A.get("summary") == src["annotations"]["summary"], A
        assert A.get("runbook_url") == src["annotations"]["runbook_url"], A
        desc = A.get("description", "")
        assert self.instance in desc, desc
        if "tcp_service" in labels:
            assert f"{labels['tcp_service']} ({labels['direction']})" in desc, desc
        assert "{{" not in desc and "<no value>" not in desc, desc

    SEED = {"tcp_service": "seed-client", "direction": "outbound"}

    def check_delivered(self, t_hang):
        """The notification Alertmanager sends for the seed's hang: labels,
        annotations as the rule says, a description whose duration is the
        hang's age, and how long delivery took after Prometheus fired."""
        fired = self.watcher.firing("HalfOpenPoolHanging", **self.SEED)
        assert fired, "HalfOpenPoolHanging never fired for seed-client"
        t_fire, prom_alert = fired
        got = self.hook.wait("HalfOpenPoolHanging", "firing", time.monotonic() + 30, **self.SEED)
        assert got, (f"no webhook notification 30s after HalfOpenPoolHanging fired; received "
                     f"{len(self.hook.received)} notifications\n{self.am.log_tail()}")
        t_recv, doc, a = got
        src = next(x for x in alerting_rules(self.rules_doc) if x["alert"] == "HalfOpenPoolHanging")
        L, A = a["labels"], a["annotations"]
        want = dict(self.SEED, alertname="HalfOpenPoolHanging", job=JOB, instance=self.instance,
                    severity=src["labels"]["severity"])
        assert L == want, f"labels {L}, want {want}"
        assert doc["status"] == "firing" and doc["receiver"] == "hook", doc
        assert doc["groupLabels"] == {k: v for k, v in want.items() if k != "severity"}, doc["groupLabels"]
        assert A["summary"] == src["annotations"]["summary"], A
        assert A["runbook_url"] == src["annotations"]["runbook_url"], A
        m = re.search(r"has waited unanswered for ([^.]+(?:\.\d+)?s)\. ", A["description"])
        assert m, A["description"]
        age = parse_humanized(m.group(1))
        # Prometheus renders the value when the alert goes pending->firing:
        # over the 60 s threshold, and no older than the hang itself.
        assert 60 < age <= t_fire - t_hang + 1, (age, t_fire - t_hang, A["description"])
        assert a["generatorURL"] and a["startsAt"], a
        print(f"     notified: {A['description']}")
        self.deliveries.append(("HalfOpenPoolHanging firing: Prometheus firing -> webhook", t_recv - t_fire))
        self.deliveries.append(("HalfOpenPoolHanging firing: client write -> webhook", t_recv - t_hang))

    def check_resolved(self, cport):
        """The fault ends (the hung socket is destroyed, as ss -K or the
        exporter's remediation would): one resolved notification follows;
        until then the group got exactly one firing notification."""
        self.ns.exec(["ss", "-K", "dst", "127.0.0.1", "dport", "=", f":{SEED_PORT}", "sport", "=", f":{cport}"])
        t_end = time.monotonic()
        got = self.hook.wait("HalfOpenPoolHanging", "resolved", t_end + 30, **self.SEED)
        assert got, f"no resolved notification 30s after the fault ended\n{self.am.log_tail()}"
        t_recv = got[0]
        firing = [x for x in self.hook.notifications("HalfOpenPoolHanging", **self.SEED) if x[0] < t_recv]
        assert len([x for x in firing if x[2]["status"] == "firing"]) == 1, \
            f"{len(firing)} notifications before the resolution, want 1 firing: " + json.dumps(
                [{"status": d["status"], "alerts": len(d["alerts"])} for _, d, _ in firing])
        assert all(len(d["alerts"]) == 1 for _, d, _ in firing), "the group carries more than the one pool"
        self.deliveries.append(("HalfOpenPoolHanging resolved: fault ended -> webhook", t_recv - t_end))

    def check_no_healthy_notifications(self):
        bad = [(a["labels"].get("alertname"), a["labels"].get("tcp_service"), a["status"])
               for _, doc in self.hook.received for a in doc.get("alerts", [])
               if a["labels"].get("tcp_service", "").startswith("healthy-")]
        assert not bad, f"notifications for the healthy pool: {bad}"
        print(f"     {len(self.hook.received)} notifications in all, none for healthy-*")

    def check_watch_errors(self):
        assert not self.watcher.errors, f"/api/v1/alerts errors: {self.watcher.errors[:5]}"
        assert not self.hook.errors, f"webhook: {self.hook.errors[:5]}"

    def check_healthy_pool(self):
        assert self.pool.error is None, self.pool.error
        est = self.prom.value('halfopen_established_sockets{tcp_service="healthy-client"}')
        assert est == [HEALTHY_CONNS], f"healthy-client established {est}"
        est = self.prom.value('halfopen_established_sockets{tcp_service="healthy-server"}')
        assert est == [HEALTHY_CONNS], f"healthy-server established {est}"
        cov = self.prom.value('instance_tcp_service:halfopen_keepalive_sockets:ratio{tcp_service=~"healthy-.*"}')
        assert cov and all(c == 1 for c in cov), f"healthy keepalive coverage {cov}"

    def check_no_healthy_alerts(self):
        bad = {(a["labels"]["alertname"], a["labels"].get("tcp_service"), a["state"]) for a in self.watcher.healthy_alerts}
        assert not bad, f"alerts raised for the healthy pool: {sorted(bad)}"
        # Also ask Prometheus's own memory of the run.
        hist = self.prom.query('count_over_time(ALERTS{tcp_service=~"healthy-.*"}[15m])')["result"]
        assert not hist, f"ALERTS history for healthy services: {hist}"

    def check_no_unexpected(self):
        hist = self.prom.query('count_over_time(ALERTS{alertname="HalfOpenPoolHanging", '
                               'tcp_service!="seed-client"}[15m])')["result"]
        assert not hist, f"HalfOpenPoolHanging for another service than seed-client: {hist}"
        for name in ("HalfOpenExporterCollectionsFailing", "HalfOpenExporterCollectionsStalled",
                     "HalfOpenExporterCollectionsSlow"):
            hist = self.prom.query(f'count_over_time(ALERTS{{alertname="{name}"}}[15m])')["result"]
            if hist:
                dur = self.prom.value("max_over_time(halfopen_collection_duration_seconds[15m])")
                seen = self.prom.value("max_over_time(halfopen_collection_sockets[15m])")
                try:
                    sockstat = [ln for ln in open("/proc/net/sockstat") if ln.startswith("TCP:")][0].strip()
                except OSError:
                    sockstat = "?"
                raise AssertionError(
                    f"{name} raised although the scenario keeps the exporter healthy: {hist}; longest collection "
                    f"{dur} s for {seen} sockets at --collector.interval=1s; machine-wide /proc/net/sockstat "
                    f"{sockstat} (inet_diag dumps walk the kernel's global socket hash, so sockets held by other "
                    f"namespaces slow every dump)")

    def check_loaded_rules(self):
        groups = self.prom.api("rules")["groups"]
        loaded = {}
        for g in groups:
            for x in g["rules"]:
                loaded[x["name"]] = x
        fast = yaml.safe_load(self.fast_text)
        want = {x.get("alert") or x.get("record"): x for g in fast["groups"] for x in g["rules"]}
        assert set(loaded) == set(want), (sorted(loaded), sorted(want))
        for name, w in want.items():
            got = loaded[name]
            assert got["health"] == "ok", (name, got.get("lastError"))
            if "alert" in w:
                assert got["type"] == "alerting"
                assert got["duration"] == parse_duration(w["for"]), (name, got["duration"], w["for"])
                assert got["labels"] == w["labels"], name
                assert got["annotations"] == w["annotations"], name
            else:
                assert got["type"] == "recording"

    def check_served_documented(self):
        documented = common.documented_metrics()
        served = {family(n, self.exposed) for n in self.exposed}
        missing = sorted(served - documented)
        assert not missing, f"served but not in docs/metrics.md: {missing}"
        if ENFORCE:
            assert "halfopen_enforced_sockets_total" in served, "enforce families not served with --enforce"

    def check_dashboards(self):
        exposed = self.exposed | set(recording_rules(self.rules_doc)) | common.PROMETHEUS_SERIES
        if not ENFORCE:
            exposed |= {f for f in common.rendered_families() if is_enforce_query(f)}
        failures, ran, by_name_only = [], 0, 0
        now = time.time()
        for path in common.dashboard_files():
            d = common.load_dashboard(path)
            uid = d["uid"]
            single_service = any(v["name"] == "tcp_service" and not v.get("includeAll")
                                 for v in d["templating"]["list"])
            values = {"datasource": "prometheus", "job": JOB, "instance": re.escape(self.instance).replace("\\", "\\\\"),
                      "tcp_service": "seed-client" if single_service else ".+", "direction": ".+",
                      "__rate_interval": "15s", "__interval": "15s", "__range": "5m"}
            for where, expr, instant in common.dashboard_queries(d):
                if is_enforce_query(expr):
                    if not ENFORCE:
                        by_name_only += 1
                        unknown = metric_names(expr) - exposed
                        if unknown:
                            failures.append(f"{uid} {where}: names undocumented metrics: {sorted(unknown)}")
                        continue
                    if single_service:
                        values["tcp_service"] = ENFORCE_SERVICE
                elif single_service:
                    values["tcp_service"] = "seed-client"
                ran += 1
                label = f"{uid} {where}"
                is_var = where.startswith("variable")
                unknown = metric_names(common.label_values_query(expr)[0] or "" if is_var else expr) - exposed
                if unknown:
                    failures.append(f"{label}: names metrics the exporter does not expose: {sorted(unknown)}")
                    continue
                try:
                    q = common.substitute(expr, values)
                except KeyError as e:
                    failures.append(f"{label}: {e}")
                    continue
                if is_var:
                    sel, lab = common.label_values_query(q)
                    try:
                        vals = self.prom.api(f"label/{lab}/values", {"match[]": sel} if sel else None)
                    except AssertionError as e:
                        failures.append(f"{label}: {e}")
                        continue
                    if not vals:
                        failures.append(f"{label}: {q} returned no values")
                    continue
                try:
                    res = self.prom.query(q)["result"]
                    if not res:
                        failures.append(f"{label}: instant query returned no data: {q}")
                    if not instant:
                        rng = self.prom.api("query_range", {"query": q, "start": now - 60, "end": now, "step": "5"})
                        if not rng["result"]:
                            failures.append(f"{label}: range query returned no data: {q}")
                except AssertionError as e:
                    failures.append(f"{label}: {e}")
        print(f"     ran {ran} dashboard queries"
              + (f"; {by_name_only} enforce queries checked by name only (exporter built without bpf)"
                 if by_name_only else ""))
        assert not failures, "\n  " + "\n  ".join(failures)

    def report(self):
        if self.deliveries:
            print("alert delivery (Alertmanager group_wait 1s, group_interval 2s):")
            for what, secs in self.deliveries:
                print(f"  {what:<58} {secs:6.1f}s")
        if not self.timings:
            return
        print("time to firing (from the scenario event; `for:` divided by %d):" % FOR_SCALE)
        for alert, who, event, secs, bound in self.timings:
            print(f"  {alert:<36} {who:<18} {secs:6.1f}s after: {event} (bound {bound:.0f}s)")


def preflight():
    for tool in (common.PROMETHEUS, common.PROMTOOL, common.ALERTMANAGER, "ip", "iptables", "ss"):
        if not shutil.which(tool):
            raise AssertionError(f"{tool} not found (scripts/deps.sh test: prometheus prometheus-alertmanager "
                                 "iptables iproute2)")
    exe = testlib.exporter_binary()
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, f"{exe} --version: rc={out.returncode} {out.stderr}"


def main():
    testlib.install_signal_handlers()
    testlib.require_root("ip netns, iptables")
    r = Runner()
    e = E2E(r)
    if r.check("preflight (root, prometheus, promtool, exporter binary)", preflight):
        r.check("fast rule variant: same rules, for: / 60, promtool-valid", e.check_fast_rules)
        try:
            e.run()
        except testlib.ScenarioFailure as ex:
            r.failed += 1
            print(f"FAIL scenario: {ex}")
        e.report()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
