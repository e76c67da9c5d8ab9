#!/usr/bin/env python3
"""Cost of a steady enforce pass against the sock_diag floor, for both
read paths, side by side in one run: a benchmark that prints figures (not
a test; root, by hand, after ninja -C build).

    python3 tests/enforce/bench.py [--conns 100000] [--rounds 2]
                                   [--paths none,fields,getsockopt] [--unmatched]

In a namespace of its own (a fresh one per exporter run, so every run
starts from the same sockets), tests/bench/loadgen holds --conns loopback
connections (2 x conns sockets; every 4th client socket with SO_KEEPALIVE
already, at the sysctl's idle); the exporter runs there, once per path
and round on the same sockets, with enforce.keepalive on the loadgen's
listener ports (none: the same service without enforce, the floor
alone). Per run it prints each pass (the first sets keepalive, the steady
ones read the options and find each cookie) and, at the end, per path:

- CPU: the collector thread's CPU time per collection (schedstat, exact
  to the ns, and not inflated by waiting for a CPU as wall time is on a
  busy machine). none = the floor (sock_diag dump + classification); a
  path's steady pass = its CPU per collection - the floor's. Each path
  runs a pass after every collection (--enforce.pass-max-gap=0s);
  PATH:skip runs with the default gap, so its figure is what a steady
  collection costs beyond the floor when nothing new skips the pass.
- wall: the median steady pass (halfopen_enforce_last_pass_seconds) and
  the floor in the same collections (collection duration - pass).
- the pass by its own CPU clock (halfopen_enforce_pass_cpu_seconds_total,
  the thread's CPU clock around each pass), and so the rest of that
  collection: whether a pass makes the dump after it dearer.
- with --stats, the BPF program's own time per socket visited (the
  kernel's run-time stats, on through BPF_ENABLE_STATS: they add ~100 ns
  per program run here, which the pass figures then include, so they are
  off by default).
- walk: the kernel's iterator with an empty program (pinned, read with
  cat in the namespace), the least any pass can cost.

Target: a steady state <= 0.5 x the floor, for both read paths.

Churn (--churn K, on by default in the PATH:churn labels): K new
connections after every collection, as a busy service opens them. With
no connection-time program (PATH:churn) every collection then sees a new
socket and passes; with one (PATH:churn:connect, --enforce.cgroup on a
cgroup v2 mount of the bench's own) the new connections get enforce as
they are established and the collections skip the pass.
none:churn is the floor under the same churn.

--baseline EXPORTER adds, in the same run and on the same sockets, the
read paths of another exporter binary (e.g. a copy of the previous
build's), reported as fields@base and getsockopt@base: before and after
side by side with the floor.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
from testlib import Exporter, Netns, install_signal_handlers  # noqa: E402

BUILD = os.environ.get("HALFOPEN_BUILD_ROOT") or os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                              "build")
SYS_BPF, BPF_ENABLE_STATS = 321, 32  # x86_64
CONFIG = """\
defaults: {stale_after: 1h}
services:
  - name: load
    direction: outbound
    ports: [%s]
%s"""
ENFORCE = "    enforce:\n      keepalive: {idle: 3600s, interval: 60s, count: 5}\n"


def enable_bpf_stats():
    """An fd that keeps the kernel's BPF run-time stats on while open."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(16)  # enable_stats.type = BPF_STATS_RUN_TIME (0)
    fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, attr, ctypes.sizeof(attr))
    if fd < 0:
        print("BPF_ENABLE_STATS failed: %s; no per-socket program time" %
              os.strerror(ctypes.get_errno()))
    return fd


