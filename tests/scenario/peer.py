#!/usr/bin/env python3
"""Small TCP peers for the scenario tests, run inside a network namespace
with `ip netns exec NS python3 peer.py ...` (see testlib.Netns.peer()).

Every peer reports on stdout, one event per line, flushed:
    LISTEN addr=<a> port=<p>
    ACCEPT local=<port> remote=<port>          (server, per connection)
    CONNECTED local=<port> remote=<port>       (client, per connection)
    EOF local=<port> remote=<port>             (peer closed; the socket is kept open)
    SENT n=<bytes> / FILLED n=<bytes> / CLOSED / READY / DONE rounds=<n> / ERROR msg=...
and runs until its stdin reaches EOF or it is killed. The test drives the
client with commands on stdin, one per line:
    send N     blocking send of N bytes            -> SENT n=N
    fill       nonblocking send until EAGAIN       -> FILLED n=<bytes queued>
    close      close the socket(s)                 -> CLOSED
    tick S     send one byte every S seconds (keeps both ends fresh); tick 0
               stops it                         -> TICK every=S
    ping       -> PONG   (a barrier: every earlier command has been done)

Subcommands:
    server  --addr A --port P [--mode sink|echo|noread|close] [--rcvbuf N]
            sink: read and discard (plays `nc -l`); echo: echo back;
            noread: accept and never read; close: close each accepted socket
            at once (the client side ends up in CLOSE-WAIT).
    client  --addr A --port P [--keepalive IDLE,INTVL,CNT] [--sndbuf N] [--no-read]
            connect once (plays telnet); reads and discards what arrives
            unless --no-read; on EOF keeps the socket open (never closes by
            itself, so a closing server leaves it in CLOSE-WAIT).
    busy    --addr A --port P --conns N [--period S] [--size B]
            N connections to an echo server, each doing one request/response
            every --period seconds until stdin EOF. Prints one CONNECTED line
            per connection, then READY.
"""
import argparse
import os
import selectors
import socket
import sys
import time


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def ports(sock):
    return "local=%d remote=%d" % (sock.getsockname()[1], sock.getpeername()[1])


def server(args):
    fam = family_of(args.addr)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.rcvbuf:
        # Before listen(): accepted sockets inherit it, and the window
        # scale is negotiated from it.
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    ls.bind((args.addr, args.port))
    ls.listen(128)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, "listen")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    out("LISTEN addr=%s port=%d" % (args.addr, ls.getsockname()[1]))
    keep = []  # noread/closed-by-peer sockets stay referenced (open)
    while True:
        for key, _ in sel.select():
            if key.data == "stdin":
                if not sys.stdin.readline():
                    return 0
            elif key.data == "listen":
                c, _ = ls.accept()
                out("ACCEPT " + ports(c))
                if args.mode == "close":
                    c.close()
                elif args.mode == "noread":
                    keep.append(c)
                else:
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "conn")
            else:
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    out("ERROR msg=%s" % e.strerror.replace(" ", "_"))
                    sel.unregister(c)
                    keep.append(c)
                    continue
                if not data:
                    out("EOF " + ports(c))
                    sel.unregister(c)
                    keep.append(c)
                elif args.mode == "echo":
                    c.setblocking(True)
                    c.sendall(data)
                    c.setblocking(False)


def set_keepalive(s, spec):
    idle, intvl, cnt = (int(x) for x in spec.split(","))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)


def client(args):
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    if args.keepalive:
        set_keepalive(s, args.keepalive)
    if args.sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, args.sndbuf)
    s.connect((args.addr, args.port))
    out("CONNECTED " + ports(s))
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    if not args.no_read:
        sel.register(s, selectors.EVENT_READ, "conn")
    open_ = True
    tick, next_tick = 0.0, None
    while True:
        if tick and next_tick is not None and time.monotonic() >= next_tick:
            try:
                s.send(b".")
            except OSError as e:
                out("ERROR msg=%s" % (e.strerror or str(e)).replace(" ", "_"))
                tick = 0.0
            next_tick = time.monotonic() + tick
        timeout = max(0.0, next_tick - time.monotonic()) if tick else None
        for key, _ in sel.select(timeout):
            if key.data == "conn":
                try:
                    data = s.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError as e:
                    out("ERROR msg=%s" % (e.strerror or str(e)).replace(" ", "_"))
                    sel.unregister(s)
                    continue
                if not data:
                    out("EOF " + ports(s))
                    sel.unregister(s)
                continue
            line = sys.stdin.readline()
            if not line:
                return 0
            cmd = line.split()
            if not cmd:
                continue
            try:
                if cmd[0] == "send":
                    n = int(cmd[1])
                    s.sendall(b"x" * n)
                    out("SENT n=%d" % n)
                elif cmd[0] == "fill":
                    total = 0
                    chunk = b"z" * 65536
                    while True:
                        try:
                            total += s.send(chunk, socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            break
                    out("FILLED n=%d" % total)
                elif cmd[0] == "close" and open_:
                    if not args.no_read and s in [k.fileobj for k in sel.get_map().values()]:
                        sel.unregister(s)
                    s.close()
                    open_ = False
                    out("CLOSED")
                elif cmd[0] == "tick":
                    tick = float(cmd[1])
                    next_tick = time.monotonic()
                    out("TICK every=%g" % tick)
                elif cmd[0] == "ping":
                    out("PONG")
                else:
                    out("ERROR msg=unknown_command_%s" % cmd[0])
            except OSError as e:
                out("ERROR msg=%s" % (e.strerror or str(e)).replace(" ", "_"))


def busy(args):
    fam = family_of(args.addr)
    conns = []
    for _ in range(args.conns):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((args.addr, args.port))
        out("CONNECTED " + ports(s))
        conns.append(s)
    out("READY")
    os.set_blocking(sys.stdin.fileno(), False)
    req = b"r" * args.size
    rounds = 0
    next_round = time.monotonic()
    while True:
        try:
            if os.read(sys.stdin.fileno(), 4096) == b"":
                break
        except BlockingIOError:
            pass
        for s in conns:
            s.sendall(req)
        for s in conns:
            got = 0
            while got < args.size:
                d = s.recv(args.size - got)
                if not d:
                    out("ERROR msg=connection_closed_by_server")
                    return 1
                got += len(d)
        rounds += 1
        next_round += args.period
        delay = next_round - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_round = time.monotonic()
    out("DONE rounds=%d" % rounds)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("server", "client", "busy"):
        sp = sub.add_parser(name)
        sp.add_argument("--addr", default="127.0.0.1")
        sp.add_argument("--port", type=int, required=True)
        if name == "server":
            sp.add_argument("--mode", choices=["sink", "echo", "noread", "close"], default="sink")
            sp.add_argument("--rcvbuf", type=int, default=0)
        elif name == "client":
            sp.add_argument("--keepalive", metavar="IDLE,INTVL,CNT")
            sp.add_argument("--sndbuf", type=int, default=0)
            sp.add_argument("--no-read", action="store_true")
        else:
            sp.add_argument("--conns", type=int, default=50)
            sp.add_argument("--period", type=float, default=0.02)
            sp.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    try:
        return {"server": server, "client": client, "busy": busy}[args.cmd](args)
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        out("ERROR msg=%s" % (e.strerror or str(e)).replace(" ", "_"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
