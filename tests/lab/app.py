#!/usr/bin/python3
"""The application of the fault lab: a real pooling client doing requests,
run inside the client namespace with Debian's python3 (python3-redis,
python3-psycopg2), as a production service would use them.

    app.py redis|postgres|http --host H --port P [--interval S] [--cap S]
           [--timeout S]

It fills its pool with two connections (two requests at once), then does
one request every --interval seconds with the library's defaults (no
client timeout: what the application experiences is what the kernel and
the library give it). A request that has not finished after --cap seconds
is reported and the loop stops there, as an application thread stuck on it
would. One line per event on stdout, flushed (wall-clock unix times):

    READY conns=2
    REQ start=<t> dur=<s> ok=1
    REQ start=<t> dur=<s> ok=0 err=<ExceptionClass> msg=<first line>
    HANG start=<t> cap=<s>

--timeout (redis only) is redis-py's socket_timeout, which is also its
connect timeout: a request on a dead connection fails after S seconds and
the pool reconnects on the next one, as a careful application does.

A line "payload N" on stdin makes the following requests carry N bytes
(default 16): an upload starts (the lab sends it once a server is stopped).
"""
import argparse
import http.client
import sys
import threading
import time


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fill_redis_pool(pool, n=2):
    """Open n connections in a redis-py pool (a PING on each) and return
    them to it; the next requests reuse the last one returned."""
    held = [pool.get_connection("PING") for _ in range(n)]
    for c in held:
        c.send_command("PING")
        c.read_response()
    for c in held:
        pool.release(c)


def redis_client(a):
    import redis
    # socket_keepalive: SO_KEEPALIVE with the namespace's sysctl timers.
    pool = redis.ConnectionPool(host=a.host, port=a.port, max_connections=4, socket_keepalive=True,
                                socket_timeout=a.timeout)
    r = redis.Redis(connection_pool=pool)
    # Two connections in the pool; the other stays idle.
    fill_redis_pool(pool)
    return lambda body: r.set("lab", body)


def postgres_client(a):
    import psycopg2
    import psycopg2.pool
    # libpq turns SO_KEEPALIVE on by default (keepalives=1), timers from sysctl.
    pool = psycopg2.pool.ThreadedConnectionPool(2, 4, host=a.host, port=a.port, user="postgres",
                                                dbname="postgres")

    def request(body):
        conn = pool.getconn()
        broken = True
        try:
            # Autocommit: the query goes out at once (otherwise psycopg2
            # first sends BEGIN and waits for its answer).
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT length(%s)", (body.decode(),))
                cur.fetchone()
            broken = False
        finally:
            pool.putconn(conn, close=broken)
    return request


def http_client(a):
    # One fresh connection per request to the front nginx on loopback; the
    # pooled connections are nginx's, to its upstream.
    def request(body):
        c = http.client.HTTPConnection(a.host, a.port)
        try:
            c.request("POST", "/", body=body, headers={"Content-Type": "application/octet-stream"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise HTTPError("HTTP %d" % r.status)
        finally:
            c.close()
    return request


class HTTPError(Exception):
    """nginx answered, with an error status."""


CLIENTS = {"redis": redis_client, "postgres": postgres_client, "http": http_client}


def timed(request, body, cap):
    """Run request(body) in a thread for at most cap seconds: (finished, err)."""
    res = {}

    def attempt():
        try:
            request(body)
        except Exception as e:  # the application's view of the failure
            res["err"] = e
    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(cap)
    return not t.is_alive(), res.get("err")


def read_commands(body):
    """body[0] = N bytes on each "payload N" line of stdin."""
    for line in sys.stdin:
        w = line.split()
        if len(w) == 2 and w[0] == "payload":
            body[0] = b"x" * int(w[1])
            out("PAYLOAD n=%d" % len(body[0]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=sorted(CLIENTS))
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--cap", type=float, default=15.0)
    p.add_argument("--timeout", type=float)
    a = p.parse_args()
    if a.timeout is not None and a.kind != "redis":
        p.error("--timeout is for redis only")
    request = CLIENTS[a.kind](a)
    body = [b"x" * 16]
    threading.Thread(target=read_commands, args=(body,), daemon=True).start()
    # The redis and postgres pools open two connections up front; two
    # requests at once make nginx cache two upstream connections. One stays
    # busy from then on, the other idle (the most recently returned one is
    # handed out first).
    warm = [threading.Thread(target=request, args=(body[0],)) for _ in range(2)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    out("READY conns=2")
    while True:
        start = time.time()
        done, err = timed(request, body[0], a.cap)
        if not done:
            out("HANG start=%.3f cap=%g" % (start, a.cap))
            threading.Event().wait()
        dur = time.time() - start
        if err is None:
            out("REQ start=%.3f dur=%.3f ok=1" % (start, dur))
        else:
            msg = " / ".join(l.strip() for l in str(err).strip().splitlines()).replace(" ", "_")[:200]
            out("REQ start=%.3f dur=%.3f ok=0 err=%s msg=%s" % (start, dur, type(err).__name__, msg))
        time.sleep(a.interval)


if __name__ == "__main__":
    main()
