"""Suite `hardening` (and `valgrind`): the real binary under valgrind memcheck.

The exporter runs under `valgrind --leak-check=full --error-exitcode=9` in a
network namespace with TLS + client certificates + Basic auth and
--web.enable-lifecycle, collecting every 200 ms; the test scrapes over TLS,
sends wrong credentials, a foreign client certificate, plain HTTP, idle and
half-sent connections, reloads by POST /-/reload and SIGHUP (one good, one bad
web config), then SIGTERM: valgrind must report nothing and the exit status
must be 0. Needs root and valgrind; prints `N passed, M failed`.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import hlib
from hlib import TLS, curl, testlib


def main():
    testlib.install_signal_handlers()
    r = hlib.Runner()
    if not shutil.which("valgrind"):
        print("valgrind missing (scripts/deps.sh test installs it)\n0 passed, 1 failed")
        return 1
    d = tempfile.mkdtemp(prefix="ho-vg-")
    web = os.path.join(d, "web.yml")
    good = ("tls_server_config:\n  cert_file: %s/server.crt\n  key_file: %s/server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: %s/ca.crt\n"
            "http_server_config:\n  headers: {X-Frame-Options: deny}\n"
            "basic_auth_users:\n  u: '%s'\n" % (TLS, TLS, TLS, hlib.bcrypt_hash("pw", cost=4)))
    with open(web, "w") as f:
        f.write(good)
    log_path = os.path.join(d, "log")
    try:
        with testlib.Netns("vg") as ns, open(log_path, "w") as log:
            port = ns.free_port()
            proc = ns.popen(["valgrind", "--error-exitcode=9", "--leak-check=full",
                             "--errors-for-leak-kinds=definite,indirect",
                             "--show-leak-kinds=definite,indirect", "--track-fds=no", "-q",
                             testlib.exporter_binary(), "--web.config.file=" + web,
                             "--web.enable-lifecycle", "--collector.interval=200ms",
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            url = "https://localhost:%d" % port
            tls = ["--cacert", TLS + "/ca.crt", "--resolve", "localhost:%d:127.0.0.1" % port]
            ok = tls + ["--cert", TLS + "/client.crt", "--key", TLS + "/client.key"]

            def get(path="/metrics", extra=(), args=None):
                return curl(ns, url + path, *((args or ok) + ["-u", "u:pw"] + list(extra)))[0]

            def ready():
                deadline = time.monotonic() + 60
                while get("/-/ready") != 200:
                    assert proc.poll() is None, "exited:\n" + open(log_path).read()
                    assert time.monotonic() < deadline, "not ready\n" + open(log_path).read()
                    time.sleep(0.5)

            if not r.check("ready under valgrind", ready):
                return r.finish()

            def traffic():
                for _ in range(5):
                    assert get() == 200
                assert get(extra=["--compressed"]) == 200  # gzip body
                assert curl(ns, url + "/metrics", *ok, "-u", "u:bad")[0] == 401
                assert curl(ns, url + "/metrics", *tls, "--cert", TLS + "/intruder.crt",
                            "--key", TLS + "/intruder.key", "-u", "u:pw")[0] == 0
                assert curl(ns, "http://127.0.0.1:%d/metrics" % port)[0] == 0
                assert get("/nope") == 404 and get(extra=["-X", "DELETE"]) == 405
                socks = []
                for i in range(20):
                    s = ns.socket()
                    s.connect(("127.0.0.1", port))
                    if i % 2:
                        s.send(b"\x16\x03\x01\x00")  # a TLS record header, then nothing
                    socks.append(s)
                assert get() == 200
                for s in socks:
                    s.close()

            def reloads():
                assert get("/-/reload", extra=["-X", "POST"]) == 200
                with open(web, "w") as f:
                    f.write(good.replace("deny", "sometimes"))
                assert get("/-/reload", extra=["-X", "POST"]) == 500
                with open(web, "w") as f:
                    f.write(good)
                proc.send_signal(signal.SIGHUP)
                time.sleep(2)
                assert get() == 200

            r.check("TLS, auth, refusals, idle and half-sent connections", traffic)
            r.check("reloads: good, bad, SIGHUP", reloads)
            time.sleep(1)
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = None
            text = open(log_path).read()
            vg = [l for l in text.splitlines() if l.startswith("==")]

            def clean():
                assert rc == 0, "exit status %s (9: valgrind found errors)\n%s" % (rc, text[-4000:])
                assert not vg, "\n".join(vg[:60])

            r.check("valgrind: no errors, no leaks, exit 0", clean)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
