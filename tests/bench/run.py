#!/usr/bin/env python3
"""Benchmark harness for halfopen_exporter (GitHub issue 4).

Run through tests/bench/run.sh (it builds first); needs root. For each size
N (established loopback connections, so 2N sockets: the client ends held by
loadgen workers, the server ends waiting in accept queues) it measures, on
the same sockets, in a network namespace it creates:

  floor          build/tests/sockdiag_record --count --repeat K: the same
                 dumps as the exporter (IPv4 then IPv6, connected states,
                 INET_DIAG_INFO) with the exporter's sockdiag code, nothing else
  exporter       halfopen_exporter with a typical config (services claiming
                 half of the sockets, so its kernel port filter is on):
                 median collection time (halfopen_collection_duration_seconds,
                 read after each collection), CPU per collection (all threads,
                 /proc/PID/task/*/schedstat, over K collections with no
                 scrape), peak RSS (VmHWM), /metrics under wrk
  exporter-all   the same config plus `defaults.unmatched: count`: every
                 socket reaches userspace and is classified, i.e. the very
                 same dump as the floor
  ss             `ss -tni state established > /dev/null` (iproute2)
  node_exporter  prometheus-node-exporter --collector.disable-defaults
                 --collector.tcpstat, curl of /metrics on loopback

Tools never run at the same time (2 cores): each one is started, measured
and stopped before the next. Results go to BENCHMARKS.md,
docs/benchmarks/collection_time.png and docs/benchmarks/results.json;
scratch files and logs to tests/bench/out/.
"""
import argparse
import ctypes
import datetime
import glob
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "scenario"))
from testlib import stop_process  # noqa: E402
OUT = os.path.join(HERE, "out")

LISTEN_BASE = 61000       # loadgen listeners: 61000.. (client source ports stay below 60024)
PER_LISTENER = 60000      # accept-queue depth per listener (somaxconn is raised above it)
PER_WORKER = 19000        # client sockets per worker process (RLIMIT_NOFILE is 20000 here)
EXPORTER_PORT = 62001
NODE_PORT = 62002
PACED_DELAY_MS = 10       # paced wrk: 64 connections x <= 100 requests/s
MIN_FREE_BYTES = 3 << 30  # never grow if MemAvailable would fall below this

CLONE_NEWNET = 0x40000000
COLLECTED = re.compile(r'msg="?Collected"? ')
_libc = ctypes.CDLL(None, use_errno=True)

# rawdump request variants: (key, arguments). "both" is the floor's request
# without libnl; "v6" the AF_INET6 pass alone (no IPv6 sockets here: the
# cost of walking the hash for nothing); "compat" one TCPDIAG_GETSOCK
# request, one walk for both families; "noinfo" without INET_DIAG_INFO.
VARIANTS = [("both", ["--family", "both"]), ("v6", ["--family", "v6"]),
            ("compat", ["--family", "compat"]), ("noinfo", ["--family", "both", "--no-info"])]

TOOLS = ["floor", "exporter", "exporter_all", "ss", "node_exporter"]
LABELS = {
    "floor": "raw dump (floor)",
    "exporter": "halfopen_exporter",
    "exporter_all": "halfopen_exporter, every socket parsed",
    "ss": "ss -tni state established",
    "node_exporter": "node_exporter tcpstat",
}


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def meminfo():
    out = {}
    for line in read("/proc/meminfo").splitlines():
        k, v = line.split(":", 1)
        out[k] = int(v.split()[0]) * 1024
    return out


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def cpu_busy_s():
    """Seconds of CPU the whole machine has spent busy (all cores)."""
    f = [int(x) for x in read("/proc/stat").splitlines()[0].split()[1:]]
    idle = f[3] + f[4]
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Background:
    """How many cores other processes kept busy while a tool was measured:
    (machine busy time - the tool's own CPU) / wall. The harness's own
    polling counts as background too (it is small)."""

    def __init__(self):
        self.b0, self.t0 = cpu_busy_s(), time.monotonic()

    def cores(self, own_cpu_s):
        wall = time.monotonic() - self.t0
        return max(cpu_busy_s() - self.b0 - own_cpu_s, 0.0) / wall if wall > 0 else None


def wait_idle(max_wait, threshold=0.3):
    """Wait (up to max_wait s) for a 2 s window in which other processes
    keep less than threshold cores busy; return the last reading."""
    t = time.monotonic() + max_wait
    while True:
        b = Background()
        time.sleep(2)
        busy = b.cores(0.0)
        if busy < threshold or time.monotonic() >= t:
            return busy


