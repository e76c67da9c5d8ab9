#!/usr/bin/env python3
"""Write the hand-made seeds into tests/fuzz/corpus/ (committed; files are
named by their SHA-1, so this is idempotent and keeps what long runs merged in
with `fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET NEW_CORPUS`):

  config/   "\\0" + each config/examples/*.yaml, "\\1" + web config examples,
            and a few broken ones of each (the first byte picks the parser)
  sockdiag/ each netlink message of tests/fixtures/states.nldump alone, and
            the whole dump
  http/     "\\0"/"\\1" + Accept-Encoding values and listen addresses,
            "\\2" + raw HTTP requests

Run from anywhere: python3 tests/fuzz/make_seeds.py
"""
import base64
import glob
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


BAD_CONFIGS = [
    b"services:\n  - name: x\n    ports: [0]\n",
    b"services:\n  - name: x\n    direction: sideways\n    ports: [80]\n",
    b"defaults:\n\tstale_after: 5m\n",
    b"services: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
    b"a: &a [*a, *a]\n",
    b"services:\n  - name: x\n    ports: [\"10-5\"]\n    cidrs: [\"10.0.0.0/33\"]\n",
    b"---\n---\n",
    b"defaults: {stale_after: 99999999999d}\n",
]

WEB_CONFIGS = [
    b"",
    b"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
    b"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
    b"  min_version: TLS12\n  max_version: TLS13\n",
    b"http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n"
    b"    Content-Security-Policy: \"default-src 'self'\"\n"
    b"    Strict-Transport-Security: max-age=31536000\n    X-Content-Type-Options: nosniff\n",
    b"basic_auth_users:\n  alice: $2y$10$LkqYz3mQ5OZh0V0vDjQ0HuWn7WIUVPvcoi5UTk5B9.O0rE3vF6m5C\n",
    b"basic_auth_users:\n  alice: hunter2\n",
    b"basic_auth_users:\n  \"a:b\": x\n",
    b"tls_server_config:\n  cert_file: x\n",
    b"tls_server_config:\n  client_auth_type: Bogus\n  cert_file: a\n  key_file: b\n",
    b"http_server_config:\n  headers:\n    Set-Cookie: a\n",
    b"tls_server_config: []\n",
]

HTTP_REQUESTS = [
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " +
    base64.b64encode(b"user:pass") + b"\r\nAccept-Encoding: gzip\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + base64.b64encode(b"user:pass") +
    b"\r\n\r\n",
    b"POST /-/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " +
    base64.b64encode(b"user:pass") + b"\r\nContent-Length: 3\r\n\r\nabc",
    b"PUT /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: Basic " +
    base64.b64encode(b"user:pass") + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /-/ready HTTP/1.0\r\nAuthorization: Basic " + base64.b64encode(b"user:wrong") + b"\r\n\r\n",
    b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " +
    base64.b64encode(b"user:pass") + b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%2e%2e/%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!!\r\n\r\n",
    b"GET /metrics?x=1&y HTTP/1.1\r\nHost: x\r\nAccept-Encoding: x-gzip;q=0.5, *;q=0\r\n"
    b"Accept-Encoding: identity\r\n\r\n",
]

ACCEPT_ENCODINGS = [b"gzip", b"gzip;q=0", b"*;q=1.000, gzip;q=0.001", b"br, deflate;q=0.5",
                    b"gzip;;q=;q=1", b" , ,x-gzip ;Q=1.0"]
LISTEN = [b":19100", b"127.0.0.1:80", b"[::1]:443", b"localhost:1", b"[fe80::1%eth0]:1"]


def main():
    for p in sorted(glob.glob(os.path.join(ROOT, "config", "examples", "*.y*ml"))):
        put("config", b"\0" + open(p, "rb").read())
    for c in BAD_CONFIGS:
        put("config", b"\0" + c)
    for c in WEB_CONFIGS:
        put("config", b"\1" + c)

    dump = open(os.path.join(ROOT, "tests", "fixtures", "states.nldump"), "rb").read()
    put("sockdiag", dump)
    off = 0
    while off + 16 <= len(dump):
        (n,) = struct.unpack_from("=I", dump, off)
        if n < 16 or off + n > len(dump):
            break
        put("sockdiag", dump[off:off + n])
        off += (n + 3) & ~3

    for name in ("conntrack.nldump", "conntrack_stats.nldump"):
        dump = open(os.path.join(ROOT, "tests", "fixtures", name), "rb").read()
        put("conntrack", dump)
        off = 0
        while off + 16 <= len(dump):
            (n,) = struct.unpack_from("=I", dump, off)
            if n < 16 or off + n > len(dump):
                break
            put("conntrack", dump[off:off + n])
            off += (n + 3) & ~3

    for v in ACCEPT_ENCODINGS:
        put("http", b"\0" + v)
    for v in LISTEN:
        put("http", b"\1" + v)
    for r in HTTP_REQUESTS:
        put("http", b"\2" + r)
    for t in sorted(os.listdir(CORPUS)):
        print("%s: %d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
