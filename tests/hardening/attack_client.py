"""attack_client: one attacker process of tests/hardening/attacks.py, run inside
the test's network namespace (ip netns exec). Usage:

  attack_client.py ATTACK PORT SECONDS SOURCE [ARG]

Runs ATTACK against 127.0.0.1:PORT from source address SOURCE at full speed
for SECONDS, then closes everything and prints one JSON line of counts. Or,
as ATTACK `scrape`, scrapes /metrics every 20 ms (ARG: an Authorization
header value) and prints the latencies (ms) and statuses.
"""
import base64
import json
import os
import selectors
import socket
import sys
import time

MAX_CONNS = 18000  # under the 20000 open files per process


def conn(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return s


def hold(port, src, seconds, n, first, trickle=None):
    """Keep n connections open that sent `first`; reconnect the ones the server
    closes; send one byte of `trickle` per connection per second if given."""
    sel = selectors.DefaultSelector()
    opened = closed = 0
    end = time.monotonic() + seconds
    socks = {}
    last_trickle = time.monotonic()

    def add():
        nonlocal opened
        try:
            s = conn(port, src)
        except OSError:
            return
        opened += 1
        socks[s.fileno()] = [s, False]
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)

    for _ in range(n):
        add()
    while time.monotonic() < end:
        for key, ev in sel.select(timeout=0.2):
            s, sent = socks[key.fd]
            if ev & selectors.EVENT_WRITE and not sent:
                try:
                    s.send(first)
                except OSError:
                    pass
                socks[key.fd][1] = True
                sel.modify(s, selectors.EVENT_READ)
                continue
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    del socks[key.fd]
                    s.close()
                    closed += 1
                    add()
        if trickle and time.monotonic() - last_trickle >= 1.0:
            last_trickle = time.monotonic()
            for s, sent in list(socks.values()):
                if sent:
                    try:
                        s.send(trickle)
                    except OSError:
                        pass
    for s, _ in socks.values():
        s.close()
    return {"opened": opened, "closed_by_server": closed}


def burst(port, src, seconds, payload, per_round, linger=False):
    """Connect, send payload, close at once; per_round connections a round."""
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        socks = []
        for _ in range(per_round):
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((src, 0))
                s.settimeout(1.0)
                s.connect(("127.0.0.1", port))
                s.sendall(payload)
                socks.append(s)
                sent += 1
            except OSError:
                pass
        if linger:
            for s in socks:
                try:
                    s.recv(4096)
                except OSError:
                    pass
        for s in socks:
            s.close()
    return {"sent": sent}


def exchange(s, raw):
    """Send raw on the connected socket s, then read until the server
    closes: the bytes read. s is closed after (also by load_client.py)."""
    data = b""
    try:
        s.sendall(raw)
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    return data


def request(port, src, raw, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return exchange(s, raw)


def wrong_passwords(port, src, seconds, threads):
    """`threads` keep-alive-less clients sending wrong passwords (half of them
    for an unknown user) as fast as answers come."""
    import threading
    counts = {}
    end = time.monotonic() + seconds

    def one(i):
        cred = base64.b64encode(b"%s:wrong%d" % (b"prometheus" if i % 2 else b"nobody", i))
        raw = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + cred +
               b"\r\nConnection: close\r\n\r\n")
        while time.monotonic() < end:
            try:
                st = request(port, src, raw, timeout=seconds + 5)[9:12].decode() or "none"
            except OSError:
                st = "error"
            counts[st] = counts.get(st, 0) + 1

    ts = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counts


def churn(port, src, seconds, n):
    """Connect as fast as one process can, send nothing, keep the newest n
    open (the oldest closed with a reset, so no TIME-WAIT uses up the
    ports): a flood that keeps the table full and turning over (issue 18,
    item 3). Counts connects per second."""
    import collections
    import struct
    socks = collections.deque()
    linger = struct.pack("ii", 1, 0)
    opened, t0 = 0, time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        for _ in range(200):
            try:
                s = conn(port, src)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            except OSError:
                break
            socks.append(s)
            opened += 1
            if len(socks) > n:
                socks.popleft().close()
    for s in socks:
        s.close()
    return {"opened": opened, "connects_per_s": round(opened / (time.monotonic() - t0))}


def pipeline_slow(port, src, seconds, n, per_conn):
    """n connections that set SO_RCVBUF to 1, send per_conn pipelined
    GET /metrics each and never read; the ones the server closes are
    opened again and the requests sent again (issue 18, item 1)."""
    raw = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * per_conn
    end = time.monotonic() + seconds
    socks, opened, closed = [], 0, 0

    def one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        s.bind((src, 0))
        s.settimeout(2.0)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        return [s, raw]

    while time.monotonic() < end:
        while len(socks) < n:
            try:
                socks.append(one())
                opened += 1
            except OSError:
                break
        for entry in list(socks):
            s, left = entry
            try:
                if left:
                    entry[1] = left[s.send(left):]
                # Never reads: only notices a close (EOF or reset).
                if s.recv(1, socket.MSG_PEEK) == b"":
                    raise OSError("closed")
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                socks.remove(entry)
                closed += 1
        time.sleep(0.05)
    for s, _ in socks:
        s.close()
    return {"opened": opened, "closed_by_server": closed}