def task_cpu_ns(pid):
    """CPU time (ns) of every live thread of pid, from schedstat."""
    total = 0
    for p in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            total += int(read(p).split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def proc_status(pid, key):
    for line in read("/proc/%d/status" % pid).splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return None


def http_get(port, path="/metrics", timeout=30):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return r.read().decode()


def http_status(port, path, timeout=30):
    """(status, body) of a GET; a 503 is an answer here, not an exception."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def wait_ready(port, proc, timeout):
    """Until /-/ready answers 200: the first body is published (before it,
    /metrics answers 503)."""
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if proc.poll() is not None:
            raise RuntimeError("exporter exited %s before it was ready" % proc.returncode)
        if http_status(port, "/-/ready")[0] == 200:
            return
        time.sleep(0.05)
    raise RuntimeError("/-/ready not 200 within %ds" % timeout)


def metric(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def wait_port(port, proc, timeout=30):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening on %d" % (proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d after %ds" % (port, timeout))


RUNSTAT = None  # set in main(): BUILD/tests/bench/runstat


def run_rusage(argv):
    """Run argv under runstat; return (wall s, cpu s, maxrss bytes, stderr
    of the command). runstat forks it, so ru_maxrss is the command's own."""
    p = subprocess.run([RUNSTAT] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    err = p.stderr
    m = re.search(r"^runstat wall=(\S+) cpu=(\S+) user=\S+ sys=\S+ maxrss_kib=(\d+) status=(\d+)$",
                  err, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode, err[-2000:]))
    return float(m.group(1)), float(m.group(2)), int(m.group(3)) * 1024, err[:m.start()]


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.exporter_bin = os.path.join(self.build, "halfopen_exporter")
        self.floor_bin = os.path.join(self.build, "tests", "sockdiag_record")
        self.rawdump_bin = os.path.join(self.build, "tests", "bench", "rawdump")
        self.loadgen_bin = args.loadgen
        self.ns = "hoe-bench-%d" % os.getpid()
        self.host_ns_fd = None
        self.in_ns = False
        self.loadgen = None
        self.procs = []          # everything started, killed at the end
        self.tcp_mem_saved = None
        self.results = []
        self.stop_reason = None
        self.notes = []

    # ---- namespace and sysctls -------------------------------------------
    def setup_ns(self):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.host_ns_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/" + self.ns, os.O_RDONLY)
        setns(fd)
        os.close(fd)
        self.in_ns = True
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # Per-namespace: accept queues deeper than PER_LISTENER, any port.
        for k, v in [("net/core/somaxconn", str(PER_LISTENER + 4096)),
                     ("net/ipv4/tcp_max_syn_backlog", str(PER_LISTENER + 4096)),
                     ("net/ipv4/ip_local_port_range", "1024 65535")]:
            write("/proc/sys/" + k, v)
        log("namespace", self.ns, "ready")

    def host(self, fn):
        """Run fn() in the host network namespace (global sysctls)."""
        me = os.open("/proc/self/ns/net", os.O_RDONLY)
        try:
            setns(self.host_ns_fd)
            return fn()
        finally:
            setns(me)
            os.close(me)

    def raise_tcp_mem_if_needed(self, target_conns, current_conns):
        """net.ipv4.tcp_mem is global: raise it only if the sockets already
        use a noticeable share of it, and restore it at the end."""
        def rd():
            return [int(x) for x in read("/proc/sys/net/ipv4/tcp_mem").split()]
        limits = self.host(rd)
        used = 0
        for line in read("/proc/net/sockstat").splitlines():
            if line.startswith("TCP:"):
                f = line.split()
                used = int(f[f.index("mem") + 1])
        projected = used * target_conns / max(current_conns, 1) if current_conns else used
        if projected > limits[0] / 2:
            new = [max(limits[0], int(projected * 4)), max(limits[1], int(projected * 6)),
                   max(limits[2], int(projected * 8))]
            if self.tcp_mem_saved is None:
                self.tcp_mem_saved = limits
            self.host(lambda: write("/proc/sys/net/ipv4/tcp_mem", " ".join(map(str, new))))
            self.notes.append("net.ipv4.tcp_mem raised from %s to %s during the run (restored)"
                              % (limits, new))
            log("tcp_mem raised to", new)

    # ---- load ------------------------------------------------------------
    def start_loadgen(self):
        self.loadgen = subprocess.Popen(
            [self.loadgen_bin, "--listen-base", str(LISTEN_BASE), "--per-listener",
             str(PER_LISTENER), "--per-worker", str(PER_WORKER), "--parallel", "4"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(OUT, "loadgen.log"), "w"),
            text=True, bufsize=1)
        self.procs.append(self.loadgen)

    def grow(self, n):
        self.loadgen.stdin.write("grow %d\n" % n)
        self.loadgen.stdin.flush()
        line = self.loadgen.stdout.readline().strip()
        if not line:
            raise RuntimeError("loadgen died (see tests/bench/out/loadgen.log)")
        f = line.split(None, 2)
        have = int(f[1])
        return have, (f[2] if f[0] == "err" and len(f) > 2 else None)

    def count_floor(self):
        _, _, _, err = run_rusage([self.floor_bin, "--count", "--repeat", "1"])
        return int(re.search(r"sockets=(\d+)", err).group(1))

    # ---- tools -----------------------------------------------------------
    def bench_floor(self, k):
        bg = Background()
        wall, cpu, rss, err = run_rusage([self.floor_bin, "--count", "--repeat", str(k)])
        bg = bg.cores(cpu)
        passes = [(int(a), float(b)) for a, b in re.findall(r"sockets=(\d+) seconds=(\S+)", err)]
        return {"time": median([s for _, s in passes]), "times": [s for _, s in passes],
                "cpu": cpu / k, "rss": rss, "sockets": passes[-1][0], "background_cores": bg}

    def bench_variants(self, k):
        """rawdump (tests/bench/rawdump.c, plain netlink, no libnl) on the
        same sockets: what other requests would cost. CPU per pass."""
        out = {}
        for name, argv in VARIANTS:
            wall, cpu, rss, err = run_rusage([self.rawdump_bin] + argv + ["--repeat", str(k)])
            passes = [float(b) for b in re.findall(r"seconds=(\S+)", err)]
            out[name] = {"time": median(passes), "cpu": cpu / k}
        return out

    def bench_ss(self, k):
        times, cpus, rss = [], [], 0
        bg = Background()
        for _ in range(k):
            wall, cpu, r, _ = run_rusage(["ss", "-tni", "state", "established"])
            times.append(wall)
            cpus.append(cpu)
            rss = max(rss, r)
        bg = bg.cores(sum(cpus))
        return {"time": median(times), "times": times, "cpu": median(cpus), "rss": rss,
                "background_cores": bg}

    def bench_node(self, k):
        logf = open(os.path.join(OUT, "node_exporter.log"), "w")
        p = subprocess.Popen(["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % NODE_PORT,
                              "--collector.disable-defaults", "--collector.tcpstat"],
                             stdout=logf, stderr=logf)
        self.procs.append(p)
        try:
            wait_port(NODE_PORT, p)
            body = http_get(NODE_PORT, timeout=120)  # warm-up, and a sanity check
            m = re.search(r'node_tcp_connection_states\{state="established"\} (\S+)', body)
            est = int(float(m.group(1))) if m else None
            times = []
            bg = Background()
            cpu0 = task_cpu_ns(p.pid)
            for _ in range(k):
                r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}",
                                    "http://127.0.0.1:%d/metrics" % NODE_PORT],
                                   capture_output=True, text=True, check=True, timeout=300)
                times.append(float(r.stdout))
            cpu1 = task_cpu_ns(p.pid)
            bg = bg.cores((cpu1 - cpu0) / 1e9)
            rss = proc_status(p.pid, "VmHWM")
        finally:
            p.terminate()
            p.wait(timeout=30)
            logf.close()
        return {"time": median(times), "times": times, "cpu": (cpu1 - cpu0) / 1e9 / k, "rss": rss,
                "sockets": est, "background_cores": bg}

    def exporter_config(self, all_sockets):
        # Half the sockets are claimed (the client ends: remote port = a
        # listener); the inbound services name ports nothing uses. With
        # unmatched counted, every socket is parsed and classified.
        y = "defaults: {stale_after: 5m%s}\n" % (", unmatched: count" if all_sockets else "")
        y += ("services:\n"
              "  - {name: bench_upstream, direction: outbound, ports: [\"%d-%d\"]}\n"
              "  - {name: bench_web, direction: inbound, ports: [60500, \"60600-60610\"]}\n"
              "  - {name: postgres, direction: outbound, ports: [5432]}\n"
              % (LISTEN_BASE, LISTEN_BASE + 99))
        path = os.path.join(OUT, "config-%s.yml" % ("all" if all_sockets else "services"))
        write(path, y)
        return path

    def bench_exporter(self, k, all_sockets, n_label, interval_s=1, wrk=False, binary=None):
        """Start the exporter, let it collect once (warm-up), then either
        (wrk=False) time K collections, each followed by one floor pass
        while the exporter sleeps (interval_s leaves room for it), so every
        exporter/floor ratio compares two runs under the same background
        load; or (wrk=True) run wrk while it collects every interval_s.
        binary: another exporter (the previous build), else this build's."""
        cfg = self.exporter_config(all_sockets)
        logpath = os.path.join(OUT, "exporter-%s-%s%s%s.log" % ("all" if all_sockets else "services", n_label,
                                                                "-wrk" if wrk else "",
                                                                "-previous" if binary else ""))
        logf = open(logpath, "w")
        p = subprocess.Popen([binary or self.exporter_bin, "--config.file=" + cfg,
                              "--collector.interval=%ds" % interval_s,
                              "--web.listen-address=127.0.0.1:%d" % EXPORTER_PORT, "--log.level=debug"],
                             stdout=logf, stderr=logf)
        self.procs.append(p)
        seen = [0]
        published = [0.0]

        def collections(timeout):
            """Block until one more collection is published, and return its body.
            The "Collected" log line wakes us without scraping during the
            collection (a scrape would load the CPU being measured); it is
            logged just before the body is published, so the body is then
            polled until halfopen_collections_total moves."""
            t = time.monotonic() + timeout
            while time.monotonic() < t:
                if p.poll() is not None:
                    raise RuntimeError("exporter exited %s: %s" % (p.returncode, read(logpath)[-2000:]))
                n = len(COLLECTED.findall(read(logpath)))
                if n > seen[0]:
                    seen[0] = n
                    break
                time.sleep(0.005)
            else:
                raise RuntimeError("no collection in %ds: %s" % (timeout, read(logpath)[-2000:]))
            while time.monotonic() < t:
                status, body = http_status(EXPORTER_PORT, "/metrics")
                total = metric(body, "halfopen_collections_total") if status == 200 else None
                if total is not None and total > published[0]:
                    published[0] = total
                    return body
                time.sleep(0.005)
            raise RuntimeError("collection %d logged but not published in %ds" % (n, timeout))

        res = {"interval_seconds": interval_s}
        try:
            try:
                wait_port(EXPORTER_PORT, p)
            except RuntimeError as e:
                raise RuntimeError("%s: %s" % (e, read(logpath)[-2000:]))
            wait_ready(EXPORTER_PORT, p, 300)
            body = collections(300)   # warm-up: the first collection
            res["body_bytes"] = len(body.encode())
            if wrk:
                for key, paced in (("wrk", False), ("wrk_paced", True)):
                    before = int(metric(http_get(EXPORTER_PORT), "halfopen_collections_total"))
                    res[key] = self.run_wrk(paced)
                    after = int(metric(http_get(EXPORTER_PORT), "halfopen_collections_total"))
                    res[key]["collections_during"] = after - before
            else:
                durs, floors, floor_cpus, ratios, socks = [], [], [], [], None
                bg = Background()
                c0 = task_cpu_ns(p.pid)
                for _ in range(k):
                    body = collections(300 + interval_s)
                    c1 = task_cpu_ns(p.pid)   # after the collection (and one scrape of its ready body: microseconds)
                    d = metric(body, "halfopen_collection_duration_seconds")
                    socks = int(metric(body, "halfopen_collection_sockets"))
                    errs = metric(body, "halfopen_collection_errors_total")
                    _, fcpu, _, err = run_rusage([self.floor_bin, "--count", "--repeat", "1"])
                    f = float(re.search(r"seconds=(\S+)", err).group(1))
                    durs.append(d)
                    floors.append(f)
                    floor_cpus.append(fcpu)
                    ratios.append(d / f)
                exp_cpu = (c1 - c0) / 1e9
                res.update({"time": median(durs), "times": durs, "cpu": exp_cpu / k,
                            "floor_paired": floors, "floor_paired_cpu": floor_cpus,
                            "ratio_floor_paired": median(ratios), "sockets": socks,
                            "collection_errors": errs,
                            "background_cores": bg.cores(exp_cpu + sum(floor_cpus))})
            res["rss"] = proc_status(p.pid, "VmHWM")
        finally:
            stop_process(p, timeout=30)
            logf.close()
        return res

    def run_wrk(self, paced=False):
        """wrk as the issue says (closed loop: each connection sends its next
        request as soon as the last is answered, so the run saturates the
        2 cores and latency >= 64 / throughput); paced, each connection
        waits PACED_DELAY_MS between requests: 64 busy scrapers, not a
        saturating load."""
        script = []
        if paced:
            path = os.path.join(OUT, "paced.lua")
            write(path, "-- wrk: each connection waits between requests\n"
                        "function delay()\n  return %d\nend\n" % PACED_DELAY_MS)
            script = ["-s", path]
        r = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % self.args.wrk_seconds, "--latency"] + script +
                           ["http://127.0.0.1:%d/metrics" % EXPORTER_PORT],
                           capture_output=True, text=True, timeout=self.args.wrk_seconds + 60)
        out = r.stdout
        write(os.path.join(OUT, "wrk-last%s.txt" % ("-paced" if paced else "")), out + r.stderr)

        def dur(s):
            m = re.match(r"([\d.]+)(us|ms|s|m)$", s)
            v = float(m.group(1))
            return v * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(2)]
        lat = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M))
        rps = re.search(r"Requests/sec:\s+(\S+)", out)
        errors = re.search(r"Socket errors: (.*)$", out, re.M)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if r.returncode != 0 or "50" not in lat or not rps:
            raise RuntimeError("wrk failed: " + out + r.stderr)
        return {"p50": dur(lat["50"]), "p90": dur(lat["90"]), "p99": dur(lat["99"]),
                "rps": float(rps.group(1)), "socket_errors": errors.group(1) if errors else None,
                "non2xx": int(non2xx.group(1)) if non2xx else 0}

    # ---- one size ----------------------------------------------------------
    def measure(self, n, k):
        row = {"connections": n, "loadavg": read("/proc/loadavg").split()[:3]}
        if self.args.idle_wait > 0:
            busy = wait_idle(self.args.idle_wait)
            log("N=%d: other processes keep %.2f cores busy" % (n, busy))
        log("N=%d: raw floor" % n)
        row["floor"] = self.bench_floor(k + 2)
        row["sockets"] = row["floor"]["sockets"]
        log("N=%d: floor %.4fs for %d sockets; ss" % (n, row["floor"]["time"], row["sockets"]))
        row["variants"] = self.bench_variants(3)
        row["ss"] = self.bench_ss(k)
        log("N=%d: ss %.4fs; node_exporter" % (n, row["ss"]["time"]))
        row["node_exporter"] = self.bench_node(k)
        log("N=%d: node_exporter %.4fs; exporter" % (n, row["node_exporter"]["time"]))
        # Room for one floor pass between two collections.
        interval = max(1, math.ceil(2.5 * row["floor"]["time"] + 0.5))
        row["exporter"] = self.bench_exporter(k, False, str(n), interval)
        log("N=%d: exporter %.4fs (%.2fx the floor, paired); exporter (every socket)"
            % (n, row["exporter"]["time"], row["exporter"]["ratio_floor_paired"]))
        row["exporter_all"] = self.bench_exporter(k, True, str(n), interval)
        log("N=%d: exporter (every socket) %.4fs (%.2fx); wrk" % (n, row["exporter_all"]["time"],
                                                                  row["exporter_all"]["ratio_floor_paired"]))
        w = self.bench_exporter(k, False, str(n), 1, wrk=True)
        row["exporter"]["wrk"] = w["wrk"]
        row["exporter"]["wrk_paced"] = w["wrk_paced"]
        row["exporter"]["body_bytes"] = w["body_bytes"]
        row["exporter"]["rss_wrk"] = w["rss"]
        log("N=%d: wrk p99 %.2fms, paced p99 %.2fms" % (n, w["wrk"]["p99"] * 1e3, w["wrk_paced"]["p99"] * 1e3))
        if self.args.previous:
            # The same runs on the previous build, on the same sockets, in
            # the order this, previous, previous, this (ABBA), so that a
            # drift in the background load falls on both builds alike; each
            # build's figure is the mean of its two runs.
            pws = [self.bench_exporter(k, False, str(n), 1, wrk=True, binary=self.args.previous)
                   for _ in range(2)]
            w2 = self.bench_exporter(k, False, str(n), 1, wrk=True)
            row["exporter"]["http_compared"] = {
                "wrk": mean_wrk([w["wrk"], w2["wrk"]]),
                "wrk_paced": mean_wrk([w["wrk_paced"], w2["wrk_paced"]]),
                "runs": [w, w2]}
            row["previous"] = {"wrk": mean_wrk([x["wrk"] for x in pws]),
                               "wrk_paced": mean_wrk([x["wrk_paced"] for x in pws]),
                               "body_bytes": pws[0]["body_bytes"],
                               "rss_wrk": max(x["rss"] for x in pws), "runs": pws}
            log("N=%d: previous build: wrk p99 %.2fms, paced p99 %.2fms (means of 2)"
                % (n, row["previous"]["wrk"]["p99"] * 1e3, row["previous"]["wrk_paced"]["p99"] * 1e3))
        row["meminfo_available"] = meminfo()["MemAvailable"]
        row["loadavg_end"] = read("/proc/loadavg").split()[:3]
        return row

    def run(self):
        os.makedirs(OUT, exist_ok=True)
        self.mem_start = meminfo()["MemAvailable"]
        self.setup_ns()
        self.start_loadgen()
        have = 0
        for n in self.args.sizes:
            # Memory: project from what the connections so far cost.
            avail = meminfo()["MemAvailable"]
            if have:
                per_conn = max(self.mem_start - avail, 0) / have
                projected = avail - per_conn * (n - have)
                if projected < MIN_FREE_BYTES:
                    self.stop_reason = ("N=%d not attempted: %.1f KiB of kernel memory per connection "
                                        "measured, MemAvailable would fall to %.1f GiB (< %.0f GiB kept free)"
                                        % (n, per_conn / 1024, projected / 2**30, MIN_FREE_BYTES / 2**30))
                    log(self.stop_reason)
                    break
            self.raise_tcp_mem_if_needed(n, have)
            t0 = time.monotonic()
            have, err = self.grow(n)
            dt = time.monotonic() - t0
            log("N=%d: %d connections in %.1fs%s" % (n, have, dt, (" (" + err + ")") if err else ""))
            if err:
                self.stop_reason = "N=%d: the kernel refused after %d connections: %s" % (n, have, err)
                if not self.results or have > self.results[-1]["connections"] * 1.5:
                    n = have
                else:
                    break
            time.sleep(1)
            dumped = self.count_floor()
            if dumped < 2 * have:
                self.notes.append("N=%d: the dump saw %d sockets, expected >= %d" % (n, dumped, 2 * have))
                log(self.notes[-1])
            row = self.measure(have, self.args.collections)
            row["setup_seconds"] = dt
            row["partial"] = err
            self.results.append(row)
            if err:
                break

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                if p is self.loadgen:
                    try:
                        p.stdin.write("quit\n")
                        p.stdin.flush()
                        p.wait(timeout=120)
                        continue
                    except Exception:
                        pass
                p.kill()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
        if self.in_ns:
            # Anything left in the namespace (nothing should be).
            r = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                if int(pid) != os.getpid():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            setns(self.host_ns_fd)
            self.in_ns = False
        if self.tcp_mem_saved is not None:
            write("/proc/sys/net/ipv4/tcp_mem", " ".join(map(str, self.tcp_mem_saved)))
            log("tcp_mem restored to", self.tcp_mem_saved)
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)


