"""The attacker and the scraper of tests/hardening/load.py, run inside the
exporter's network namespace: `load_client.py PORT`.

1. 1000 idle connections from 127.0.0.2 (connect, send nothing);
2. a slowloris client on 127.0.0.3: 50 connections, each sending one more
   byte of a request header every second, never finishing it;
3. meanwhile 200 scrapes of /metrics from 127.0.0.1 (a new connection each,
   as Prometheus does after an idle timeout), 20 ms apart: latency of each
   from connect to the last byte;
4. then how long the server took to close the idle and slowloris
   connections (it must: they never send a complete request);
5. 1100 connections from 127.0.0.4: beyond the per-address limit (1024) the
   server closes them at once, and a scrape still works.

Prints one JSON object on stdout. Bounded: every loop has a deadline.
"""
import json
import resource
import select
import socket
import sys
import threading
import time

from attack_client import exchange

PORT = int(sys.argv[1])
IDLE = 1000
SLOW = 50
SCRAPES = 200
OVER = 1100

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect_from(src, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", PORT))
    return s


def scrape():
    t0 = time.perf_counter()
    data = exchange(connect_from("127.0.0.1"),
                    b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    dt = time.perf_counter() - t0
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("scrape: %r" % bytes(data[:80]))
    return dt


def closed_by_server(socks, deadline):
    """Wait until every socket in socks reads EOF/reset, or deadline: the
    times (since t_open) at which each closed, and how many stayed open."""
    pending = {s.fileno(): s for s in socks}
    closed_at = []
    ep = select.epoll()
    for fd in pending:
        ep.register(fd, select.EPOLLIN | select.EPOLLRDHUP)
    while pending:
        wait = min(0.2, max(0.0, deadline - time.monotonic()))
        events = ep.poll(wait)
        if not events and time.monotonic() >= deadline:
            break
        for fd, ev in events:
            s = pending.pop(fd, None)
            if s is None:
                continue
            ep.unregister(fd)
            try:
                s.setblocking(False)
                gone = s.recv(1) == b""
            except (BlockingIOError, InterruptedError):
                gone = False
            except OSError:
                gone = True
            if gone:
                closed_at.append(time.monotonic())
            else:
                pending[fd] = s
                ep.register(fd, select.EPOLLIN | select.EPOLLRDHUP)
    ep.close()
    return closed_at, len(pending)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    out = {}
    base = [scrape() for _ in range(20)]
    out["baseline_ms"] = {"p50": pct(base, 50) * 1e3, "max": max(base) * 1e3}

    t_open = time.monotonic()
    idle = []
    for _ in range(IDLE):
        idle.append(connect_from("127.0.0.2"))
    out["idle_open_s"] = time.monotonic() - t_open

    slow = [connect_from("127.0.0.3") for _ in range(SLOW)]
    stop = threading.Event()
    header = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-a: " + b"a" * 4096
    sent = {"bytes": 0, "errors": 0}

    def loris():
        i = 0
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            for s in slow:
                try:
                    s.send(header[i:i + 1])
                    sent["bytes"] += 1
                except OSError:
                    sent["errors"] += 1
            i = min(i + 1, len(header) - 1)
            stop.wait(1.0)

    th = threading.Thread(target=loris, daemon=True)
    th.start()
    time.sleep(0.5)

    lat = []
    t0 = time.monotonic()
    for _ in range(SCRAPES):
        lat.append(scrape())
        time.sleep(0.02)
    measure_s = time.monotonic() - t0
    out["during_attack_ms"] = {"n": len(lat), "p50": pct(lat, 50) * 1e3,
                               "p99": pct(lat, 99) * 1e3, "max": max(lat) * 1e3}
    out["measured_s"] = measure_s
    out["since_idle_open_s"] = time.monotonic() - t_open
    # Which idle connections the server still held while we measured.
    _, still = closed_by_server(idle, time.monotonic())
    out["idle_still_open_after_measuring"] = still

    # The slowloris keeps trickling: the server must close it anyway.
    closed_idle, left_idle = closed_by_server(idle, t_open + 20)
    closed_slow, left_slow = closed_by_server(slow, t_open + 20)
    stop.set()
    th.join()
    out["idle_closed_by_server"] = len(closed_idle)
    out["idle_left_open"] = left_idle
    out["idle_closed_after_s"] = (max(closed_idle) - t_open) if closed_idle else None
    out["slowloris_closed_by_server"] = len(closed_slow)
    out["slowloris_left_open"] = left_slow
    out["slowloris_closed_after_s"] = (max(closed_slow) - t_open) if closed_slow else None
    out["slowloris_bytes_sent"] = sent["bytes"]
    for s in idle + slow:
        s.close()

    # Per-address limit.
    over = []
    for _ in range(OVER):
        try:
            over.append(connect_from("127.0.0.4"))
        except OSError:
            break
    time.sleep(0.5)
    refused, kept = closed_by_server(over, time.monotonic() + 2)
    out["over_limit_opened"] = len(over)
    out["over_limit_closed_at_once"] = len(refused)
    out["scrape_while_one_address_at_limit_ms"] = scrape() * 1e3
    for s in over:
        s.close()
    print(json.dumps(out))


main()