def wrong_rate(port, src, seconds, rate):
    """Wrong passwords for the scraper's own user at `rate` per second,
    each on a new connection, every one different (issue 18, item 2)."""
    import threading
    counts, end, i = {}, time.monotonic() + seconds, 0
    lock = threading.Lock()

    def one(k):
        cred = base64.b64encode(b"prometheus:wrong%d" % k)
        raw = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + cred +
               b"\r\nConnection: close\r\n\r\n")
        try:
            st = request(port, src, raw, timeout=10)[9:12].decode() or "none"
        except OSError:
            st = "error"
        with lock:
            counts[st] = counts.get(st, 0) + 1

    ts = []
    while time.monotonic() < end:
        t = threading.Thread(target=one, args=(i % 3,))
        t.start()
        ts.append(t)
        i += 1
        time.sleep(1.0 / rate)
    for t in ts:
        t.join()
    return counts


QUIRKS = [
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n"
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
    b"GET /metrics%00xyz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64) + b"\r\n\r\n",
    b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 40000 + b"\r\n\r\n",
    b"BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/7.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 50,
]


def keepalive_get(state, port, src, raw, attempts=2):
    """One request on the kept-alive connection in state (opened, or
    reopened when the server closed it, within attempts): the status."""
    for attempt in range(attempts):
        if state.get("s") is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((src, 0))
            s.settimeout(15)
            s.connect(("127.0.0.1", port))
            state["s"], state["f"] = s, s.makefile("rb")
        try:
            state["s"].sendall(raw)
            line = state["f"].readline()
            if not line:
                raise OSError("closed")
            length = 0
            while True:
                h = state["f"].readline()
                if h in (b"\r\n", b""):
                    break
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            state["f"].read(length)
            return line[9:12].decode()
        except OSError:
            state["s"].close()
            state["s"] = None
            if attempt == attempts - 1:
                raise
    return "none"


def scrape(port, src, seconds, auth, keepalive=False, every=0.02, delay=0.0, retry=True):
    """Scrape for seconds, one every `every` s: on one kept-alive connection
    (reopened once when the server closed it, unless not retry), or on a
    new connection each time that waits `delay` s before sending."""
    lat, statuses = [], {}
    state = {}
    hdr = b"Authorization: " + auth.encode() + b"\r\n" if auth else b""
    raw = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + hdr + (
        b"\r\n" if keepalive else b"Connection: close\r\n\r\n")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            if keepalive:
                st = keepalive_get(state, port, src, raw, 2 if retry else 1)
            elif delay:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((src, 0))
                s.settimeout(15)
                s.connect(("127.0.0.1", port))
                time.sleep(delay)
                st = exchange(s, raw)[9:12].decode() or "none"
            else:
                st = request(port, src, raw, timeout=15)[9:12].decode() or "none"
        except OSError as e:
            st = "error:" + type(e).__name__
        lat.append((time.monotonic() - t0) * 1000.0)
        statuses[st] = statuses.get(st, 0) + 1
        time.sleep(every)
    return {"latencies_ms": lat, "statuses": statuses}


def main():
    attack, port, seconds, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    if attack in ("scrape", "scrape_keepalive"):
        res = scrape(port, src, seconds, arg, attack == "scrape_keepalive")
    elif attack == "scrape_every":
        # A new connection every 200 ms; each status with its time.
        t0 = time.monotonic()
        res = {"times_s": [], "statuses_seq": []}
        hdr = b"Authorization: " + arg.encode() + b"\r\n" if arg else b""
        raw = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + hdr + b"Connection: close\r\n\r\n"
        while time.monotonic() - t0 < seconds:
            t = time.monotonic() - t0
            try:
                st = request(port, src, raw, timeout=10)[9:12].decode() or "none"
            except OSError as e:
                st = "error:" + type(e).__name__
            res["times_s"].append(round(t, 2))
            res["statuses_seq"].append(st)
            time.sleep(0.2)
    elif attack == "scrape_keepalive_noretry":
        # Prometheus-like: one scrape every 100 ms on one connection, a
        # closed connection is a failed scrape.
        res = scrape(port, src, seconds, arg, True, every=0.1, retry=False)
    elif attack == "scrape_late":
        # Sends its request 200 ms after connecting (a TLS handshake, a
        # far scraper).
        res = scrape(port, src, seconds, arg, every=0.02, delay=0.2)
    elif attack == "churn":
        res = churn(port, src, seconds, int(arg or 1000))
    elif attack == "pipeline_slow":
        n, per_conn = arg.split(":")
        res = pipeline_slow(port, src, seconds, int(n), int(per_conn))
    elif attack == "wrong_rate":
        res = wrong_rate(port, src, seconds, float(arg or 20))
    elif attack == "body_close":
        res = burst(port, src, seconds, body, 150)
    elif attack == "body_hold":
        res = hold(port, src, seconds, 40, body)
    elif attack == "idle":
        res = hold(port, src, seconds, min(int(arg or 880), MAX_CONNS), b"")
    elif attack == "slowloris":
        res = hold(port, src, seconds, int(arg or 200), b"GET /metrics HTTP/1.1\r\n", b"X")
    elif attack == "wrong_passwords":
        res = wrong_passwords(port, src, seconds, int(arg or 16))
    elif attack == "quirks":
        res = {"sent": 0}
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for q in QUIRKS:
                try:
                    request(port, src, q, timeout=2)
                except OSError:
                    pass
                res["sent"] += 1
    else:
        raise SystemExit("unknown attack " + attack)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
