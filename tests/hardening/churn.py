"""Socket churn for tests/hardening/soak.py, run inside the exporter's
network namespace: `churn.py SECONDS`. Keeps about 300 connections to a few
local listeners and every 50 ms closes 30 of them (most with RST, some with
FIN, leaving TIME_WAIT and a few CLOSE_WAIT behind) and opens 30 new ones, so
every collection sees sockets it has never seen and misses ones it saw.
Bounded by SECONDS; prints the number of connections opened.
"""
import random
import socket
import struct
import sys
import time

SECONDS = float(sys.argv[1])
POOL = 300
STEP = 30

listeners = []
for _ in range(4):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1024)
    ls.setblocking(False)
    listeners.append(ls)

pairs = []
opened = 0
rng = random.Random(5)
linger_rst = struct.pack("ii", 1, 0)


def open_one():
    global opened
    ls = rng.choice(listeners)
    c = socket.socket()
    c.connect(ls.getsockname())
    while True:
        try:
            a, _ = ls.accept()
            break
        except BlockingIOError:
            time.sleep(0.001)
    if rng.random() < 0.3:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    pairs.append((c, a))
    opened += 1


def close_one():
    c, a = pairs.pop(rng.randrange(len(pairs)))
    x = rng.random()
    if x < 0.8:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_rst)
        c.close()
        a.close()
    elif x < 0.95:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_rst)
        c.close()  # FIN from the client; the server's RST ends it
        a.close()
    else:
        c.close()  # the server never closes for a while: CLOSE_WAIT
        leftovers.append((time.monotonic(), a))


leftovers = []
end = time.monotonic() + SECONDS
while time.monotonic() < end:
    while len(pairs) < POOL:
        open_one()
    for _ in range(STEP):
        close_one()
    now = time.monotonic()
    while leftovers and now - leftovers[0][0] > 2:
        leftovers.pop(0)[1].close()
    time.sleep(0.05)
print(opened)
