#!/usr/bin/env python3
"""Cost of --collector.conntrack: a benchmark that prints figures (not a
test; root, by hand, after ninja -C build).

    python3 tests/bench/conntrack.py [--conns 100000] [--collections 5] [--write docs/conntrack.md]

In a namespace of its own, tests/bench/loadgen holds --conns loopback
connections (2 x --conns ESTABLISHED sockets); an iptables conntrack rule
makes the namespace track them, so its conntrack table holds one entry
per connection. The services claim both ends of every connection, so
every socket is matched, classified and (with conntrack) looked up.

Side by side in one run, each for --collections collections, with a
floor pass (build/tests/sockdiag_record --count: the sock_diag dump and
nothing else) right after each collection while the exporter sleeps:
  exporter            without --collector.conntrack
  conntrack, strict   nf_conntrack_tcp_loose=0: every entry is guarded,
                      so every entry crosses to userspace and every socket
                      finds its flow (the worst case)
  conntrack, loose    the default tracking: only NATed entries matter and
                      the kernel filters the dump by status (CTA_STATUS),
                      so none of these un-NATed entries crosses
Time = halfopen_collection_duration_seconds (the conntrack dumps
included); CPU = the collecting thread's CPU time over that collection
(schedstat; the kernel's dump work is charged to it), the floor's = its
process's; x floor = median of the per-collection ratios to the floor
pass that followed (CPU ratios suffer less from a busy machine). RSS =
VmRSS after each collection (flat = no growth).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
from testlib import Exporter, Netns, install_signal_handlers, rss_kib  # noqa: E402

BUILD = os.environ.get("HALFOPEN_BUILD_ROOT") or os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                              "build")
# The build measured: this one, not testlib's newest build*/ (an ASan build
# next to it would be picked and measured).
os.environ.setdefault("HALFOPEN_EXPORTER", os.path.join(BUILD, "halfopen_exporter"))
CONFIG = """\
defaults: {stale_after: 1h}
services:
  - {name: load-client, direction: outbound, ports: ["61000-61010"]}
  - {name: load-server, direction: inbound, ports: ["61000-61010"]}
"""
BEGIN, END = "<!-- conntrack bench: begin -->", "<!-- conntrack bench: end -->"


def floor(ns):
    """One floor pass: (wall seconds, sockets, CPU seconds of the process)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cp = ns.exec([os.path.join(BUILD, "tests/sockdiag_record"), "--count"], timeout=120)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = dict(kv.split("=") for kv in cp.stderr.split())
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return float(fields["seconds"]), int(fields["sockets"]), cpu


def thread_cpu(pid):
    """CPU seconds of the exporter's main thread, the one that collects
    (schedstat: on-CPU nanoseconds); the HTTP threads answering the
    polls are left out."""
    with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
        return int(f.read().split()[0]) / 1e9


def exporter_pid(ns):
    """The exporter's pid (ip netns exec execs it, so it is the popen's)."""
    cp = ns.exec(["pgrep", "-f", "-n", "halfopen_exporter"], check=False)
    return int(cp.stdout.split()[0])


def measure(ns, label, extra, k, interval):
    rows = []
    with Exporter(ns, CONFIG, interval="%ds" % interval, extra_args=extra, ready_timeout=120) as exp:
        pid = exp.proc.pid
        last, cpu_last = 0, thread_cpu(pid)
        for i in range(k + 1):
            s = exp.wait_for(lambda s: (s.value("halfopen_collections_total") or 0) > last,
                             interval * 4, "%s collection %d" % (label, i + 1), poll=0.2)
            last = s.value("halfopen_collections_total")
            cpu_now = thread_cpu(pid)
            cpu, cpu_last = cpu_now - cpu_last, cpu_now
            dur = s.value("halfopen_collection_duration_seconds")
            ct = s.value("halfopen_conntrack_dump_duration_seconds")
            rss = rss_kib(pid)
            fl, nsock, fl_cpu = floor(ns)
            if i == 0:
                continue  # the first collection grows the tables
            rows.append({"dur": dur, "ct": ct, "floor": fl, "rss": rss, "sockets": nsock,
                         "cpu": cpu, "floor_cpu": fl_cpu,
                         "est": (s.value("halfopen_established_sockets", tcp_service="load-client",
                                         direction="outbound") or 0)
                         + (s.value("halfopen_established_sockets", tcp_service="load-server",
                                    direction="inbound") or 0),
                         "watched": s.value("halfopen_conntrack_watched_sockets"),
                         "entries": s.value("halfopen_conntrack_entries", netns="host"),
                         "guarded": s.value("halfopen_conntrack_guarded_flows", netns="host"),
                         "mem": s.value("halfopen_conntrack_memory_bytes"),
                         "forgotten": (s.value("halfopen_conntrack_forgotten_sockets",
                                               tcp_service="load-client", direction="outbound") or 0)})
            print("%-18s collection %d: %.3f s (conntrack dumps %s), CPU %.3f s; floor %.3f s, CPU %.3f s; "
                  "RSS %d KiB" % (label, i, dur, "-" if ct is None else "%.3f s" % ct, cpu, fl, fl_cpu, rss),
                  flush=True)
    return rows


