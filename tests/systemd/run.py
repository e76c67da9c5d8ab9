#!/usr/bin/env python3
"""The Debian package under a real systemd as PID 1.

`scripts/dev deb` builds the .deb; a second package with a higher version
is made from it for the upgrade. A Debian 12 root (tests/systemd/make_root.sh,
cached in /var/cache/halfopen-exporter-tests/nspawn) boots once with
`systemd-nspawn -b` on a throwaway overlay (--volatile=overlay: the cache
stays clean), in a network namespace of its own; commands run inside with
`nsenter -t PID -a`, scrapes and test sockets go into its network namespace.

In each mode the unit documents, one after the other in the same boot:
  all      netns=all, as shipped;
  host     --collector.netns=host, the capabilities emptied by the drop-in
           the unit's header gives;
  enforce  the enforce drop-in as written, a config with an enforce
           keepalive service: the program loads, and a real socket in the
           container gets the keepalive timer (ss -tnoi).
each does: apt-get install ./the.deb; the service active within 10 s and
serving /metrics; `systemctl reload` counted as a successful reload (an
edited config.yml, a conffile, picked up); the upgrade to the higher
version keeps the edit; `systemctl stop` clean; no error in the unit's
journal; `apt-get purge` leaves no file, user, group or unit behind.
Then deploy/systemd's unit, installed by hand as its header says (with the
packaged binary): active and serving, its capabilities, a reload, a clean
stop, a clean journal. `systemd-analyze security halfopen_exporter` is
printed in each mode; the shipped one must score at most 2.5.

Needs root, systemd-nspawn, mmdebstrap and a reachable Debian archive on
the first run; exits 77 without root or the tools."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_ROOT = os.environ["HALFOPEN_SOURCE_ROOT"]
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "scenario"))
from testlib import (ScenarioFailure, parse_exposition, parse_ss, run,  # noqa: E402
                     stop_process, wait_until)

PKG = "halfopen-exporter"
UNIT = "halfopen_exporter"
USER = "halfopen_exporter"
DROPIN_DIR = "/etc/systemd/system/%s.service.d" % UNIT
CONFIG = "/etc/halfopen_exporter/config.yml"
DEFAULTS = "/etc/default/halfopen_exporter"
PORT = 19100
MAX_EXPOSURE = 2.5
CAP_NAMES = {21: "cap_sys_admin", 19: "cap_sys_ptrace", 38: "cap_perfmon", 39: "cap_bpf",
             12: "cap_net_admin"}
failures = []
timings = []


def check(cond, msg):
    """Record a miss and go on (every check of a mode runs); the test
    fails at the end when any missed."""
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, flush=True)
    return cond


def sh(args, check=True, timeout=120, input=None):
    return run(args, timeout=timeout, check=check, input=input)


def unit_header_dropin(unit_text, first_line):
    """The drop-in the unit's header comment documents, starting at the
    comment line first_line ("#   [Service]" blocks), as a file's text:
    the test uses the lines as written, not a copy of them."""
    lines = unit_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#   [Service]") and first_line in lines[i - 1]:
            out.append("[Service]")
            for l in lines[i + 1:]:
                if not l.startswith("#   "):
                    break
                out.append(l[4:])
            break
    if not out:
        raise ScenarioFailure("no drop-in after %r in the unit's header" % first_line)
    return "\n".join(out) + "\n"


class Timer:
    def __init__(self, what):
        self.what = what

    def __enter__(self):
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.t0
        timings.append((self.what, self.seconds))
        print("time: %s %.1f s" % (self.what, self.seconds), flush=True)


# ------------------------------------------------------------------ packages

def build_packages(work):
    """(v1, its version, v2, its version, the package names v1 depends
    on): the .deb `scripts/dev deb` builds, and the same package with a
    higher version (its control file's Version raised, repacked with
    dpkg-deb), for the upgrade."""
    dist = os.path.join(work, "debs")
    os.makedirs(dist)
    os.chmod(dist, 0o755)  # apt's _apt user reads the .deb inside
    r = sh(["env", "HALFOPEN_DIST=" + dist, os.path.join(SOURCE_ROOT, "scripts/dev"), "deb"],
           timeout=600)
    v1 = [l for l in r.stdout.split() if l.endswith(".deb")][-1]
    version = sh(["dpkg-deb", "-f", v1, "Version"]).stdout.strip()
    tree = os.path.join(work, "repack")
    sh(["dpkg-deb", "-R", v1, tree])
    control = os.path.join(tree, "DEBIAN", "control")
    text = open(control).read()
    higher = version + "+upgrade1"
    open(control, "w").write(re.sub(r"^Version: .*$", "Version: " + higher, text, flags=re.M))
    v2 = os.path.join(dist, "%s_%s_%s.deb" % (PKG, higher,
                                              sh(["dpkg-deb", "-f", v1, "Architecture"]).stdout.strip()))
    sh(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", tree, v2])
    shutil.rmtree(tree)
    for d in (v1, v2):
        os.chmod(d, 0o644)
    depends = sh(["dpkg-deb", "-f", v1, "Depends"]).stdout
    # Package names only (the first of alternatives; ${misc:Depends} is
    # empty here): they go into the root, so apt needs no download.
    names = sorted({re.split(r"[\s(:]", alt.split("|")[0].strip())[0]
                    for alt in depends.split(",") if alt.strip()})
    return v1, version, v2, higher, names


# ----------------------------------------------------------------- container

class Container:
    """A booted Debian 12 root: systemd-nspawn -b over a throwaway overlay."""

    ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "TERM=dumb"]

    def __init__(self, root, debs_dir, work):
        self.name = "ho-sd-%d" % os.getpid()
        self.log = open(os.path.join(work, "nspawn.log"), "w+")
        cmd = ["systemd-nspawn", "-D", root, "-b", "--register=no", "--keep-unit",
               "--console=passive", "--volatile=overlay", "--private-network",
               "--machine=" + self.name,
               # enforce loads a BPF program: nspawn denies bpf() otherwise.
               "--capability=CAP_BPF,CAP_PERFMON",
               "--system-call-filter=bpf perf_event_open",
               "--bind-ro=%s:/ho-debs" % debs_dir]
        print("$ " + " ".join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = wait_until(self._init_pid, 30, "the container's init")

    def _init_pid(self):
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise ScenarioFailure("systemd-nspawn exited %d:\n%s" % (self.proc.returncode,
                                                                     self.log.read()))
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                st = open("/proc/%s/status" % d).read()
            except OSError:
                continue
            if re.search(r"^PPid:\s+%d$" % self.proc.pid, st, re.M) and \
                    re.search(r"^NSpid:\s+\d+\s+1$", st, re.M):
                return int(d)
        return None

    def run(self, args, check=True, timeout=120, input=None):
        """args inside the container (all its namespaces, its root)."""
        return sh(["nsenter", "-t", str(self.pid), "-a"] + self.ENV + list(args),
                  check=check, timeout=timeout, input=input)

    def net(self, args):
        """A host program in the container's network namespace."""
        return ["nsenter", "-t", str(self.pid), "-n"] + list(args)

    def write(self, path, text):
        self.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat >"$1"', "-", path], input=text)

    def read(self, path):
        return self.run(["cat", path]).stdout

    def boot_wait(self):
        # PID 1 may not answer yet (its private socket comes up early in
        # the boot): ask until it does, then wait for the boot to end.
        def answered():
            if self.proc.poll() is not None:
                raise ScenarioFailure("systemd-nspawn exited %d" % self.proc.returncode)
            r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                         timeout=120)
            # "offline": systemctl found no manager to ask yet.
            return r.stdout.strip() if r.stdout.strip() not in ("", "offline") else None
        state = wait_until(answered, 60, "systemd in the container to answer", poll=0.05)
        if state != "running":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"], check=False)
            print("boot ended %s; failed units:\n%s" % (state, failed.stdout), flush=True)
        return state

    def cursor(self):
        out = self.run(["journalctl", "--show-cursor", "-n0", "-q"]).stdout
        return re.search(r"cursor: (\S+)", out).group(1)

    def stop(self):
        if self.proc.poll() is None:
            self.run(["systemctl", "poweroff"], check=False, timeout=30)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_process(self.proc, timeout=10)
        self.log.close()


