"""Suite `hardening`: --web.config.file on the real binary, with real clients.

In a network namespace of its own, the exporter serves TLS with
RequireAndVerifyClientCert, min_version TLS13, Basic auth (bcrypt) and extra
headers. curl checks: plain HTTP fails, TLS 1.2 fails, no or a foreign client
certificate fails the handshake, no or wrong credentials get 401 with
WWW-Authenticate, right ones 200 with the headers. Debian's Prometheus scrapes
it with basic_auth and tls_config (target up). SIGHUP and POST /-/reload
rotate the certificate and the password live; a bad web config is refused
with file:line:column:key logged, the old one stays in force and
halfopen_config_last_reload_successful goes to 0; switching TLS off needs a
restart and is refused. Needs root; prints `N passed, M failed`.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import hlib
from hlib import TLS, curl, testlib

PASSWORD = "correct horse"
NEW_PASSWORD = "battery staple"


def web_yaml(cert="server", users=None, extra=""):
    users = users or {"prometheus": hlib.bcrypt_hash(PASSWORD)}
    return ("tls_server_config:\n"
            f"  cert_file: {TLS}/{cert}.crt\n"
            f"  key_file: {TLS}/{cert}.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n"
            f"  client_ca_file: {TLS}/ca.crt\n"
            "  min_version: TLS13\n"
            "http_server_config:\n"
            "  headers:\n"
            "    X-Frame-Options: deny\n"
            "    Strict-Transport-Security: max-age=31536000\n"
            "basic_auth_users:\n" +
            "".join(f"  {u}: '{h}'\n" for u, h in users.items()) + extra)


class Env:
    def __init__(self, ns, exp, web_path):
        self.ns = ns
        self.exp = exp
        self.web_path = web_path
        self.url = "https://localhost:%d" % exp.port

    def tls_args(self, client="client"):
        a = ["--cacert", f"{TLS}/ca.crt", "--resolve", "localhost:%d:127.0.0.1" % self.exp.port]
        if client:
            a += ["--cert", f"{TLS}/{client}.crt", "--key", f"{TLS}/{client}.key"]
        return a

    def get(self, path="/metrics", user="prometheus", password=PASSWORD, client="client",
            extra=()):
        args = self.tls_args(client) + list(extra)
        if user is not None:
            args += ["-u", f"{user}:{password}"]
        return curl(self.ns, self.url + path, *args)

    def head(self, path="/metrics", **kw):
        """Status and response headers (lower-case names)."""
        st, out, err, rc = self.get(path, extra=["-D", "/dev/stdout", "-o", "/dev/null"], **kw)
        hdrs = {}
        for line in out.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                hdrs[k.strip().lower()] = v.strip()
        return st, hdrs

    def served_serial(self):
        """Serial number of the certificate a new handshake presents."""
        cp = self.ns.exec(
            ["sh", "-c", "openssl s_client -connect 127.0.0.1:%d -servername localhost "
             "-cert %s/client.crt -key %s/client.key </dev/null 2>/dev/null | "
             "openssl x509 -noout -serial" % (self.exp.port, TLS, TLS)], check=False)
        return cp.stdout.strip()

    def write_web(self, text):
        tmp = self.web_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.web_path)

    def sighup(self, logged, failure):
        """SIGHUP the exporter and wait up to 10 s for `logged` in its log;
        the log since the signal. AssertionError `failure` if it never comes."""
        mark = len(self.exp._read_stderr())
        self.exp.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while logged not in self.exp._read_stderr()[mark:]:
            assert time.monotonic() < deadline, failure + "\n" + self.exp.stderr_text()
            time.sleep(0.1)
        return self.exp._read_stderr()[mark:]

    def scrape_text(self, password=PASSWORD):
        st, out, err, _ = self.get(password=password)
        assert st == 200, "scrape: status %d %s" % (st, err)
        return out


def _wait_metric(env, name, want, password=PASSWORD):
    deadline = time.monotonic() + 5
    while True:
        text = env.scrape_text(password)
        if hlib.metric(text, name) == want:
            return text
        assert time.monotonic() < deadline, "%s is %s, want %s" % (
            name, hlib.metric(text, name), want)
        time.sleep(0.2)


Env.wait_metric = _wait_metric


def wait_ready(env):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if env.exp.proc.poll() is not None:
            raise AssertionError("exporter exited:\n" + env.exp.stderr_text())
        if env.get("/-/ready")[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError("exporter not ready over TLS\n" + env.exp.stderr_text())


# ------------------------------------------------------------------ checks

def check_plain_http_refused(env):
    st, out, err, rc = curl(env.ns, "http://127.0.0.1:%d/metrics" % env.exp.port)
    assert st == 0 and rc != 0, "plain HTTP answered %d %r" % (st, out[:100])


def check_tls12_refused(env):
    st, _, err, rc = env.get(extra=["--tls-max", "1.2"])
    assert st == 0 and rc != 0, "TLS 1.2 accepted (%d) though min_version is TLS13" % st


def check_client_cert_required(env):
    st, _, err, rc = env.get(client=None)
    assert st == 0 and rc != 0, "no client certificate: status %d" % st


def check_foreign_client_cert(env):
    st, _, err, rc = env.get(client="intruder")
    assert st == 0 and rc != 0, "certificate of another CA accepted: status %d" % st


def check_handshakes_counted(env):
    """The failed handshakes above (TLS 1.2, no and a foreign client
    certificate) are counted (issue 20)."""
    deadline = time.monotonic() + 5
    while True:
        v = hlib.metric(env.scrape_text(), "halfopen_http_tls_handshake_failures_total")
        if v is not None and v >= 3:
            print("  halfopen_http_tls_handshake_failures_total %s" % v)
            return
        if time.monotonic() > deadline:
            raise AssertionError("halfopen_http_tls_handshake_failures_total is %s, want >= 3"
                                 % v)
        time.sleep(0.2)


def check_auth(env):
    for user, pw, what in ((None, None, "no credentials"), ("prometheus", "wrong", "wrong password"),
                           ("nobody", PASSWORD, "unknown user")):
        st, hdrs = env.head(user=user, password=pw)
        assert st == 401, "%s: status %d" % (what, st)
        assert hdrs.get("www-authenticate", "").startswith("Basic realm="), \
            "%s: WWW-Authenticate %r" % (what, hdrs.get("www-authenticate"))
    st, hdrs = env.head()
    assert st == 200, "right credentials: %d" % st
    assert hdrs.get("x-frame-options") == "deny", hdrs
    assert hdrs.get("strict-transport-security") == "max-age=31536000", hdrs
    text = env.scrape_text()
    assert "halfopen_collections_total" in text, text[:300]


def check_prometheus(env):
    """Debian's Prometheus scrapes with basic_auth and tls_config."""
    d = tempfile.mkdtemp(prefix="ho-prom-tls-")
    try:
        pw_file = os.path.join(d, "pw")
        with open(pw_file, "w") as f:
            f.write(PASSWORD)
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                    "scrape_configs:\n"
                    "  - job_name: halfopen\n"
                    "    scheme: https\n"
                    "    basic_auth: {username: prometheus, password_file: %s}\n"
                    "    tls_config:\n"
                    "      ca_file: %s/ca.crt\n"
                    "      cert_file: %s/client.crt\n"
                    "      key_file: %s/client.key\n"
                    "      server_name: localhost\n"
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n" % (
                        pw_file, TLS, TLS, TLS, env.exp.port))
        port = env.ns.free_port()
        log = open(os.path.join(d, "log"), "w")
        proc = env.ns.popen(["prometheus", "--config.file=" + cfg,
                             "--storage.tsdb.path=" + os.path.join(d, "data"),
                             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            last = None
            while time.monotonic() < deadline:
                st, out, _, _ = curl(env.ns, "http://127.0.0.1:%d/api/v1/targets" % port)
                if st == 200:
                    targets = json.loads(out)["data"]["activeTargets"]
                    if targets:
                        last = targets[0]
                        if last["health"] == "up":
                            print("  prometheus target: health=up lastScrapeDuration=%.4fs" %
                                  last["lastScrapeDuration"])
                            return
                time.sleep(0.5)
            raise AssertionError("prometheus target not up within 60s: %r\n%s" % (
                last, open(os.path.join(d, "log")).read()[-2000:]))
        finally:
            testlib.stop_process(proc, timeout=10)
            log.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_sighup_rotation(env):
    assert env.served_serial() == "serial=02", env.served_serial()
    env.write_web(web_yaml(cert="server2", users={"prometheus": hlib.bcrypt_hash(NEW_PASSWORD)}))
    env.sighup("Configuration reloaded", "no reload")
    assert env.served_serial() == "serial=05", "rotated certificate not served: %s" % \
        env.served_serial()
    assert env.get(password=PASSWORD)[0] == 401, "old password still accepted"
    assert env.get(password=NEW_PASSWORD)[0] == 200, "new password refused"


def check_bad_reload_keeps_old(env):
    env.write_web(web_yaml(cert="server2", users={"prometheus": hlib.bcrypt_hash(NEW_PASSWORD)})
                  .replace("min_version: TLS13", "min_version: TLS14"))
    log = env.sighup("Reload failed", "no failed reload")
    want = "%s:6:16: tls_server_config.min_version" % env.web_path
    assert want in log, "error does not name file:line:column: key (%s)\n%s" % (want, log)
    assert env.get(password=NEW_PASSWORD)[0] == 200, "old web config not in force"
    # The body is rendered at each collection (1s here).
    env.wait_metric("halfopen_config_last_reload_successful", 0, NEW_PASSWORD)


def check_lifecycle_reload(env):
    env.write_web(web_yaml(cert="server", users={"prometheus": hlib.bcrypt_hash(PASSWORD)}))
    st, _, _, _ = env.get("/-/reload", user=None, extra=["-X", "POST"])
    assert st == 401, "unauthenticated POST /-/reload: %d" % st
    st, _, _, _ = env.get("/-/reload", password=NEW_PASSWORD, extra=["-X", "GET"])
    assert st == 405, "GET /-/reload: %d" % st
    st, out, err, _ = env.get("/-/reload", password=NEW_PASSWORD, extra=["-X", "POST"])
    assert st == 200, "POST /-/reload: %d %r %s" % (st, out, err)
    assert env.get(password=PASSWORD)[0] == 200, "reloaded password refused"
    assert env.served_serial() == "serial=02"
    text = env.wait_metric("halfopen_config_last_reload_successful", 1)
    ts = hlib.metric(text, "halfopen_config_last_reload_success_timestamp_seconds")
    assert ts and abs(ts - time.time()) < 30, ts
    # A web config without TLS cannot take over a TLS server.
    env.write_web("basic_auth_users:\n  prometheus: '%s'\n" % hlib.bcrypt_hash(PASSWORD))
    st, _, _, _ = env.get("/-/reload", extra=["-X", "POST"])
    assert st == 500, "TLS switched off by a reload: %d" % st
    hlib.wait_for_log(env.exp, "disabling TLS needs a restart")
    assert env.get()[0] == 200


def check_bad_config_at_start(ns):
    d = tempfile.mkdtemp(prefix="ho-web-")
    try:
        p = os.path.join(d, "web.yml")
        with open(p, "w") as f:
            f.write("basic_auth_users:\n  alice: hunter2\n")
        cp = ns.exec([testlib.exporter_binary(), "--web.config.file=" + p,
                      "--web.listen-address=127.0.0.1:1"], check=False, timeout=10)
        out = cp.stdout + cp.stderr
        assert cp.returncode == 1, "exit %d\n%s" % (cp.returncode, out)
        assert "%s:2:10: basic_auth_users.alice: not a bcrypt hash" % p in out, out
        assert "hunter2" not in out, "the password was logged"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    testlib.install_signal_handlers()
    r = hlib.Runner()
    d = tempfile.mkdtemp(prefix="ho-web-")
    web_path = os.path.join(d, "web.yml")
    with open(web_path, "w") as f:
        f.write(web_yaml())
    try:
        with testlib.Netns("web") as ns:
            r.check("bad web config at start: exit 1, place named, secret not logged",
                    check_bad_config_at_start, ns)
            exp = testlib.Exporter(ns, None, interval="1s", wait_ready=False,
                                   extra_args=["--web.config.file=" + web_path,
                                               "--web.enable-lifecycle"])
            with exp:
                env = Env(ns, exp, web_path)
                if not r.check("ready over TLS with client certificate and auth", wait_ready, env):
                    return r.finish()
                r.check("plain HTTP to the TLS port fails", check_plain_http_refused, env)
                r.check("TLS 1.2 refused under min_version TLS13", check_tls12_refused, env)
                r.check("no client certificate: handshake fails", check_client_cert_required, env)
                r.check("client certificate of another CA: handshake fails",
                        check_foreign_client_cert, env)
                r.check("failed handshakes counted", check_handshakes_counted, env)
                r.check("Basic auth: 401 + WWW-Authenticate, 200 with headers", check_auth, env)
                r.check("Prometheus scrapes with basic_auth and tls_config", check_prometheus,
                        env)
                r.check("SIGHUP rotates certificate and password", check_sighup_rotation, env)
                r.check("bad web config on reload: logged with place, old one kept",
                        check_bad_reload_keeps_old, env)
                r.check("POST /-/reload behind auth; TLS off refused", check_lifecycle_reload,
                        env)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