# ---- report ------------------------------------------------------------------
def fmt_t(s):
    if s is None:
        return "—"
    if s < 1e-3:
        return "%.0f µs" % (s * 1e6)
    if s < 1:
        return "%.1f ms" % (s * 1e3) if s < 0.1 else "%.0f ms" % (s * 1e3)
    return "%.2f s" % s


def mean_wrk(runs):
    """The mean of wrk results' latencies and rates (errors summed)."""
    out = {}
    for key in ("p50", "p90", "p99", "rps"):
        out[key] = sum(r[key] for r in runs) / len(runs)
    out["non2xx"] = sum(r.get("non2xx") or 0 for r in runs)
    out["socket_errors"] = "; ".join(r["socket_errors"] for r in runs if r.get("socket_errors")) or None
    return out


def fmt_x(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def ratio_floor_value(r, tool):
    x = r[tool].get("ratio_floor_paired")
    if x is None and r[tool].get("time") and r["floor"].get("time"):
        x = r[tool]["time"] / r["floor"]["time"]
    return x


def ratio_floor(r, tool):
    x = ratio_floor_value(r, tool)
    return "—" if x is None else "%.2f×" % x


def exporter_rss(r):
    return max(x for x in (r["exporter"].get("rss"), r["exporter"].get("rss_wrk"),
                           r["exporter_all"].get("rss")) if x is not None)


def fmt_mib(b):
    return "—" if b is None else "%.1f MiB" % (b / 2**20)


def fmt_n(n):
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return "{:,}".format(n)


def machine_info():
    cpu = "?"
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def cmd(*a):
        try:
            return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except Exception:
            return "?"
    rev = cmd("git", "-C", ROOT, "rev-parse", "--short=12", "HEAD")
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(meminfo()["MemTotal"] / 2**30, 1),
        "kernel": platform.release(),
        "os": "Debian " + read("/etc/debian_version").strip() if os.path.exists("/etc/debian_version") else platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": rev + ("-dirty" if dirty else ""),
        "ss": cmd("ss", "-V"), "node_exporter": cmd("prometheus-node-exporter", "--version"),
        "wrk": cmd("wrk", "-v"), "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "loadavg": read("/proc/loadavg").split()[:3],
    }


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    styles = {"floor": ("k", "o", "--"), "exporter": ("tab:blue", "s", "-"),
              "exporter_all": ("tab:cyan", "D", "-"), "ss": ("tab:red", "^", "-"),
              "node_exporter": ("tab:orange", "v", "-")}
    for tool in TOOLS:
        pts = [(r["sockets"], r[tool]["time"]) for r in results if r.get(tool) and r[tool].get("time")]
        if not pts:
            continue
        c, m, ls = styles[tool]
        ax.plot([x for x, _ in pts], [y for _, y in pts], color=c, marker=m, linestyle=ls,
                label=LABELS[tool])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sockets in the namespace (2 per loopback connection)")
    ax.set_ylabel("time per collection / scrape / run (s, median)")
    ax.set_title("TCP socket dump: halfopen_exporter vs floor and peers")
    ax.grid(True, which="both", alpha=0.3)
    ax.axhline(1.5, color="grey", linewidth=0.8, linestyle=":")
    ax.axvline(1e6, color="grey", linewidth=0.8, linestyle=":")
    ax.annotate("target: 1M sockets < 1.5 s", (1e6, 1.5), textcoords="offset points", xytext=(-150, 6),
                fontsize=8, color="grey")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def report(data, png_rel):
    R = data["results"]
    info = data["machine"]
    args = data["args"]
    L = []
    a = L.append
    a("# Benchmarks")
    a("")
    prev = data.get("previous") or {}
    a("Generated by `sudo tests/bench/run.sh --sizes %s%s` (%s; GitHub issues 4 and 20). "
      "Do not edit by hand: rerun the command." % (
          ",".join(str(s) for s in data["sizes"]),
          " --previous %s" % prev["label"] if prev.get("label") else "", info["date"]))
    a("")
    a("## What is measured")
    a("")
    a("For each N the harness opens N established loopback TCP connections in a network namespace "
      "it creates (client ends held by `tests/bench/loadgen` worker processes, ≤ %d each; server ends "
      "left in the accept queues of listeners that never accept), so the namespace holds **2N "
      "established sockets** — the *sockets* column. Every tool then runs, alone, on those same "
      "sockets:" % PER_WORKER)
    a("")
    a("- **floor** — `build/tests/sockdiag_record --count --repeat K`: the exporter's own sockdiag "
      "code walking the same dumps (IPv4 then IPv6, connected states, `INET_DIAG_INFO`) and nothing "
      "else: the cost of the kernel dump plus the netlink reads.")
    a("- **exporter** — `halfopen_exporter` with a typical config "
      "(`tests/bench/out/config-services.yml`: services claim the client half of the sockets, so the "
      "exporter's kernel port filter is on and only matching sockets reach userspace). Time = "
      "`halfopen_collection_duration_seconds` read after each of K collections; after each, "
      "while the exporter sleeps (`--collector.interval` is set to ≥ 2.5× the floor), one floor "
      "pass runs, and *×floor (paired)* is the median of those per-collection ratios: the two "
      "sides of each ratio ran seconds apart, under the same background load. CPU = all threads' "
      "CPU (`/proc/PID/task/*/schedstat`) over the K collections, / K; peak RSS = the largest "
      "`VmHWM` of its runs, wrk included.")
    a("- **exporter, every socket** — the same plus `defaults.unmatched: count`: no kernel filter, "
      "every socket is parsed, matched and classified — exactly the floor's dump, so its "
      "*×floor* is the userspace overhead.")
    a("- **ss** — `ss -tni state established > /dev/null` (iproute2), wall time of the process.")
    a("- **node_exporter** — `prometheus-node-exporter --collector.disable-defaults "
      "--collector.tcpstat` in the namespace, `curl` of its `/metrics` on loopback (a scrape "
      "runs the collector).")
    a("- **/metrics under wrk** — `wrk -t2 -c64 -d%ds --latency` on the exporter's `/metrics` "
      "(services config) while it collects every second (`--collector.interval=1s`: at the "
      "largest sizes the collection thread is busy most of the time and competes for the 2 cores)."
      % args["wrk_seconds"])
    a("")
    a("Times are medians of K=%d runs (floor: K+2 passes); ratios are *tool / reference* of those "
      "medians (< 1× means faster than the reference), except the exporter's *×floor*, paired as "
      "above." % args["collections"])
    a("")
    a("## Machine")
    a("")
    a("| | |")
    a("|---|---|")
    a("| CPU | %s, %d cores |" % (info["cpu"], info["cores"]))
    a("| memory | %.1f GiB |" % info["mem_gib"])
    a("| kernel | %s (%s) |" % (info["kernel"], info["os"]))
    a("| date | %s |" % info["date"])
    a("| revision | %s (build: meson `--buildtype=release`) |" % info["revision"])
    a("| peers | %s; %s; %s |" % (info["ss"], info["node_exporter"], info["wrk"]))
    a("| open files | %d per process (hard) |" % info["nofile"])
    a("| load average at start | %s |" % " ".join(info["loadavg"]))
    a("")
    if not R:
        a("No size could be measured: %s" % (data["stop_reason"] or "see the log"))
        return "\n".join(L) + "\n"

    worst = max([r[t].get("background_cores") or 0 for r in R for t in TOOLS] + [0])
    if worst > 0.25:
        a("> **Noisy run**: other processes on this shared machine kept up to %.1f of the %d cores "
          "busy during some measurements (per tool and size under *Runs*). Absolute times of "
          "those rows are inflated; CPU times and ratios between tools measured under similar "
          "load suffer less. Rerun on an idle machine for reference numbers."
          % (worst, info["cores"]))
        a("")
    a("## Collection time")
    a("")
    a("| connections | sockets | floor | exporter | ×floor (paired) | ×ss | ×node_exporter | exporter, every socket | ×floor (paired) | ss -tni | node_exporter |")
    a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in R:
        f, e, ea, s, nd = (r[t]["time"] for t in TOOLS)
        a("| %s | {:,} | %s | **%s** | %s | %s | %s | %s | %s | %s | %s |".format(r["sockets"]) % (
            fmt_n(r["connections"]), fmt_t(f), fmt_t(e), ratio_floor(r, "exporter"), fmt_x(e, s),
            fmt_x(e, nd), fmt_t(ea), ratio_floor(r, "exporter_all"), fmt_t(s), fmt_t(nd)))
    a("")
    a("![collection time vs sockets](%s)" % png_rel)
    a("")
    a("## CPU and memory")
    a("")
    a("CPU time per collection (user + system, all threads; the kernel's dump work is charged to "
      "the reading process) and peak RSS (`VmHWM` / `ru_maxrss`).")
    a("")
    a("| connections | exporter CPU | ×floor | exporter-all CPU | ×floor | floor CPU | ss CPU | node_exporter CPU | exporter peak RSS | exporter-all RSS | floor RSS | ss RSS | node_exporter RSS |")
    a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in R:
        a("| %s | %s | %s | %s | %s | %s | %s | %s | **%s** | %s | %s | %s | %s |" % (
            fmt_n(r["connections"]), fmt_t(r["exporter"]["cpu"]), fmt_x(r["exporter"]["cpu"], r["floor"]["cpu"]),
            fmt_t(r["exporter_all"]["cpu"]), fmt_x(r["exporter_all"]["cpu"], r["floor"]["cpu"]),
            fmt_t(r["floor"]["cpu"]), fmt_t(r["ss"]["cpu"]), fmt_t(r["node_exporter"]["cpu"]),
            fmt_mib(max(r["exporter"]["rss"], r["exporter"].get("rss_wrk") or 0)),
            fmt_mib(r["exporter_all"]["rss"]), fmt_mib(r["floor"]["rss"]),
            fmt_mib(r["ss"]["rss"]), fmt_mib(r["node_exporter"]["rss"])))
    a("")
    a("## /metrics under load")
    a("")
    a("`wrk -t2 -c64 -d%ds --latency` as issue 4 asks is a closed loop: 64 connections each send "
      "the next request the moment the last one is answered, so wrk and the server share the 2 "
      "cores flat out and, by Little's law, the mean latency cannot be below 64 / (requests/s) — "
      "shown as *64/rps*. The *paced* run is the same but each connection waits %d ms between "
      "requests (≤ %d requests/s offered): 64 busy scrapers without saturating the machine, so its "
      "latency is the server's, not the queue's. Both run while the exporter keeps collecting "
      "every second." % (args["wrk_seconds"], PACED_DELAY_MS, 64 * 1000 // PACED_DELAY_MS))
    a("")
    a("| connections | p50 | p90 | p99 | requests/s | 64/rps | paced p50 | paced p99 | paced requests/s | collections during the runs | errors | body |")
    a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in R:
        w = r["exporter"]["wrk"]
        wp = r["exporter"].get("wrk_paced") or {}
        errs = []
        for x in (w, wp):
            if x.get("socket_errors"):
                errs.append("socket errors: " + x["socket_errors"])
            if x.get("non2xx"):
                errs.append("%d non-2xx" % x["non2xx"])
        a("| %s | %s | %s | **%s** | {:,.0f} | %s | %s | **%s** | %s | %s | %s | %.1f KiB |".format(w["rps"]) % (
            fmt_n(r["connections"]), fmt_t(w["p50"]), fmt_t(w["p90"]), fmt_t(w["p99"]),
            fmt_t(64 / w["rps"]), fmt_t(wp.get("p50")), fmt_t(wp.get("p99")),
            "{:,.0f}".format(wp["rps"]) if wp else "—",
            "%d + %s" % (w["collections_during"], wp.get("collections_during", "—")),
            "; ".join(errs) or "none", r["exporter"]["body_bytes"] / 1024))
    a("")
    if all(r.get("previous") for r in R):
        prev = data.get("previous") or {}
        a("### This build against the previous one")
        a("")
        a("The same two wrk runs (closed loop, paced) on the previous build (%s), on the same "
          "sockets with the same config and flags, in the order this build, previous, previous, "
          "this build, so that a drift in the machine's load falls on both alike; each figure is "
          "the mean of a build's two runs. What this build's HTTP side (self-metrics, request "
          "gating, connection accounting, and the larger body those metrics make) costs. *×prev* "
          "is this build / previous (< 1× is faster or less)."
          % (prev.get("label") or "given by --previous"))
        a("")
        a("| connections | p99 | previous p99 | ×prev | requests/s | previous requests/s | ×prev "
          "| paced p99 | previous paced p99 | ×prev | body | previous body | peak RSS | previous peak RSS | errors |")
        a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in R:
            cmp_ = r["exporter"]["http_compared"]
            w, wp = cmp_["wrk"], cmp_["wrk_paced"]
            pv = r["previous"]
            errs = []
            for who, runs in (("this", (w, wp)), ("previous", (pv["wrk"], pv["wrk_paced"]))):
                for x in runs:
                    if x.get("socket_errors"):
                        errs.append("%s: socket errors %s" % (who, x["socket_errors"]))
                    if x.get("non2xx"):
                        errs.append("%s: %d non-2xx" % (who, x["non2xx"]))
            a("| %s | %s | %s | %s | {:,.0f} | {:,.0f} | %s | %s | %s | %s | %.1f KiB | %.1f KiB | %s | %s | %s |"
              .format(w["rps"], pv["wrk"]["rps"]) % (
                  fmt_n(r["connections"]), fmt_t(w["p99"]), fmt_t(pv["wrk"]["p99"]),
                  fmt_x(w["p99"], pv["wrk"]["p99"]), fmt_x(w["rps"], pv["wrk"]["rps"]),
                  fmt_t(wp["p99"]), fmt_t(pv["wrk_paced"]["p99"]),
                  fmt_x(wp["p99"], pv["wrk_paced"]["p99"]),
                  r["exporter"]["body_bytes"] / 1024, pv["body_bytes"] / 1024,
                  fmt_mib(max(x["rss"] for x in cmp_["runs"])), fmt_mib(pv["rss_wrk"]),
                  "; ".join(errs) or "none"))
        a("")
    if all(r.get("variants") for r in R):
        a("## Where the floor's time goes")
        a("")
        a("`tests/bench/rawdump` (plain netlink, no libnl, no parsing) on the same sockets, CPU time "
          "per pass (median of 3 passes' wall in parentheses). *both* is the floor's request "
          "(AF_INET then AF_INET6); *AF_INET6 alone* finds no socket here, so it is the price of "
          "walking the kernel's socket hash once more for nothing; *one walk* is a single legacy "
          "`TCPDIAG_GETSOCK` request that covers both families in one walk; *no tcp_info* drops "
          "`INET_DIAG_INFO`. The floor (`sockdiag_record`) adds libnl and the parser to *both*.")
        a("")
        a("| connections | floor CPU | rawdump both | ×floor | AF_INET6 alone | share of both | one walk (compat) | ×both | no tcp_info | ×both |")
        a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in R:
            v = r["variants"]
            b = v["both"]["cpu"]

            def c(x):
                return "%s (%s)" % (fmt_t(x["cpu"]), fmt_t(x["time"]))
            a("| %s | %s | %s | %s | %s | %.0f%% | %s | %s | %s | %s |" % (
                fmt_n(r["connections"]), fmt_t(r["floor"]["cpu"]), c(v["both"]),
                fmt_x(b, r["floor"]["cpu"]), c(v["v6"]), 100 * v["v6"]["cpu"] / b, c(v["compat"]),
                fmt_x(v["compat"]["cpu"], b), c(v["noinfo"]), fmt_x(v["noinfo"]["cpu"], b)))
        a("")
    a("## Targets (issue 4)")
    a("")
    a("| connections | collection ≤ 1.2× floor | ≤ 0.3× ss | peak RSS ≤ 16 MiB | /metrics p99 < 2 ms (wrk; paced) |")
    a("|---:|---|---|---|---|")

    def ok(c, txt):
        return ("✅ " if c else "❌ ") + txt
    for r in R:
        e, f, s = r["exporter"], r["floor"], r["ss"]
        ea = r["exporter_all"]
        a("| %s | %s | %s | %s | %s |" % (
            fmt_n(r["connections"]),
            ok(ratio_floor_value(r, "exporter") <= 1.2, "%s (every socket: %s)" % (ratio_floor(r, "exporter"), ratio_floor(r, "exporter_all"))),
            ok(e["time"] <= 0.3 * s["time"], "%s (every socket: %s)" % (fmt_x(e["time"], s["time"]), fmt_x(ea["time"], s["time"]))),
            ok(exporter_rss(r) <= 16 * 2**20, fmt_mib(exporter_rss(r))),
            ok(e["wrk"]["p99"] < 2e-3, fmt_t(e["wrk"]["p99"]) + "; paced " +
               (("✅ " if e["wrk_paced"]["p99"] < 2e-3 else "❌ ") + fmt_t(e["wrk_paced"]["p99"])
                if e.get("wrk_paced") else "—"))))
    # 1M sockets in under 1.5 s: interpolate on sockets (log-log) if not measured exactly.
    a("")
    one_m = [r for r in R if r["sockets"] >= 1000000]
    if one_m:
        r = one_m[0]
        a("1M sockets in under 1.5 s: at %s sockets (%s connections) the exporter took %s, every "
          "socket parsed %s (floor %s)." % ("{:,}".format(r["sockets"]), fmt_n(r["connections"]),
                                            fmt_t(r["exporter"]["time"]), fmt_t(r["exporter_all"]["time"]),
                                            fmt_t(r["floor"]["time"])))
    else:
        a("1M sockets in under 1.5 s: not measured (largest: %s sockets)." % "{:,}".format(R[-1]["sockets"]))
    a("")
    a("## Runs")
    a("")
    for r in R:
        a("- %s connections: set up in %.0f s; load average %s before, %s after; the dump saw %s "
          "sockets; the exporter's filtered collections saw %s; node_exporter counted %s "
          "established%s." % (
              fmt_n(r["connections"]), r["setup_seconds"], "/".join(r["loadavg"]),
              "/".join(r["loadavg_end"]), "{:,}".format(r["sockets"]),
              "{:,}".format(r["exporter"]["sockets"]), r["node_exporter"]["sockets"],
              ("; partial: " + r["partial"]) if r.get("partial") else ""))
        bgs = ["%s %.2f" % (t, r[t]["background_cores"]) for t in TOOLS
               if r[t].get("background_cores") is not None]
        if bgs:
            a("  Cores kept busy by other processes while each tool ran: %s." % ", ".join(bgs))
    if data["stop_reason"]:
        a("- Largest size: %s" % data["stop_reason"])
    for n in data["notes"]:
        a("- %s" % n)
    a("- Raw numbers: [docs/benchmarks/results.json](docs/benchmarks/results.json); logs of the "
      "last run in `tests/bench/out/` (not committed).")
    a("")
    for line in ENFORCE_SECTION:
        a(line)
    a("## Reproduce")
    a("")
    a("```sh")
    a("sudo tests/bench/run.sh                                   # 10k,100k,500k,1M connections")
    a("sudo tests/bench/run.sh --sizes 10000,100000              # quicker")
    a("sudo tests/bench/run.sh --sizes 10000 --no-write          # smoke test, writes nothing")
    a("sudo tests/bench/run.sh --previous 5c404f0                 # /metrics against an older revision too")
    a("```")
    a("")
    a("Needs root (network namespace, sysctls), `scripts/deps.sh bench` (wrk, prometheus-node-exporter, curl, "
      "python3-matplotlib; run.sh calls it), about 6 KiB of kernel memory per connection and ~15 min for all sizes on an idle machine "
      "(longer when it is busy). Not part of `meson test`. Only the namespace's own sysctls are changed "
      "(`somaxconn`, `tcp_max_syn_backlog`, `ip_local_port_range`); the global `net.ipv4.tcp_mem` "
      "is raised only if the sockets approach it, and restored.")
    return "\n".join(L) + "\n"


# Measured by its own harness (tests/enforce/bench.py), not by this run:
# a fixed section, its figures in docs/remediation.md.
ENFORCE_SECTION = [
    "## Enforce passes",
    "",
    "The enforce pass (a BPF socket iterator, `services[].enforce`) has its own harness, "
    "`sudo python3 tests/enforce/bench.py`: 100k connections, the exporter without enforce (the "
    "floor) and with each read path (`--enforce.read-path=fields|getsockopt`) passing after every "
    "collection, and with the default `--enforce.pass-max-gap` (steady collections skip the pass), "
    "side by side in one run, by the collector thread's CPU per collection, by the pass's own CPU "
    "clock, by wall time, and by the BPF program's own time per socket. Last figures (quiet 2-core "
    "machine, Linux 6.18, 2026-12-07): a pass costs 0.92-0.93x the exporter's collection of the same "
    "sockets by its own clock, 0.66-0.67x the raw sock_diag dump above (target 0.5x: not met by a "
    "pass that runs); a steady collection that skips it costs 0.04x beyond the floor; the program "
    "190-230 ns per socket visited; table and analysis in "
    "[docs/remediation.md](docs/remediation.md#cost).",
    "",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,500000,1000000",
                    help="connections, comma separated (each is 2 sockets)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--loadgen", default=None, help="loadgen binary (default: BUILD/tests/bench/loadgen)")
    ap.add_argument("--collections", type=int, default=5, help="K: collections/runs per median")
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--idle-wait", type=int, default=60,
                    help="before each size, wait up to this many seconds for the machine to be idle")
    ap.add_argument("--no-write", action="store_true", help="print the report, write nothing")
    ap.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--previous", metavar="BINARY",
                    help="an older halfopen_exporter: its /metrics is measured with the same wrk runs "
                         "right after this build's (run.sh --previous REV builds one)")
    ap.add_argument("--previous-label", default="", help="what --previous is (its revision)")
    ap.add_argument("--report-only", metavar="RESULTS_JSON",
                    help="only rewrite BENCHMARKS.md and the plot from a results.json")
    args = ap.parse_args()
    if args.report_only:
        with open(args.report_only) as f:
            data = json.load(f)
        write_outputs(data, args)
        return
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.loadgen is None:
        args.loadgen = os.path.join(os.path.abspath(args.build), "tests", "bench", "loadgen")
    global RUNSTAT
    RUNSTAT = os.path.join(os.path.abspath(args.build), "tests", "bench", "runstat")
    if os.geteuid() != 0:
        sys.exit("run.py: needs root (network namespaces, sysctls)")
    for tool in ["ss", "wrk", "curl", "prometheus-node-exporter", "ip"]:
        if not shutil.which(tool):
            sys.exit("run.py: %s not found (apt-get install iproute2 wrk curl prometheus-node-exporter)" % tool)

    bench = Bench(args)
    for p in [bench.exporter_bin, bench.floor_bin, bench.loadgen_bin, bench.rawdump_bin, RUNSTAT] + (
            [args.previous] if args.previous else []):
        if not os.access(p, os.X_OK):
            sys.exit("run.py: %s missing: build first (tests/bench/run.sh does)" % p)

    def on_signal(sig, _f):
        raise SystemExit("killed by signal %d" % sig)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)

    info = machine_info()
    t0 = time.monotonic()
    failed = None
    try:
        bench.run()
    except BaseException as e:  # report what was measured, then re-raise
        failed = e
        bench.stop_reason = bench.stop_reason or "run aborted: %r" % (e,)
    finally:
        bench.cleanup()
    log("total %.0fs" % (time.monotonic() - t0))

    data = {"machine": info, "sizes": args.sizes, "results": bench.results,
            "stop_reason": bench.stop_reason, "notes": bench.notes,
            "previous": {"binary": args.previous, "label": args.previous_label} if args.previous else None,
            "args": {"collections": args.collections, "wrk_seconds": args.wrk_seconds}}
    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, "results.json"), json.dumps(data, indent=1))
    if args.no_write or not bench.results:
        print(report(data, PNG_REL))
    else:
        write_outputs(data, args)
    if failed is not None:
        raise failed


PNG_REL = "docs/benchmarks/collection_time.png"


def write_outputs(data, args):
    os.makedirs(os.path.join(ROOT, "docs", "benchmarks"), exist_ok=True)
    plot(data["results"], os.path.join(ROOT, PNG_REL))
    write(args.output, report(data, PNG_REL))
    write(os.path.join(ROOT, "docs", "benchmarks", "results.json"), json.dumps(data, indent=1))
    log("wrote", args.output, "and", PNG_REL)


if __name__ == "__main__":
    main()