# --------------------------------------------------------------------- checks

def scrape(c):
    r = sh(c.net(["curl", "-sf", "--max-time", "3", "http://127.0.0.1:%d/metrics" % PORT]),
           check=False)
    if r.returncode != 0:
        return None
    return parse_exposition(r.stdout)


def main_pid(c):
    return int(c.run(["systemctl", "show", "-p", "MainPID", "--value", UNIT]).stdout.strip() or 0)


def caps_of(c, pid):
    st = c.read("/proc/%d/status" % pid)
    eff = int(re.search(r"^CapEff:\s+([0-9a-f]+)", st, re.M).group(1), 16)
    prm = int(re.search(r"^CapPrm:\s+([0-9a-f]+)", st, re.M).group(1), 16)
    return eff | prm


def cap_text(mask):
    return ",".join(CAP_NAMES.get(b, "cap_%d" % b) for b in range(64) if mask >> b & 1) or "none"


def wait_serving(c, what, since):
    """The unit active and /metrics served with a finished collection,
    within 10 s of since (time.monotonic())."""
    def up():
        if c.run(["systemctl", "is-active", UNIT], check=False).stdout.strip() != "active":
            return None
        s = scrape(c)
        return s if s and (s.value("halfopen_collections_total") or 0) >= 1 else None
    try:
        s = wait_until(up, 10 - (time.monotonic() - since), what)
    except ScenarioFailure as e:
        status = c.run(["systemctl", "status", "--no-pager", "-n", "20", UNIT], check=False)
        check(False, "%s: %s\n%s" % (what, e, status.stdout))
        return None
    print("%s: active and serving %.1f s after the start" % (what, time.monotonic() - since),
          flush=True)
    return s