def prog_stats(path, prefix="enforce_"):
    """(run_time_ns, run_cnt) of the newest loaded enforce program of path
    (the kernel truncates program names to 15 characters: the
    connection-time ones are all "enforce_connect")."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    progs = [p for p in json.loads(out or "[]")
             if p.get("name", "").startswith("enforce_") and (prefix + path).startswith(p["name"])]
    if not progs:
        return None
    p = max(progs, key=lambda p: p["id"])
    return p.get("run_time_ns", 0), p.get("run_cnt", 0)


def thread_cpu_ns(pid):
    """CPU time of the exporter's main thread (it collects and runs the
    passes; HTTP has threads of its own)."""
    with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
        return int(f.read().split()[0])


def run(exp, a, path, res, churn=None):
    """a.passes collections of exp; the steady ones (all but the first)
    recorded in res. churn: a Loadgen to grow by a.churn connections
    after each collection."""
    last = prev_passes = 0
    first_cpu = first_prog = None
    for i in range(a.passes):
        s = exp.wait_for(lambda s: (s.value("halfopen_collections_total") or 0) > last,
                         30, "collection %d" % (i + 1), poll=0.2)
        last = s.value("halfopen_collections_total")
        cpu = thread_cpu_ns(exp.proc.pid)
        coll = s.value("halfopen_collection_duration_seconds") or -1
        sec = s.value("halfopen_enforce_last_pass_seconds") or 0.0
        vis = s.value("halfopen_enforce_matched_sockets", tcp_service="load",
                      direction="outbound") or 0
        passes = s.value("halfopen_enforce_passes_total") or 0
        if passes == prev_passes:
            sec = 0.0  # skipped: last_pass_seconds is an older pass's
        prev_passes = passes
        print("  collection %d: %.3f s, of which the pass %.3f s (visited %d client sockets; "
              "enforced total %d, own choice %d)" % (
                  i + 1, coll, sec, vis,
                  s.value("halfopen_enforced_sockets_total", tcp_service="load",
                          direction="outbound", option="keepalive") or 0,
                  s.value("halfopen_enforce_own_choice_sockets", tcp_service="load",
                          direction="outbound", option="keepalive") or 0))
        pass_cpu = s.value("halfopen_enforce_pass_cpu_seconds_total") or 0.0
        if churn:
            churn.grow(a.churn)
        if i == 0:
            first_cpu, first_last = cpu, last
            first_pass_cpu, first_passes = pass_cpu, passes
            first_prog = prog_stats(path) if path != "none" else None
            continue
        res["wall_pass"].append(sec)
        res["wall_floor"].append(coll - sec)
    res["cpu"].append((cpu - first_cpu) / 1e9 / (last - first_last))
    print("  collector thread: %.3f s CPU per steady collection" % res["cpu"][-1])
    if path != "none" and passes > first_passes:
        # The exporter's own account: the thread's CPU clock around each
        # pass, so the pass alone, without what it may cost the dump after.
        res["pass_cpu_own"].append((pass_cpu - first_pass_cpu) / (passes - first_passes))
        print("  pass by its own CPU clock: %.3f s per steady pass (halfopen_enforce_pass_cpu_seconds_total)"
              % res["pass_cpu_own"][-1])
    if path != "none":
        at_connect = s.value("halfopen_enforced_at_connect_sockets_total", tcp_service="load",
                             direction="outbound", option="keepalive") or 0
        print("  passes run %d, skipped %d; sockets given keepalive at connect %d" % (
            passes - first_passes, (s.value("halfopen_enforce_passes_skipped_total") or 0),
            at_connect))
    if churn and a.stats and path != "none":
        c = prog_stats(path, "enforce_connect_")
        if c and c[1]:
            print("  connection-time program: %.0f ns per run (%d runs: every connection's "
                  "establishment, matched or not)" % (c[0] / c[1], c[1]))
    end_prog = prog_stats(path) if path != "none" else None
    if first_prog and end_prog and end_prog[1] > first_prog[1]:
        res["prog_ns"].append((end_prog[0] - first_prog[0]) / (end_prog[1] - first_prog[1]))
        print("  BPF program: %.0f ns per socket visited (%d visits)"
              % (res["prog_ns"][-1], end_prog[1] - first_prog[1]))


WALK_PROG = """\
#include "enforce_core.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("iter/tcp")
int walk(struct bpf_iter__tcp *ctx) { return 0; }
"""


def walk(ns, rounds, res):
    """The kernel's iter/tcp walk alone: an empty program, pinned, read to
    the end in ns `rounds` times; CPU per walk (the reader's, from
    getrusage) in res["cpu"]. The floor of any pass, whatever its
    program does."""
    with tempfile.TemporaryDirectory(prefix="ho-walk-") as d:
        src, obj = os.path.join(d, "walk.bpf.c"), os.path.join(d, "walk.bpf.o")
        with open(src, "w") as f:
            f.write(WALK_PROG)
        inc = os.path.join(os.path.dirname(os.path.dirname(HERE)), "collectors", "bpf")
        subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-I" + inc, "-c", src, "-o", obj],
                       check=True)
        if not os.path.ismount("/sys/fs/bpf"):
            subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
        pin = "/sys/fs/bpf/ho-bench-walk-%d" % os.getpid()
        subprocess.run(["bpftool", "iter", "pin", obj, pin], check=True)
        try:
            for _ in range(rounds):
                # nsenter, not ip netns exec: that one mounts a /sys
                # without the bpffs the iterator is pinned in.
                r0 = os.times()
                subprocess.run(["nsenter", "--net=/run/netns/" + ns.name, "cat", pin],
                               stdout=subprocess.DEVNULL, check=True)
                r1 = os.times()
                res["cpu"].append((r1.children_user + r1.children_system) -
                                  (r0.children_user + r0.children_system))
            print("  the walk alone (empty iter/tcp program): %s s CPU" %
                  ", ".join("%.3f" % c for c in res["cpu"][-rounds:]))
        finally:
            os.unlink(pin)


def summary(results):
    med = statistics.median
    print("summary (medians; steady passes only):")
    floors = {}
    for label in ("none", "none:churn"):
        if results.get(label, {}).get("cpu"):
            floors[label] = med(results[label]["cpu"])
            print("  floor (no enforce%s): %.3f s CPU per collection (%s)" % (
                ", churn" if "churn" in label else "", floors[label],
                ", ".join("%.3f" % c for c in results[label]["cpu"])))
    if results.get("walk", {}).get("cpu") and floors.get("none"):
        w = med(results["walk"]["cpu"])
        print("  the walk alone: %.3f s CPU = %.2fx the floor's (the least any pass can cost)"
              % (w, w / floors["none"]))
    for path, r in results.items():
        if path.startswith("none") or path == "walk" or not r["cpu"]:
            continue
        floor_cpu = floors.get("none:churn" if ":churn" in path else "none")
        line = "  %-22s" % path
        if floor_cpu:
            pass_cpu = med(r["cpu"]) - floor_cpu
            line += " CPU beyond the floor %.3f s = %.2fx the floor's CPU;" % (
                pass_cpu, pass_cpu / floor_cpu)
            if r["pass_cpu_own"]:
                own = med(r["pass_cpu_own"])
                line += (" a pass by its own clock %.3f s = %.2fx, so the rest of the collection "
                         "%.3f s (%.2fx the floor's);" % (own, own / floor_cpu, med(r["cpu"]) - own,
                                                          (med(r["cpu"]) - own) / floor_cpu))
        if r["wall_pass"] and max(r["wall_pass"]) > 0:
            wp, wf = med(r["wall_pass"]), med(r["wall_floor"])
            line += " wall: pass %.3f s (%.3f-%.3f), floor %.3f s (%.3f-%.3f) = %.2fx" % (
                wp, min(r["wall_pass"]), max(r["wall_pass"]), wf, min(r["wall_floor"]),
                max(r["wall_floor"]), wp / wf)
        if r["prog_ns"]:
            line += "; program %s ns per socket visited" % "/".join("%.0f" % n for n in r["prog_ns"])
        print(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=100000)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--paths", default="none,walk,fields,getsockopt,fields:skip,none:churn,"
                    "fields:churn,fields:churn:connect,getsockopt:churn:connect",
                    help="walk: the kernel's iterator with an empty program; "
                         "PATH runs a pass after every collection (--enforce.pass-max-gap=0s); "
                         "PATH:skip with the default gap, so the steady collections skip it; "
                         "PATH:churn with the default gap and --churn new connections after "
                         "each collection; PATH:churn:connect the same with the "
                         "connection-time program")
    ap.add_argument("--churn", type=int, default=500,
                    help="new connections after each collection in the :churn runs")
    ap.add_argument("--stats", action="store_true",
                    help="turn on the kernel's BPF run-time stats for the program's time per "
                         "socket (they cost ~100 ns per run here, which the pass figures then "
                         "include)")
    ap.add_argument("--baseline", metavar="EXPORTER",
                    help="also run the read paths of this exporter binary (as PATH@base)")
    ap.add_argument("--unmatched", action="store_true",
                    help="enforce on another port: the walk alone, no socket matched")
    a = ap.parse_args()
    install_signal_handlers()
    ports = '"1-2"' if a.unmatched else '"61000-61010"'
    labels = a.paths.split(",")
    if a.baseline:
        labels += [p + "@base" for p in labels if not p.startswith("none") and p != "walk"]
    results = {p: {"cpu": [], "wall_pass": [], "wall_floor": [], "prog_ns": [], "pass_cpu_own": []}
               for p in labels}
    stats_fd = enable_bpf_stats() if a.stats else -1
    cg = tempfile.mkdtemp(prefix="ho-bench-cg2-")
    if subprocess.run(["mount", "-t", "cgroup2", "none", cg]).returncode:
        sys.exit("mount -t cgroup2 failed: the :connect runs need it")
    try:
        for rnd in range(a.rounds):
            for label in results:
                if label == "walk":
                    print("round %d, the walk alone; load average %s" % (
                        rnd + 1, open("/proc/loadavg").read().split()[0]))
                    with Netns("enfb") as ns, Loadgen(ns, a.conns):
                        walk(ns, a.passes - 1, results[label])
                    continue
                path, _, base = label.partition("@")
                path, _, mode = path.partition(":")
                skip, churn, connect = mode == "skip", "churn" in mode, "connect" in mode
                print("round %d, %s%s; load average %s" % (
                    rnd + 1, "no enforce (the floor)" if path == "none" else
                    "--enforce.read-path=" + path, " (baseline %s)" % a.baseline if base
                    else " (steady passes skipped)" if skip else
                    " (%d new connections per collection%s)" % (
                        a.churn, ", enforce at connect" if connect else "") if churn else "",
                    open("/proc/loadavg").read().split()[0]))
                cfg = CONFIG % (ports, "" if path == "none" else ENFORCE)
                args = [] if path == "none" else ["--enforce.read-path=" + path]
                if path != "none" and not skip and not churn and not base:
                    args.append("--enforce.pass-max-gap=0s")
                args.append("--enforce.cgroup=" + (cg if connect else "none"))
                saved = os.environ.get("HALFOPEN_EXPORTER")
                if base:
                    os.environ["HALFOPEN_EXPORTER"] = a.baseline
                try:
                    # Fresh sockets for every run: a run before would have
                    # given them keepalive, and the next would find them
                    # all "own choice", another steady state.
                    with Netns("enfb") as ns, Loadgen(ns, a.conns) as lg:
                        with Exporter(ns, cfg, interval="10s", ready_timeout=60,
                                      extra_args=args) as exp:
                            run(exp, a, path, results[label], lg if churn else None)
                finally:
                    if saved is None:
                        os.environ.pop("HALFOPEN_EXPORTER", None)
                    else:
                        os.environ["HALFOPEN_EXPORTER"] = saved
    finally:
        if stats_fd >= 0:
            os.close(stats_fd)
        subprocess.run(["umount", "-l", cg])
        os.rmdir(cg)
    summary(results)


class Loadgen:
    """tests/bench/loadgen holding conns loopback connections in ns."""

    def __init__(self, ns, conns):
        self.ns, self.conns, self.proc = ns, conns, None

    def grow(self, more):
        """more new connections (the loadgen's total grows)."""
        self.conns += more
        self.proc.stdin.write("grow %d\n" % self.conns)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ok"):
            sys.exit("loadgen: %s" % line)

    def __enter__(self):
        for k, v in [("net.core.somaxconn", "70000"), ("net.ipv4.tcp_max_syn_backlog", "70000")]:
            self.ns.exec(["sysctl", "-qw", "%s=%s" % (k, v)])
        self.proc = self.ns.popen([os.path.join(BUILD, "tests/bench/loadgen"), "--listen-base",
                                   "61000", "--per-listener", "60000", "--per-worker", "19000"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        t = time.monotonic()
        self.proc.stdin.write("grow %d\n" % self.conns)
        self.proc.stdin.flush()
        print("  loadgen:", self.proc.stdout.readline().strip(),
              "in %.1fs" % (time.monotonic() - t))
        return self

    def __exit__(self, *exc):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)

if __name__ == "__main__":
    main()
