"""Suite `hardening`: the attacks of issue 10, replayed at full speed from
loopback against the real binary in a network namespace, each with a
legitimate client scraping /metrics every 20 ms meanwhile.

For each attack it asserts that every legitimate scrape answered 200 and the
slowest took under 1 s (4 s under ASan, whose build is several times slower:
ASAN_OPTIONS set; see BUDGET_MS), and that descriptors (and, without ASan, RSS) come back
flat once the attack stops. Attackers run in their own processes
(attack_client.py, under 20000 open files each) from 127.0.0.11 and up; the
legitimate client from 127.0.0.1. Prints one `figures:` line per attack
(worst and p99 latency, peak RSS, statuses) and `N passed, M failed`.

ATTACKS_REPORT_ONLY=1 prints the figures without failing (to measure an
older binary through HALFOPEN_EXPORTER). Needs root.
"""
import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time

import hlib
from hlib import testlib

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "attack_client.py")
ASAN = bool(os.environ.get("ASAN_OPTIONS"))
# Under ASan the exporter accepts and answers several times slower, so a
# connect flood can fill the accept queue and a scraper's SYN be retried
# (1 s, then 2 s more): the budget allows two retries there, none here.
BUDGET_MS = 4000.0 if ASAN else 1000.0
REPORT_ONLY = os.environ.get("ATTACKS_REPORT_ONLY") == "1"
# ATTACKS_ONLY=text runs only the checks whose name contains text.
ONLY = os.environ.get("ATTACKS_ONLY", "")
SECONDS = 5.0
PASSWORD = "s3cret-scraper"

# name, [(client attack, processes, arg)], needs basic auth. A name with
# "keep-alive" scrapes on one kept-alive connection, as Prometheus does;
# the others on a new connection each time (the harder case).
ATTACKS = [
    ("bodies sent and closed (150 a round)", [("body_close", 2, "")], False,
     {"counter": 'halfopen_http_requests_total{handler="/metrics",code="413"}'}),
    ("bodies announced, 40 held open", [("body_hold", 1, "")], False,
     {"counter": 'halfopen_http_requests_total{handler="/metrics",code="413"}'}),
    ("4400 idle connections, 5 addresses", [("idle", 5, "880")], False,
     {"counter": "halfopen_http_connections_evicted_total"}),
    ("6000 idle connections, 6 addresses, keep-alive", [("idle", 6, "1000")], False,
     {"counter": "halfopen_http_connections_evicted_total"}),
    # Held past the header deadline (10 s) so that the server, not the
    # attacker's exit, ends them: only then is the timeout counted (a
    # 5 s attack saw the counter move only when a close went unnoticed
    # until the sweep, and CI once saw 0).
    ("1000 slowloris connections", [("slowloris", 4, "250")], False,
     {"counter": "halfopen_http_connections_timed_out_total", "seconds": 12.5,
      "closed_by_server": True}),
    ("parsing quirks, garbage, big headers, pipelining", [("quirks", 2, "")], False,
     {"counter": 'halfopen_http_requests_total{handler="/metrics",code="400"}'}),
    ("64 clients with wrong passwords", [("wrong_passwords", 4, "16")], True,
     {"counter": 'halfopen_http_auth_failures_total{reason="busy"}'}),
    ("4400 idle connections, with basic auth", [("idle", 5, "880")], True,
     {"counter": "halfopen_http_connections_evicted_total"}),
    # Issue 18 (round three).
    ("45 pipelined slow readers, 300 GETs each", [("pipeline_slow", 1, "45:300")], False,
     {"counter": "halfopen_http_pipelined_requests_held_total"}),
    ("pipelined slow readers, 312 KB body, 20 GETs each",
     [("pipeline_slow", 1, "45:20")], False,
     {"big_body": True, "counter": "halfopen_http_pipelined_requests_held_total"}),
    # The flood turned a 4096 table over at 20-25k connects/s, so a
    # fresh connection had ~150 ms; one Python process per address makes
    # a few thousand a second here, so the table is scaled down to give
    # the same window: 384 entries (RLIMIT_NOFILE 512), 288 before eviction.
    ("idle flood, 5 addresses x 300 on a 384 table, keep-alive scraper without retry",
     [("idle", 5, "300")], False, {"scraper": "scrape_keepalive_noretry", "min_ok": 0.99,
                                  "counter": "halfopen_http_connections_evicted_total",
                                  "nofile": 512}),
    ("idle flood, 5 addresses x 300 on a 384 table, scraper sending 200 ms late",
     [("idle", 5, "300")], False, {"scraper": "scrape_late", "min_ok": 0.90,
                                  "counter": "halfopen_http_connections_evicted_total",
                                  "nofile": 512}),
]