def restart(c, what):
    c.run(["systemctl", "daemon-reload"])
    t0 = time.monotonic()
    c.run(["systemctl", "restart", UNIT])
    return wait_serving(c, what, t0)


def security(c, mode):
    out = c.run(["systemd-analyze", "security", "--no-pager", UNIT], check=False).stdout
    print("systemd-analyze security %s (%s):\n%s" % (UNIT, mode, out), flush=True)
    m = re.search(r"Overall exposure level for %s\.service: ([0-9.]+)" % UNIT, out)
    check(m, "%s: no exposure level in systemd-analyze security's output" % mode)
    return float(m.group(1)) if m else None


def install(c, deb, version, mode, what):
    """apt-get install of deb; the time it returned (its postinst has
    started the service: deb-systemd-invoke waits for the start job)."""
    t0 = time.monotonic()
    r = c.run(["apt-get", "install", "-y", "/ho-debs/" + os.path.basename(deb)],
              check=False, timeout=300)
    print("%s: %s took %.1f s" % (mode, what, time.monotonic() - t0), flush=True)
    check(r.returncode == 0, "%s: apt-get install %s: %s" % (mode, deb, r.stdout[-2000:] + r.stderr))
    got = c.run(["dpkg-query", "-W", "-f=${Version}", PKG], check=False).stdout
    check(got == version, "%s: %s is %r after %s, want %s" % (mode, PKG, got, what, version))
    return time.monotonic()


