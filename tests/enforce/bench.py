#!/usr/bin/env python3
"""Cost of one enforce pass per 100k sockets: a benchmark that prints
figures (not a test; root, by hand, after ninja -C build).

    python3 tests/enforce/bench.py [--conns 100000] [--paths fields,getsockopt]

In a namespace of its own, tests/bench/loadgen holds --conns loopback
connections (every 4th client socket with SO_KEEPALIVE already, the
server ends in accept queues); the exporter runs there with
enforce.keepalive on the loadgen's listener ports, once per read path
(--enforce.read-path), one after the other on the same sockets, --rounds
times. Prints each pass (the first sets keepalive where it is missing;
the steady ones read the options and find each cookie), per pass and per
100k sockets visited, next to the sock_diag collection of the same
sockets in the same process (the floor), and at the end per path the
median steady pass, the median floor and their ratio (target <= 0.5).
Wall times swing with the load of a shared machine; the BPF program's
own CPU time per socket visited (the kernel's run-time stats, enabled
through BPF_ENABLE_STATS while the benchmark runs) does not, and is what
differs between the read paths (the walk around it is the same).
"""
import ctypes
import json
import statistics
import argparse
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
from testlib import Exporter, Netns, install_signal_handlers  # noqa: E402

BUILD = os.environ.get("HALFOPEN_BUILD_ROOT") or os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                              "build")


SYS_BPF, BPF_ENABLE_STATS = 321, 32  # x86_64


def enable_bpf_stats():
    """An fd that keeps the kernel's BPF run-time stats on while open."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(16)  # enable_stats.type = BPF_STATS_RUN_TIME (0)
    fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, attr, ctypes.sizeof(attr))
    if fd < 0:
        print("BPF_ENABLE_STATS failed: %s; no per-socket program time" %
              os.strerror(ctypes.get_errno()))
    return fd


def prog_stats(path):
    """(run_time_ns, run_cnt) of the newest loaded enforce program of path."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    name = "enforce_" + path
    progs = [p for p in json.loads(out or "[]") if name.startswith(p.get("name", "-")) and
             p.get("name", "").startswith("enforce_")]
    if not progs:
        return None
    p = max(progs, key=lambda p: p["id"])
    return p.get("run_time_ns", 0), p.get("run_cnt", 0)


def run_passes(exp, a, steady, floor, path, prog_ns):
    """a.passes passes of exp; the steady ones (all but the first)
    appended to steady, the same collections' floor to floor: the
    collection's duration without the pass (the sock_diag dump and the
    classification of the same sockets; the pass runs right after it)."""
    last = 0
    for i in range(a.passes):
        s = exp.wait_for(lambda s: (s.value("halfopen_enforce_passes_total") or 0) > last,
                         30, "pass %d" % (i + 1), poll=0.5)
        last = s.value("halfopen_enforce_passes_total")
        sec = s.value("halfopen_enforce_last_pass_seconds")
        coll = s.value("halfopen_collection_duration_seconds") or -1
        vis = s.value("halfopen_enforce_matched_sockets", tcp_service="load",
                      direction="outbound") or 0
        print("  pass %d: %.3f s, visited %d client sockets of %d established "
              "(%.3f s per 100k visited); enforced total %d, own choice %d; "
              "collection %.3f s, of which the sock_diag floor %.3f s" % (
                  i + 1, sec, vis,
                  s.value("halfopen_established_sockets", tcp_service="load",
                          direction="outbound") or 0,
                  sec * 100000 / max(vis or a.conns, 1),
                  s.value("halfopen_enforced_sockets_total", tcp_service="load",
                          direction="outbound", option="keepalive") or 0,
                  s.value("halfopen_enforce_own_choice_sockets", tcp_service="load",
                          direction="outbound", option="keepalive") or 0,
                  coll, coll - sec))
        if i > 0:
            steady.append(sec)
            floor.append(coll - sec)
        if i == 0:
            first = prog_stats(path)
    last_stats = prog_stats(path)
    if first and last_stats and last_stats[1] > first[1]:
        ns = (last_stats[0] - first[0]) / (last_stats[1] - first[1])
        prog_ns.append(ns)
        print("  BPF program, steady passes: %.0f ns per socket visited (%d runs)"
              % (ns, last_stats[1] - first[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=100000)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--paths", default="fields,getsockopt")
    ap.add_argument("--unmatched", action="store_true",
                    help="enforce on another port: the walk alone, no socket matched")
    a = ap.parse_args()
    install_signal_handlers()
    cfg = """\
defaults: {stale_after: 1h}
services:
  - name: load
    direction: outbound
    ports: [%s]
    enforce:
      keepalive: {idle: 3600s, interval: 60s, count: 5}
""" % ('"1-2"' if a.unmatched else '"61000-61010"')
    with Netns("enfbench") as ns:
        for k, v in [("net.core.somaxconn", "70000"), ("net.ipv4.tcp_max_syn_backlog", "70000")]:
            ns.exec(["sysctl", "-qw", "%s=%s" % (k, v)])
        lg = ns.popen([os.path.join(BUILD, "tests/bench/loadgen"), "--listen-base", "61000",
                       "--per-listener", "60000", "--per-worker", "19000"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        t = time.monotonic()
        lg.stdin.write("grow %d\n" % a.conns)
        lg.stdin.flush()
        print("loadgen:", lg.stdout.readline().strip(), "in %.1fs" % (time.monotonic() - t))
        steady = {p: [] for p in a.paths.split(",")}
        floor = {p: [] for p in steady}
        prog_ns = {p: [] for p in steady}
        stats_fd = enable_bpf_stats()
        for rnd in range(a.rounds):
            for path in steady:
                print("round %d, --enforce.read-path=%s" % (rnd + 1, path))
                with Exporter(ns, cfg, interval="10s", ready_timeout=60,
                              extra_args=["--enforce.read-path=" + path]) as exp:
                    run_passes(exp, a, steady[path], floor[path], path, prog_ns[path])
        print("summary (median of the steady passes; floor: the sock_diag collection of the "
              "same sockets, same runs):")
        for path in steady:
            if not steady[path]:
                continue
            st, fl = statistics.median(steady[path]), statistics.median(floor[path])
            print("  %-10s steady pass %.3f s (n=%d, min %.3f, max %.3f), floor %.3f s "
                  "(min %.3f, max %.3f): %.2fx the floor" % (
                      path, st, len(steady[path]), min(steady[path]), max(steady[path]), fl,
                      min(floor[path]), max(floor[path]), st / fl))
            if prog_ns[path]:
                print("  %-10s BPF program %s ns per socket visited (steady passes, each round)"
                      % (path, ", ".join("%.0f" % n for n in prog_ns[path])))
        if stats_fd >= 0:
            os.close(stats_fd)
        lg.stdin.write("quit\n")
        lg.stdin.flush()
        lg.wait(timeout=60)


if __name__ == "__main__":
    main()
