#!/usr/bin/env python3
"""Time-to-recovery of a half-open idle pool, with and without enforce:
a benchmark that prints figures (not a test; run as root by hand).

    python3 tests/enforce/recovery.py on|off [--conns N] [--request]

Same setup as tests/enforce/run.py: a pool (pool.py, no keepalive) of N
idle connections in namespace A to a server in B across a veth; the
exporter (collector interval 1s) in A, its config with
enforce.keepalive {idle 2s, interval 1s, count 3} for `on` and no
enforce for `off`. At t=0 the server's host vanishes (DROP both ways +
kill). Prints when each connection learns it (recv error) and with what.

--request: the application sends one byte on each connection at t=0, so
`off` measures how long a pending request hangs (tcp_retries2; about 15
minutes by default: this run is long). Without --request `off` shows
that an idle pool never learns: it stops after --max seconds.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
sys.path.insert(0, HERE)
import run as enf  # noqa: E402
from testlib import Exporter, Netns, install_signal_handlers  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["on", "off"])
    ap.add_argument("--conns", type=int, default=10)
    ap.add_argument("--request", action="store_true")
    ap.add_argument("--max", type=float, default=60.0)
    ap.add_argument("--keepalive", default="2,1,3", help="IDLE,INTERVAL,COUNT seconds (on)")
    ap.add_argument("--interval", default="1s", help="--collector.interval")
    a = ap.parse_args()
    install_signal_handlers()
    port, other = 23491, 23492
    idle, intvl, cnt = (int(x) for x in a.keepalive.split(","))
    enforce = "{keepalive: {idle: %ds, interval: %ds, count: %d}}" % (idle, intvl, cnt)
    cfg = enf.config(port, other, enforce) if a.mode == "on" else \
        "services:\n  - {name: pool, direction: outbound, ports: [%d]}\n" % port
    with Netns("enfrec", veth=True) as ns:
        srv, = enf.servers(ns, port)
        cli, _ = enf.pool(ns, port, a.conns)
        with Exporter(ns, cfg, interval=a.interval) as exp:
            if a.mode == "on":
                exp.wait_for(lambda s: enf.counter(s, "halfopen_enforced_sockets_total") ==
                             a.conns, 120, "enforced")
            t0 = enf.vanish(ns.peer_ns, port, srv)
            if a.request:
                cli.send("send")
            got = []
            while len(got) < a.conns and time.monotonic() - t0 < a.max:
                try:
                    line = cli.lines.get(timeout=1)
                except Exception:
                    continue
                if line.startswith(("ERROR", "EOF")):
                    got.append((time.monotonic() - t0, line))
            for t, line in got:
                print("%.2fs %s" % (t, line))
            print("keepalive idle,interval,count=%s collector.interval=%s" % (a.keepalive, a.interval))
            if got:
                print("mode=%s request=%s conns=%d learned=%d first=%.2fs last=%.2fs" % (
                    a.mode, a.request, a.conns, len(got), got[0][0], got[-1][0]))
            else:
                print("mode=%s request=%s conns=%d learned=0 within %.0fs; still ESTABLISHED: %d"
                      % (a.mode, a.request, a.conns, a.max, len(enf.rows(ns, port))))


if __name__ == "__main__":
    main()