def check_reload(c, mode, marker_service):
    """An edited config.yml (a conffile): one more service. `systemctl
    reload` must be a successful reload: the exporter publishes its success
    time at once (the new service's series follow at the next collection;
    the upgrade's restart shows it in use)."""
    before = scrape(c)
    ts0 = before.value("halfopen_config_last_reload_success_timestamp_seconds") if before else None
    cfg = c.read(CONFIG)
    c.write(CONFIG, cfg + ("  # edited by the systemd test: must survive the upgrade\n"
                           "  - name: %s\n    direction: inbound\n    ports: [17777]\n"
                           % marker_service))
    time.sleep(1.05)  # a later success time than the start's, whatever its resolution
    r = c.run(["systemctl", "reload", UNIT], check=False)
    check(r.returncode == 0, "%s: systemctl reload failed: %s\n%s" % (mode, r.stderr, c.run(
        ["journalctl", "-u", UNIT, "-n", "8", "--no-pager"], check=False).stdout))

    def reloaded():
        s = scrape(c)
        if not s or s.value("halfopen_config_last_reload_successful") != 1:
            return None
        ts = s.value("halfopen_config_last_reload_success_timestamp_seconds")
        return ts if ts0 is not None and ts is not None and ts > ts0 else None
    try:
        ts = wait_until(reloaded, 10, "halfopen_config_last_reload_success_timestamp_seconds "
                        "to move on and halfopen_config_last_reload_successful 1")
        print("%s: systemctl reload counted as a successful reload (success time %.3f -> %.3f)"
              % (mode, ts0, ts), flush=True)
    except ScenarioFailure as e:
        log = c.run(["journalctl", "-u", UNIT, "-n", "10", "--no-pager"], check=False).stdout
        check(False, "%s: %s\n%s" % (mode, e, log))


def has_service(s, name):
    return s is not None and any(dict(k[1]).get("tcp_service") == name for k in s)


def check_stop(c, mode, cursor):
    t0 = time.monotonic()
    c.run(["systemctl", "stop", UNIT])
    took = time.monotonic() - t0
    show = dict(l.split("=", 1) for l in c.run(
        ["systemctl", "show", "-p", "ActiveState,Result,ExecMainCode,ExecMainStatus", UNIT]
    ).stdout.split())
    print("%s: systemctl stop took %.2f s: %s" % (mode, took, show), flush=True)
    check(show.get("ActiveState") == "inactive" and show.get("Result") == "success",
          "%s: systemctl stop not clean: %s" % (mode, show))
    errs = c.run(["journalctl", "-u", UNIT, "-p", "err", "--after-cursor", cursor,
                  "--no-pager", "-q", "-o", "short-monotonic"], check=False).stdout.strip()
    check(not errs, "%s: errors in the unit's journal:\n%s" % (mode, errs))
    warn = c.run(["journalctl", "-u", UNIT, "-p", "warning", "--after-cursor", cursor,
                  "--no-pager", "-q", "-o", "cat"], check=False).stdout.strip()
    if warn:
        print("%s: warnings in the unit's journal (not failures):\n%s" % (mode, warn))


def check_purge(c, mode):
    c.run(["rm", "-rf", DROPIN_DIR])  # the admin's own drop-in, not the package's
    r = c.run(["apt-get", "purge", "-y", PKG], check=False, timeout=300)
    check(r.returncode == 0, "%s: apt-get purge: %s" % (mode, r.stdout[-2000:] + r.stderr))
    c.run(["systemctl", "daemon-reload"])
    left = c.run(["sh", "-c",
                  "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -name '*halfopen*' -print;"
                  "find /run -name '*halfopen*' -print"], check=False).stdout.split()
    check(not left, "%s: left after purge: %s" % (mode, left))
    for db in ("passwd", "group"):
        r = c.run(["getent", db, USER], check=False)
        check(r.returncode != 0, "%s: %s %s left after purge: %s" % (mode, db, USER, r.stdout))
    load = c.run(["systemctl", "show", "-p", "LoadState", "--value", UNIT]).stdout.strip()
    check(load == "not-found", "%s: the unit is %s after purge" % (mode, load))
    state = c.run(["dpkg-query", "-W", "-f=${Status}", PKG], check=False)
    check(state.returncode != 0 or "not-installed" in state.stdout,
          "%s: dpkg still knows %s: %s" % (mode, PKG, state.stdout))


