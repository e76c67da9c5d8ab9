#!/usr/bin/env python3
"""A connection pool that never sets keepalive or a user timeout, as most
applications: the client the enforce tests retrofit. Run in a namespace:

    pool.py --addr A --port P --conns N [--keepalive off|default|SECONDS|idle-only:SECONDS]

--keepalive default: SO_KEEPALIVE on, idle left at the sysctl's (as
PostgreSQL's backends and many clients); SECONDS: on with that
TCP_KEEPIDLE (the application's own choice); idle-only:SECONDS: that
TCP_KEEPIDLE, SO_KEEPALIVE left off. Off by default.

Prints, one line each, flushed:
    CONNECTED local=<port>
    ERROR local=<port> errno=<name> after=<seconds since the last `send`/start>
    EOF local=<port>
    OPTS local=<port> keepalive=<0|1> idle=<s> user_timeout=<ms>   (answer to `opts`)
    OK <command>
Each connection has a thread blocked in recv(). Commands on stdin:
    send            one byte on every connection (a request now pending)
    keepalive_off   the application changes its mind: SO_KEEPALIVE=0
    opts            print what the application's own getsockopt reads
"""
import argparse
import errno
import socket
import sys
import threading
import time

lock = threading.Lock()
t0 = [time.monotonic()]


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def reader(s, port):
    try:
        while True:
            b = s.recv(4096)
            if not b:
                say("EOF local=%d" % port)
                return
    except OSError as e:
        say("ERROR local=%d errno=%s after=%.2f" % (port, errno.errorcode.get(e.errno, e.errno),
                                                    time.monotonic() - t0[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--keepalive", default="off")
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    socks = []
    for _ in range(a.conns):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.connect((a.addr, a.port))
        if a.keepalive not in ("off",) and not a.keepalive.startswith("idle-only:"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if a.keepalive not in ("off", "default"):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE,
                         int(a.keepalive.split(":")[-1]))
        port = s.getsockname()[1]
        socks.append((s, port))
        threading.Thread(target=reader, args=(s, port), daemon=True).start()
        say("CONNECTED local=%d" % port)
    t0[0] = time.monotonic()
    for line in sys.stdin:
        cmd = line.strip()
        for s, port in socks:
            try:
                if cmd == "send":
                    s.send(b"x")
                elif cmd == "keepalive_off":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
                elif cmd == "opts":
                    say("OPTS local=%d keepalive=%d idle=%d user_timeout=%d" % (
                        port, s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                        s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                        s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)))
            except OSError as e:
                say("SOCKERR local=%d %s" % (port, e))
        if cmd == "send":
            t0[0] = time.monotonic()
        say("OK " + cmd)


if __name__ == "__main__":
    main()