def ms(v):
    return "%.0f ms" % (v * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=100000)
    ap.add_argument("--collections", type=int, default=5)
    ap.add_argument("--write", help="replace the table between the markers of this file")
    a = ap.parse_args()
    install_signal_handlers()
    out = []
    with Netns("ctbench") as ns:
        for k, v in [("net.core.somaxconn", "70000"), ("net.ipv4.tcp_max_syn_backlog", "70000")]:
            ns.exec(["sysctl", "-qw", "%s=%s" % (k, v)])
        ns.iptables("-A", "INPUT", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
        # A table of matching size: nf_conntrack_max is the node's (only
        # the initial namespace may write it); it must hold every flow.
        with open("/proc/sys/net/netfilter/nf_conntrack_max") as f:
            ct_max = int(f.read())
        if ct_max < a.conns * 1.1:
            with open("/proc/sys/net/netfilter/nf_conntrack_max", "w") as f:
                f.write(str(int(a.conns * 1.2)))
            ct_max = int(a.conns * 1.2)
        lg = ns.popen([os.path.join(BUILD, "tests/bench/loadgen"), "--listen-base", "61000",
                       "--per-listener", "60000", "--per-worker", "19000"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        t = time.monotonic()
        lg.stdin.write("grow %d\n" % a.conns)
        lg.stdin.flush()
        print("loadgen:", lg.stdout.readline().strip(), "in %.1fs" % (time.monotonic() - t))
        fl, nsock, _ = floor(ns)
        interval = min(15, max(3, int(fl * 6) + 1))
        print("sockets %d, floor %.3f s, nf_conntrack_max %d, interval %ds" % (nsock, fl, ct_max, interval))
        runs = [("exporter", [])]
        for mode, loose in (("conntrack, strict", "0"), ("conntrack, loose", "1")):
            runs.append((mode, ["--collector.conntrack"], loose))
        results = []
        for run_ in runs:
            label, extra = run_[0], run_[1]
            if len(run_) > 2:
                ns.exec(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=" + run_[2]])
            results.append((label, measure(ns, label, extra, a.collections, interval)))
        lg.stdin.write("quit\n")
        lg.stdin.flush()
        lg.wait(timeout=120)

    out.append("| run | sockets | conntrack entries | guarded flows | watched sockets | collection "
               "| of which conntrack dumps | floor | ×floor (paired) | collector CPU | floor CPU "
               "| CPU ×floor (paired) | RSS per collection (KiB) | correlation tables |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for label, rows in results:
        med = statistics.median
        ratio = med([r["dur"] / r["floor"] for r in rows])
        cpu_ratio = med([r["cpu"] / r["floor_cpu"] for r in rows if r["floor_cpu"] > 0])
        ct = [r["ct"] for r in rows if r["ct"] is not None]
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %.2f× | %s | %s | **%.2f×** | %s | %s |" % (
            label, rows[0]["est"],
            "%d" % rows[0]["entries"] if rows[0]["entries"] is not None else "-",
            "%d" % rows[0]["guarded"] if rows[0]["guarded"] is not None else "-",
            "%d" % rows[0]["watched"] if rows[0]["watched"] is not None else "-",
            ms(med([r["dur"] for r in rows])), ms(med(ct)) if ct else "-",
            ms(med([r["floor"] for r in rows])), ratio,
            ms(med([r["cpu"] for r in rows])), ms(med([r["floor_cpu"] for r in rows])), cpu_ratio,
            " ".join(str(r["rss"]) for r in rows),
            "%.1f MiB" % (rows[0]["mem"] / 1048576) if rows[0]["mem"] else "-"))
    table = "\n".join(out)
    head = ("%d connections (%d ESTABLISHED sockets), %d collections per run after a first one, "
            "`%s` (binary %s), %s UTC, kernel %s, %d CPUs, load average at the end %s." % (
                a.conns, 2 * a.conns, a.collections, " ".join(["tests/bench/conntrack.py"] + sys.argv[1:]),
                os.path.relpath(os.environ["HALFOPEN_EXPORTER"], os.path.dirname(os.path.dirname(HERE))),
                time.strftime("%Y-%m-%d %H:%M", time.gmtime()), os.uname().release, os.cpu_count(),
                " ".join("%.2f" % x for x in os.getloadavg())))
    print()
    print(head)
    print(table)
    if a.write:
        with open(a.write) as f:
            text = f.read()
        i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
        with open(a.write, "w") as f:
            f.write(text[:i] + "\n" + head + "\n\n" + table + "\n" + text[j:])


if __name__ == "__main__":
    main()
