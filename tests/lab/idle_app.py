#!/usr/bin/python3
"""An idle pool for the fault lab's path-idle-timeout run (path_idle.py):
a real redis-py ConnectionPool, filled with two connections and then left
idle, as a pool is between bursts. Run inside the client namespace with
Debian's python3 (python3-redis).

    idle_app.py --host H --port P [--keepalive IDLE,INTVL,CNT] [--warm]

--keepalive: SO_KEEPALIVE with these per-socket timers (redis-py
socket_keepalive_options, set before connect as redis-py does); without it
the pool runs without keepalive (redis-py's default). Lines on stdout:

    READY conns=2 at=<unix time of the last traffic>
    REQ start=<t> dur=<s> ok=1 | ok=0 err=<ExceptionClass>
    HANG start=<t> cap=<s>

--warm: print WARM once the pool is filled and PING both connections every
second until a line "idle" on stdin; then READY (the pool is idle from
there). A line "request CAP" on stdin sends one SET on the pool's most
recently used connection and reports it, giving up on it after CAP seconds.
"""
import argparse
import socket
import sys
import threading
import time

import redis

from app import fill_redis_pool


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--keepalive")
    p.add_argument("--warm", action="store_true")
    a = p.parse_args()
    kw = {}
    if a.keepalive:
        idle, intvl, cnt = (int(x) for x in a.keepalive.split(","))
        kw = {"socket_keepalive": True,
              "socket_keepalive_options": {socket.TCP_KEEPIDLE: idle, socket.TCP_KEEPINTVL: intvl,
                                           socket.TCP_KEEPCNT: cnt}}
    pool = redis.ConnectionPool(host=a.host, port=a.port, max_connections=4, **kw)
    r = redis.Redis(connection_pool=pool)
    fill_redis_pool(pool)
    if a.warm:
        out("WARM conns=2")
        stop = threading.Event()

        def keep_warm():
            while not stop.wait(1.0):
                fill_redis_pool(pool)
        warm = threading.Thread(target=keep_warm, daemon=True)
        warm.start()
        for line in sys.stdin:
            if line.split() == ["idle"]:
                break
        stop.set()
        warm.join()
        fill_redis_pool(pool)
    out("READY conns=2 at=%.3f" % time.time())
    for line in sys.stdin:
        w = line.split()
        if len(w) != 2 or w[0] != "request":
            continue
        cap = float(w[1])
        res = {}

        def attempt():
            try:
                r.set("lab", "x")
            except Exception as e:  # what the application sees
                res["err"] = e
        start = time.time()
        t = threading.Thread(target=attempt, daemon=True)
        t.start()
        t.join(cap)
        if t.is_alive():
            out("HANG start=%.3f cap=%g" % (start, cap))
        elif "err" in res:
            out("REQ start=%.3f dur=%.3f ok=0 err=%s" % (start, time.time() - start,
                                                         type(res["err"]).__name__))
        else:
            out("REQ start=%.3f dur=%.3f ok=1" % (start, time.time() - start))


if __name__ == "__main__":
    main()