# ---------------------------------------------------------------------- modes

ENFORCE_PORT = 15432
ENFORCE_CONFIG = """# the systemd test's enforce mode
services:
  - name: pgpool
    direction: outbound
    ports: [%d]
    enforce:
      keepalive: {idle: 600s, interval: 10s, count: 6}
""" % ENFORCE_PORT

# A pool's connection, in the container's network namespace: a listener
# and a client connected to it, neither with SO_KEEPALIVE; it prints
# "ready" and holds them until stdin closes.
HOLDER = r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", %d)); srv.listen()
cli = socket.create_connection(("127.0.0.1", %d)); acc, _ = srv.accept()
print("ready", cli.getsockname()[1], flush=True)
sys.stdin.read()
""" % (ENFORCE_PORT, ENFORCE_PORT)


def mode_all(c, unit_text):
    """As shipped: nothing to set."""
    return {"caps": {"cap_sys_admin", "cap_sys_ptrace"}}


def mode_host(c, unit_text):
    args = c.read(DEFAULTS)
    check("--collector.netns=all" in args, "host: %s has no --collector.netns=all" % DEFAULTS)
    c.write(DEFAULTS, args.replace("--collector.netns=all", "--collector.netns=host"))
    c.write(DROPIN_DIR + "/netns-host.conf",
            unit_header_dropin(unit_text, "--collector.netns=host, drop them too"))
    return {"caps": set(), "restart": True, "defaults_marker": "--collector.netns=host"}


def mode_enforce(c, unit_text):
    c.write(DROPIN_DIR + "/enforce.conf",
            unit_header_dropin(unit_text, "allow them with a drop-in"))
    c.write(CONFIG, ENFORCE_CONFIG)
    # One collection (and enforce pass) a second, so the socket made after
    # the start is visited at once.
    args = c.read(DEFAULTS)
    c.write(DEFAULTS, args.replace("--collector.netns=all",
                                   "--collector.netns=all --collector.interval=1s"))
    return {"caps": {"cap_sys_admin", "cap_sys_ptrace"}, "restart": True, "enforce": True,
            "defaults_marker": "--collector.interval=1s"}


def container_cgroup(c):
    """A leaf cgroup in the container's cgroup tree, from the host: its
    PID 1's cgroup (v2) is <the container's root>/init.scope."""
    with open("/proc/%d/cgroup" % c.pid) as f:
        path = next(l[3:].strip() for l in f if l.startswith("0::"))
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.exists(os.path.join(base, "cgroup.controllers")):
            d = base + os.path.dirname(path) + "/ho-holder"
            os.makedirs(d, exist_ok=True)
            return d
    raise ScenarioFailure("no cgroup v2 hierarchy on the host")


def check_enforce(c, mode, holder_box):
    """The program loaded (passes run), and a real socket of the service in
    the container gets the keepalive timer; its peer (not the service's
    direction) does not."""
    # In the container's own cgroup tree, as a program the container runs
    # (nsenter alone leaves it in the host's cgroup, which the exporter's
    # connection-time program, attached at the container's root, does
    # not see).
    holder = subprocess.Popen(c.net(["sh", "-c", 'echo $$ >"$1/cgroup.procs" && exec python3 -c "$2"',
                                     "-", container_cgroup(c), HOLDER]),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    holder_box.append(holder)
    line = holder.stdout.readline().split()
    if not check(line[:1] == ["ready"], "%s: the socket holder did not start" % mode):
        return
    client_port = int(line[1])

    def armed():
        rows = parse_ss(sh(c.net(["ss", "-tnoiH", "state", "all"])).stdout)
        cli = [r for r in rows if r["lport"] == client_port and r["rport"] == ENFORCE_PORT]
        return cli if cli and cli[0]["timer"] == "keepalive" else None
    try:
        cli = wait_until(armed, 10, "the client socket's keepalive timer (ss -tnoi)")
        print("%s: ss -tnoi: %s" % (mode, cli[0]["raw"].splitlines()[0]), flush=True)
    except ScenarioFailure as e:
        rows = sh(c.net(["ss", "-tnoiH", "state", "all"])).stdout
        log = c.run(["journalctl", "-u", UNIT, "-n", "15", "--no-pager"], check=False).stdout
        check(False, "%s: %s\nss:\n%s\n%s" % (mode, e, rows, log))
    rows = parse_ss(sh(c.net(["ss", "-tnoiH", "state", "all"])).stdout)
    peer = [r for r in rows if r["lport"] == ENFORCE_PORT and r["state"] == "ESTAB"]
    check(peer and peer[0]["timer"] != "keepalive",
          "%s: the accepted (inbound) socket got keepalive too: %s" % (mode, peer))
    def counted():
        s = scrape(c)
        if s and s.value("halfopen_enforced_sockets_total", tcp_service="pgpool",
                         option="keepalive") == 1:
            return s
        return None
    try:
        s = wait_until(counted, 5, "halfopen_enforced_sockets_total{pgpool,keepalive} 1")
    except ScenarioFailure as e:
        check(False, "%s: %s" % (mode, e))
        return
    passes = s.value("halfopen_enforce_passes_total")
    check(passes and passes >= 1, "%s: no enforce pass (halfopen_enforce_passes_total %s)"
          % (mode, passes))
    check(s.value("halfopen_enforce_pass_errors_total") == 0, "%s: enforce passes failed" % mode)
    # Under systemd as shipped (CAP_SYS_ADMIN, /sys/fs/cgroup read-only):
    # the client made after the start got it as it connected.
    on = s.value("halfopen_enforce_on_connect")
    at = s.value("halfopen_enforced_at_connect_sockets_total", tcp_service="pgpool",
                 option="keepalive")
    if not check(on == 1 and at == 1, "%s: new connections must get enforce as they are "
                 "established (halfopen_enforce_on_connect %s, at connect %s)" % (mode, on, at)):
        log = c.run(["journalctl", "-u", UNIT, "-n", "15", "--no-pager"], check=False).stdout
        print(log, flush=True)


def run_mode(c, mode, setup, v1, version, v2, higher, unit_text, exposures):
    print("\n=== mode %s ===" % mode, flush=True)
    holders = []
    try:
        with Timer("mode " + mode):
            cursor = c.cursor()
            t0 = install(c, v1, version, mode, "apt-get install")
            s = wait_serving(c, mode + ": after apt-get install", t0)
            if s is None:
                raise ScenarioFailure("not serving: the mode's other checks are skipped")
            want = setup(c, unit_text)
            if want.get("restart"):
                s = restart(c, mode + ": restarted in its mode")
                if s is None:
                    raise ScenarioFailure("not serving: the mode's other checks are skipped")
            pid = main_pid(c)
            caps = caps_of(c, pid)
            names = {CAP_NAMES.get(b, "cap_%d" % b) for b in range(64) if caps >> b & 1}
            check(names == want["caps"], "%s: the exporter holds %s, want %s" % (
                mode, cap_text(caps), ",".join(sorted(want["caps"])) or "none"))
            uid = re.search(r"^Uid:\s+(\d+)", c.read("/proc/%d/status" % pid), re.M).group(1)
            check(c.run(["id", "-u", USER]).stdout.strip() == uid,
                  "%s: the exporter runs as uid %s, not %s" % (mode, uid, USER))
            print("%s: pid %d as %s, capabilities %s, %d series" % (
                mode, pid, USER, cap_text(caps), len(s)), flush=True)
            check((s.value("halfopen_collection_errors_total") or 0) == 0,
                  "%s: collections failed" % mode)
            exposures[mode] = security(c, mode)
            if want.get("enforce"):
                check_enforce(c, mode, holders)
            if holders:  # the pool closes its connection
                holders[0].stdin.close()
                holders[0].wait(timeout=10)
            marker = "reload_check_" + mode
            check_reload(c, mode, marker)
            # The upgrade: both edited conffiles are kept, the admin's drop-in
            # still applies, the service comes back on its own.
            t0 = install(c, v2, higher, mode, "the upgrade")
            s = wait_serving(c, mode + ": after the upgrade", t0)
            check("must survive the upgrade" in c.read(CONFIG),
                  "%s: the edit of %s did not survive the upgrade" % (mode, CONFIG))
            check(has_service(s, marker), "%s: the edited config is not in use after the upgrade"
                  % mode)
            if want.get("defaults_marker"):
                check(want["defaults_marker"] in c.read(DEFAULTS),
                      "%s: the edit of %s did not survive the upgrade" % (mode, DEFAULTS))
            if s is not None:
                caps2 = caps_of(c, main_pid(c))
                check(caps2 == caps, "%s: after the upgrade the exporter holds %s, before %s"
                      % (mode, cap_text(caps2), cap_text(caps)))
            if want.get("enforce") and s is not None:
                # The upgraded exporter loaded its program again: a new pool
                # connection gets keepalive too.
                check_enforce(c, mode + " after the upgrade", holders)
            check_stop(c, mode, cursor)
            check_purge(c, mode)
    finally:
        for h in holders:
            if h.poll() is None:
                stop_process(h, timeout=5)
        if holders:
            try:
                os.rmdir(container_cgroup(c))
            except OSError:
                pass


def run_by_hand(c, v1, exposures):
    """deploy/systemd's unit as its header installs it by hand (the
    transient DynamicUser, HALFOPEN_EXPORTER_ARGS from deploy/systemd's env
    file, the example config), with the packaged binary in /usr/local/bin:
    active and serving within 10 s, its two capabilities, a successful
    reload, a clean stop, no error in its journal."""
    mode = "by-hand"
    print("\n=== %s: deploy/systemd's unit ===" % mode, flush=True)
    deploy = os.path.join(SOURCE_ROOT, "deploy", "systemd")
    with Timer("mode " + mode):
        cursor = c.cursor()
        c.run(["sh", "-c", 'dpkg-deb -x "$1" /tmp/by-hand && '
               'install -m 0755 /tmp/by-hand/usr/bin/halfopen_exporter /usr/local/bin/ && '
               'rm -rf /tmp/by-hand', "-", "/ho-debs/" + os.path.basename(v1)])
        for src, dst in (("halfopen_exporter.service", "/etc/systemd/system/%s.service" % UNIT),
                         ("halfopen_exporter.env", DEFAULTS)):
            c.write(dst, open(os.path.join(deploy, src)).read())
        c.write(CONFIG, open(os.path.join(SOURCE_ROOT, "config/examples/basic.yaml")).read())
        c.run(["systemctl", "daemon-reload"])
        t0 = time.monotonic()
        c.run(["systemctl", "enable", "--now", UNIT])
        s = wait_serving(c, mode + ": systemctl enable --now", t0)
        if s is not None:
            pid = main_pid(c)
            caps = caps_of(c, pid)
            check(cap_text(caps) == "cap_sys_ptrace,cap_sys_admin",
                  "%s: the exporter holds %s" % (mode, cap_text(caps)))
            user = c.run(["ps", "-o", "user=", "-p", str(pid)]).stdout.strip()
            print("%s: pid %d as %s (DynamicUser), capabilities %s" % (
                mode, pid, user, cap_text(caps)), flush=True)
            exposures[mode] = security(c, mode)
            check_reload(c, mode, "reload_check_by_hand")
        check_stop(c, mode, cursor)
        c.run(["systemctl", "disable", UNIT], check=False)
        c.run(["rm", "-rf", "/etc/systemd/system/%s.service" % UNIT, DEFAULTS,
               os.path.dirname(CONFIG), "/usr/local/bin/halfopen_exporter"])
        c.run(["systemctl", "daemon-reload"])


def check_filters(unit_text):
    """Of @privileged, the shipped unit allows exactly capset() (after its
    deny list, so it is put back alone), and the enforce drop-in bpf()."""
    def filters(text):
        return [l.split("=", 1)[1] for l in text.splitlines() if l.startswith("SystemCallFilter=")]
    got = filters(unit_text)
    check(got == ["@system-service", "~@privileged @resources", "capset"],
          "the unit's SystemCallFilter lines are %s" % got)
    got = filters(unit_header_dropin(unit_text, "allow them with a drop-in"))
    check(got == ["bpf"], "the enforce drop-in's SystemCallFilter lines are %s" % got)


def main():
    if os.geteuid() != 0:
        print("SKIP: booting a container needs root")
        return 77
    missing = [t for t in ("systemd-nspawn", "mmdebstrap", "nsenter", "curl", "ss", "dpkg-deb")
               if not shutil.which(t)]
    if missing:
        print("SKIP: missing %s (scripts/deps.sh test installs them)" % ", ".join(missing))
        return 77
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="ho-systemd-")
    c = None
    try:
        with Timer("build the packages (scripts/dev deb + repack)"):
            v1, version, v2, higher, depends = build_packages(work)
        print("packages: %s, %s; Depends: %s" % (os.path.basename(v1), os.path.basename(v2),
                                                   " ".join(depends)), flush=True)
        with Timer("root file system (cached)"):
            root = sh([os.path.join(SOURCE_ROOT, "tests/systemd/make_root.sh")] + depends,
                      timeout=900).stdout.strip()
        unit_text = subprocess.run(
            "dpkg-deb --fsys-tarfile '%s' | tar -xO ./lib/systemd/system/%s.service" % (v1, UNIT),
            shell=True, capture_output=True, text=True, check=True).stdout
        check_filters(unit_text)
        with Timer("boot (systemd-nspawn -b until systemctl is-system-running)"):
            c = Container(root, os.path.dirname(v1), work)
            state = c.boot_wait()
        check(state in ("running", "degraded"), "the container did not boot: %s" % state)
        print(c.run(["systemd-analyze"], check=False).stdout.strip(), flush=True)
        exposures = {}
        for mode, setup in (("all", mode_all), ("host", mode_host), ("enforce", mode_enforce)):
            try:
                run_mode(c, mode, setup, v1, version, v2, higher, unit_text, exposures)
            except (ScenarioFailure, subprocess.TimeoutExpired) as e:
                check(False, "%s: %s" % (mode, e))
                c.run(["sh", "-c", "rm -rf %s; apt-get purge -y %s" % (DROPIN_DIR, PKG)],
                      check=False)
        try:
            run_by_hand(c, v1, exposures)
        except (ScenarioFailure, subprocess.TimeoutExpired) as e:
            check(False, "by-hand: %s" % e)
        print("\nexposure (systemd-analyze security): %s" % ", ".join(
            "%s %s" % kv for kv in exposures.items()), flush=True)
        shipped = exposures.get("all")
        check(shipped is not None and shipped <= MAX_EXPOSURE,
              "the shipped unit's exposure is %s, want at most %s" % (shipped, MAX_EXPOSURE))
    except ScenarioFailure as e:
        check(False, str(e))
    finally:
        if c:
            with Timer("poweroff"):
                c.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\ntimings: " + "; ".join("%s %.1f s" % t for t in timings))
    print("total: %.1f s" % (time.monotonic() - t_start))
    print("FAILED: %d" % len(failures) if failures else
          "ok: installed, served, reloaded, upgraded, stopped and purged under systemd in "
          "every mode")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