# A config whose body is over 312 KB: 256 services with long names.
BIG_CONFIG = "services:\n" + "".join(
    "  - name: service-%03d-with-a-long-name-so-that-the-body-is-large-xxxxxxxxx\n"
    "    direction: outbound\n    ports: [%d]\n" % (i, 20000 + i) for i in range(256))


def check(cond, msg):
    """An assertion that python3 -O keeps."""
    if not cond:
        raise AssertionError(msg)


@contextlib.contextmanager
def nofile_limit(n, tmp):
    """The exporter started meanwhile runs with RLIMIT_NOFILE n (it sizes
    its connection table from it), through a prlimit wrapper; None:
    unchanged."""
    if not n:
        yield
        return
    old = os.environ.get("HALFOPEN_EXPORTER")
    wrapper = os.path.join(tmp, "exporter-nofile-%d" % n)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec prlimit --nofile=%d:%d %s \"$@\"\n" % (
            n, n, testlib.exporter_binary()))
    os.chmod(wrapper, 0o755)
    os.environ["HALFOPEN_EXPORTER"] = wrapper
    try:
        yield
    finally:
        if old is None:
            del os.environ["HALFOPEN_EXPORTER"]
        else:
            os.environ["HALFOPEN_EXPORTER"] = old


def proc_stat(pid):
    rss = fds = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        pass
    return rss, fds


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_fds, self.stop = pid, 0, 0, False

    def run(self):
        while not self.stop:
            rss, fds = proc_stat(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_fds = max(self.peak_fds, fds)
            time.sleep(0.05)


def auth_header(auth):
    return ("Basic " + base64.b64encode(("prometheus:" + PASSWORD).encode()).decode()
            if auth else "")


def legit_scrape(ns, exp, auth):
    """Scrape for half a second; assert every answer was 200."""
    cp = ns.exec([sys.executable, CLIENT, "scrape", str(exp.port), "0.5", "127.0.0.1",
                  auth_header(auth)], timeout=60, check=False)
    res = json.loads(cp.stdout.strip().splitlines()[-1])
    assert list(res["statuses"]) == ["200"], res["statuses"]


def run_attack(ns, exp, name, clients, auth, opts):
    base_rss, base_fds = proc_stat(exp.proc.pid)
    sampler = Sampler(exp.proc.pid)
    sampler.start()
    procs, src = [], 11
    auth_hdr = auth_header(auth)
    seconds = opts.get("seconds", SECONDS)
    if auth:
        # Prometheus logged in before the attack: its login is remembered.
        legit_scrape(ns, exp, auth)
    keepalive = "keep-alive" in name
    if keepalive:
        # Connected and scraping before the flood, as a Prometheus is.
        scraper = ns.popen([sys.executable, CLIENT, opts.get("scraper", "scrape_keepalive"),
                            str(exp.port), str(seconds), "127.0.0.1", auth_hdr],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
    for attack, n, arg in clients:
        for _ in range(n):
            procs.append(ns.popen(
                ["prlimit", "--nofile=20000", sys.executable, CLIENT, attack, str(exp.port),
                 str(seconds), "127.0.0.%d" % src, arg],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            src += 1
    if keepalive:
        out, err = scraper.communicate(timeout=seconds + 60)
        sc = subprocess.CompletedProcess(scraper.args, scraper.returncode, out, err)
    else:
        time.sleep(0.5)  # the attack at full speed first
        sc = ns.exec([sys.executable, CLIENT, opts.get("scraper", "scrape"), str(exp.port),
                      str(seconds - 1.0), "127.0.0.1", auth_hdr], timeout=seconds + 60,
                     check=False)
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=seconds + 60)
        outs.append(out.strip() or err.strip()[-300:])
    sampler.stop = True
    sampler.join()
    res = json.loads(sc.stdout.strip().splitlines()[-1]) if sc.returncode == 0 else None
    # Flat afterwards: descriptors back near the baseline within the header
    # deadline (10 s) and a little.
    deadline = time.monotonic() + 14
    while True:
        rss, fds = proc_stat(exp.proc.pid)
        if fds <= base_fds + 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(0.6)  # the watchdog trims freed memory on its next sweep
    rss, fds = proc_stat(exp.proc.pid)
    lat = sorted(res["latencies_ms"]) if res else [float("inf")]
    worst, p99 = lat[-1], lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0]
    print("figures: %-50s worst %8.1f ms  p99 %8.1f ms  scrapes %3d %s  peak RSS %.1f MB "
          "(base %.1f, after %.1f)  fds base %d peak %d after %d  attackers %s" % (
              name, worst, p99, len(lat), res["statuses"] if res else sc.stderr[-200:],
              sampler.peak_rss / 1024, base_rss / 1024, rss / 1024, base_fds,
              sampler.peak_fds, fds, ";".join(o[:120] for o in outs)))
    sys.stdout.flush()
    return {"worst": worst, "res": res, "base_rss": base_rss, "rss": rss,
            "base_fds": base_fds, "fds": fds, "attackers": outs}


def check_attack(r, ns, exp, name, clients, auth, opts):
    out = {}

    def attacked():
        out.update(run_attack(ns, exp, name, clients, auth, opts))
        if REPORT_ONLY:
            return
        res = out["res"]
        check(res, "the legitimate client failed")
        if "min_ok" in opts:
            # Eviction: a share of scrapes may fail when the flood takes
            # the connection (issue 18's targets).
            ok = res["statuses"].get("200", 0)
            n = sum(res["statuses"].values())
            # Under ASan, which accepts several times slower, a late
            # scraper's 200 ms are a larger share of the table's turnover.
            min_ok = opts["min_ok"] - (0.1 if ASAN and opts["min_ok"] < 0.99 else 0.0)
            check(ok >= min_ok * n, "%d of %d scrapes 200 (want >= %.0f%%): %s" % (
                ok, n, min_ok * 100, res["statuses"]))
            return
        if opts.get("closed_by_server"):
            closed = 0
            for o in out["attackers"]:
                closed += json.loads(o.splitlines()[-1]).get("closed_by_server", 0)
            check(closed > 0, "the server closed none of the attackers' connections")
        bad = {k: v for k, v in res["statuses"].items() if k != "200"}
        check(not bad, "legitimate scrapes not answered 200: %s" % bad)
        check(out["worst"] < BUDGET_MS, "worst legitimate scrape %.0f ms >= %.0f ms" % (
            out["worst"], BUDGET_MS))
        assert out["fds"] <= out["base_fds"] + 4, "descriptors %d -> %d" % (
            out["base_fds"], out["fds"])
        if not ASAN:
            # ASan's quarantine keeps freed memory: RSS says nothing there.
            assert out["rss"] < out["base_rss"] + 16 * 1024, "RSS %d -> %d kB" % (
                out["base_rss"], out["rss"])
    r.check(name, attacked)
    r.check("scrapes fine after: " + name, legit_scrape, ns, exp, auth)
    if opts.get("counter") and not REPORT_ONLY:
        r.check("counted: " + name, counter_moved, exp, opts["counter"], auth)


def counter_moved(exp, name, auth):
    """The attack shows in the exporter's own metrics (issue 20): name
    (a sample, labels as rendered) is above 0 once the next collection
    published it."""
    headers = {"Authorization": auth_header(True)} if auth else {}
    deadline, value = time.monotonic() + 5, None
    while time.monotonic() < deadline:
        st, _, body = exp.request("GET", "/metrics", headers=headers)
        value = hlib.metric(body.decode(), name) if st == 200 else None
        if value:
            break
        time.sleep(0.5)
    print("figures: counter %s = %s" % (name, value))
    check(value and value > 0, "%s is %s after the attack" % (name, value))


def storm(pid, seconds):
    """SIGHUP pid as fast as a loop can for seconds; how many were sent."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.kill(pid, 1)
        except ProcessLookupError:
            break
        n += 1
    return n


def check_reload_storm(ns, tmp):
    """Issue 10, items 5 and 6: a SIGHUP storm never stops collection, a
    reload's status is published at once, a FIFO named as the config fails
    the reload (collection goes on, SIGTERM works)."""
    with testlib.Exporter(ns, "defaults:\n  unmatched: count\n", interval="1s") as exp:
        before = exp.value("halfopen_collections_total")
        t0 = time.monotonic()
        sent = [0]
        th = threading.Thread(target=lambda: sent.__setitem__(0, storm(exp.proc.pid, 4.0)))
        th.start()
        worst = 0.0
        while th.is_alive():
            t = time.monotonic()
            exp.scrape()
            worst = max(worst, (time.monotonic() - t) * 1000)
            time.sleep(0.05)
        th.join()
        after = exp.value("halfopen_collections_total")
        print("figures: %-50s worst %8.1f ms  %d SIGHUPs in %.1f s, collections %d -> %d" % (
            "SIGHUP storm", worst, sent[0], time.monotonic() - t0, before, after))
        assert after - before >= 3, "collections %d -> %d during a 4 s storm" % (before, after)
        assert worst < BUDGET_MS, "worst scrape %.0f ms during the storm" % worst
        # A failed reload shows at once (published by the reload itself).
        with open(exp.config_path, "w") as f:
            f.write("services: [\n")
        exp.proc.send_signal(1)
        time.sleep(0.5)
        assert exp.value("halfopen_config_last_reload_successful") == 0
        # A FIFO as the config: the reload fails at once, collection goes on.
        os.unlink(exp.config_path)
        os.mkfifo(exp.config_path)
        exp.proc.send_signal(1)
        n = exp.value("halfopen_collections_total")
        time.sleep(2.5)
        assert exp.value("halfopen_collections_total") >= n + 2, "collection stopped"
        hlib.wait_for_log(exp, "not a regular file")
        os.unlink(exp.config_path)
    # (Exporter.__exit__ requires SIGTERM to stop it with status 0.)


def check_mapped_cidr(ns, tmp):
    """Issue 10, item 8: a service with cidrs ["::ffff:127.0.0.1/128"] counts
    its peer over plain IPv4 sockets (real netlink, real sockets)."""
    import socket
    srv = ns.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    cfg = ("services:\n  - name: mapped\n    direction: outbound\n    ports: [%d]\n"
           "    cidrs: [\"::ffff:127.0.0.1/128\"]\n" % port)
    clients = []
    for _ in range(3):
        c = ns.socket()
        c.connect(("127.0.0.1", port))
        clients.append(c)
    try:
        with testlib.Exporter(ns, cfg, interval="1s") as exp:
            exp.wait_for(lambda s: s.value("halfopen_established_sockets", tcp_service="mapped")
                         == 3, 5, "3 IPv4 sockets counted under the IPv4-mapped CIDR")
    finally:
        for c in clients:
            c.close()
        srv.close()


def check_files_and_costs(ns, tmp):
    """--config.check refuses at once a FIFO (config, web config, cert_file)
    and bcrypt costs above 14 or outside 04..31, with file:line:col."""
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    good = hlib.bcrypt_hash("x", 4)
    cases = [
        (["--config.file=" + fifo], "not a regular file"),
        (["--web.config.file=" + fifo], "not a regular file"),
        (["--web.config.file=@tls"], "not a regular file"),
        (["--web.config.file=@u:" + good[:4] + "99" + good[6:]], "web.yml:2:6"),
        (["--web.config.file=@u:" + good[:4] + "31" + good[6:]], "bcrypt cost 31 is more than 14"),
    ]
    for args, want in cases:
        a = args[0]
        if a.endswith("@tls"):
            path = os.path.join(tmp, "web.yml")
            with open(path, "w") as f:
                f.write("tls_server_config:\n  cert_file: fifo\n  key_file: fifo\n")
            a = "--web.config.file=" + path
        elif "@u:" in a:
            path = os.path.join(tmp, "web.yml")
            with open(path, "w") as f:
                f.write("basic_auth_users:\n  a: %s\n" % a.split("@u:")[1])
            a = "--web.config.file=" + path
        t0 = time.monotonic()
        cp = subprocess.run([testlib.exporter_binary(), "--config.check", a],
                            capture_output=True, text=True, timeout=10)
        took = time.monotonic() - t0
        out = cp.stdout + cp.stderr
        assert cp.returncode == 1 and want in out and took < 5, (a, cp.returncode, took, out)
    os.unlink(fifo)


def check_login_under_wrong_passwords(ns, web):
    """Issue 18, item 2: right after a restart, wrong passwords for the
    scraper's user at 20/s from the scraper's own address (a shared egress,
    SNAT) never lock the right password out: the scraper is in within 10 s
    and stays in; the lockouts are counted and logged."""
    with testlib.Exporter(ns, None, interval="1s", extra_args=["--web.config.file=" + web],
                          wait_ready=False) as exp:
        attacker = ns.popen([sys.executable, CLIENT, "wrong_rate", str(exp.port), "16",
                             "127.0.0.1", "20"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the scraper comes back into a running attack
        sc = ns.exec([sys.executable, CLIENT, "scrape_every", str(exp.port), "15", "127.0.0.1",
                      auth_header(True)], timeout=60, check=False)
        out, err = attacker.communicate(timeout=60)
        res = json.loads(sc.stdout.strip().splitlines()[-1])
        times, sts = res["times_s"], res["statuses_seq"]
        first = next((t for t, st in zip(times, sts) if st == "200"), None)
        after = [st for t, st in zip(times, sts) if first is not None and t > first]
        st, _, body = exp.request("GET", "/metrics",
                                  headers={"Authorization": auth_header(True)})
        locked = hlib.metric(body.decode(), 'halfopen_http_auth_failures_total{reason="locked_out"}')
        print("figures: %-50s first 200 at %.1f s, then %d of %d scrapes 200 (%s); attacker %s; "
              "locked_out %s" % ("wrong passwords at 20/s from the scraper's address",
                                 first if first is not None else -1,
                                 after.count("200"), len(after), dict(
                                     (k, after.count(k)) for k in set(after)), out.strip(),
                                 locked))
        sys.stdout.flush()
        if REPORT_ONLY:
            return
        check(first is not None and first < 10.0, "the scraper's first 200 at %s s" % first)
        check(after and after.count("200") == len(after),
              "after its first 200 the scraper got %s" % after)
        check(locked and locked > 0, "halfopen_http_auth_failures_total{reason=\"locked_out\"} "
              "is %s" % locked)
        hlib.wait_for_log(exp, "refused without a check", timeout=2)


def check_foreign_namespaces(ns, tmp):
    """Issue 18, item 4: an unprivileged user makes 300 network namespaces
    (unshare -rn as nobody); with --collector.netns=all the exporter skips
    them (another user namespace owns them) and counts them, so collection
    time stays what it was."""
    n = 300
    with testlib.Exporter(ns, None, interval="1s",
                          extra_args=["--collector.netns=all"]) as exp:
        exp.wait_for(lambda s: s.value("halfopen_collections_total") >= 2, 10, "collections")
        before = []
        for _ in range(3):
            before.append(exp.value("halfopen_collection_duration_seconds"))
            time.sleep(1.0)
        before = max(before)
        held = exp.value("halfopen_netns_namespaces")
        users = [subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
                                   "--clear-groups", "unshare", "-rn", "sleep", "60"])
                 for _ in range(n)]
        try:
            time.sleep(1.0)
            c = exp.value("halfopen_collections_total")
            exp.wait_for(lambda s: s.value("halfopen_collections_total") >= c + 3, 15,
                         "three collections after the namespaces appeared")
            durations = []
            for _ in range(3):
                durations.append(exp.value("halfopen_collection_duration_seconds"))
                time.sleep(1.0)
            skipped = exp.value("halfopen_netns_skipped_total", reason="foreign_userns")
            held_after = exp.value("halfopen_netns_namespaces")
        finally:
            for u in users:
                u.kill()
            for u in users:
                u.wait()
        print("figures: %-50s collection %.3f s before, worst %.3f s with them; namespaces "
              "held %s -> %s; skipped (foreign_userns, summed over refreshes) %s" % (
                  "%d namespaces made by an unprivileged user" % n, before, max(durations),
                  held, held_after, skipped))
        sys.stdout.flush()
        if REPORT_ONLY:
            return
        check(skipped is not None and skipped >= n, "foreign_userns skipped %s < %d" % (
            skipped, n))
        check(held_after is not None and held_after < held + n / 2,
              "namespaces held %s -> %s" % (held, held_after))
        # Relative to the same exporter a moment before (the machine is
        # shared): round two's code took 44 times as long with them.
        check(max(durations) < 3 * before + 0.5, "collection took %.3f s, %.3f s before" % (
            max(durations), before))


def check_small_nofile(ns, tmp):
    """Issue 18, item 5: with RLIMIT_NOFILE 64 the exporter says at start
    which connection limit it chose and why, exposes it, and a 200
    connection idle flood from other addresses does not block scrapes."""
    with nofile_limit(64, tmp), testlib.Exporter(ns, None, interval="1s") as exp:
        if not REPORT_ONLY:
            log = hlib.wait_for_log(exp, "connection table cut", timeout=5)
            body = exp.scrape()
            size = hlib.metric(body, "halfopen_http_connections_max")
            print("figures: %-50s table %s; log: %s" % (
                "RLIMIT_NOFILE 64", size,
                [l for l in log.splitlines() if "connection table cut" in l][0][:300]))
            check(size == 32, "halfopen_http_connections_max %s, want 32 (half of 64)" % size)
            check("max_connections=32" in log and "nofile=64" in log,
                  "the log line lacks the figures")
        check_attack(RUNNER[0], ns, exp, "200 idle connections, 2 addresses, RLIMIT_NOFILE 64",
                     [("idle", 2, "100")], False, {})


RUNNER = []


def main():
    testlib.install_signal_handlers()
    # meson sets MALLOC_PERTURB_, which makes glibc fill every allocation:
    # each connection's 32 KiB buffer is then touched whole, and the RSS
    # and CPU figures would measure that debugging aid, not the exporter.
    os.environ.pop("MALLOC_PERTURB_", None)
    r = hlib.Runner()
    RUNNER.append(r)
    web = os.path.join("/tmp", "ho-atk-web-%d.yml" % os.getpid())
    with open(web, "w") as f:
        f.write("basic_auth_users:\n  prometheus: %s\n" % hlib.bcrypt_hash(PASSWORD, 10))
    tmp = "/tmp/ho-atk-%d" % os.getpid()
    os.mkdir(tmp)
    try:
        if not ONLY:
            r.check("--config.check: FIFOs and bcrypt costs refused at once",
                    check_files_and_costs, None, tmp)
        with testlib.Netns("atk") as ns:
            ns.exec(["ip", "addr", "add", "127.0.0.0/8", "dev", "lo"], check=False)
            if not ONLY or ONLY in "SIGHUP storm":
                r.check("SIGHUP storm, failed and FIFO reloads", check_reload_storm, ns, tmp)
            if not ONLY:
                r.check("IPv4-mapped CIDR counts IPv4 peers", check_mapped_cidr, ns, tmp)
            # A fresh exporter per attack: one attack's aftermath (a slot
            # held for 60 s, say) must not count against the next.
            if not ONLY or ONLY in "RLIMIT_NOFILE 64":
                r.check("RLIMIT_NOFILE 64: the limit said and exposed", check_small_nofile, ns,
                        tmp)
            if not ONLY or ONLY in "namespaces made by an unprivileged user":
                r.check("namespaces made by an unprivileged user are skipped",
                        check_foreign_namespaces, ns, tmp)
            if not ONLY or ONLY in "wrong passwords from the scraper's address":
                r.check("wrong passwords at 20/s from the scraper's own address after a "
                        "restart", check_login_under_wrong_passwords, ns, web)
            for name, clients, auth, *rest in ATTACKS:
                opts = rest[0] if rest else {}
                if ONLY and ONLY not in name:
                    continue
                args = (["--web.config.file=" + web] if auth else []) + opts.get("args", [])
                with nofile_limit(opts.get("nofile"), tmp), \
                        testlib.Exporter(ns, BIG_CONFIG if opts.get("big_body") else None,
                                         interval="1s", extra_args=args,
                                         wait_ready=not auth) as exp:
                    if auth:
                        time.sleep(1.5)
                    if opts.get("big_body"):
                        size = len(exp.scrape())
                        print("body: %d bytes" % size)
                        check(size >= 312000, "body %d bytes < 312 kB" % size)
                    check_attack(r, ns, exp, name, clients, auth, opts)
    finally:
        os.unlink(web)
        subprocess.run(["rm", "-rf", tmp])
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
