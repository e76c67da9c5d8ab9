#!/usr/bin/env python3
"""The Debian package, for real: `scripts/dev deb` builds it, lintian has no
error or warning, `dpkg -i` installs it into this (throwaway CI) system, the
files, conffiles, system user and unit (`systemd-analyze verify`) are
there, the installed binary runs with the installed flags and config as
the installed user in a network namespace made here and is scraped, and
`dpkg --purge` leaves nothing behind: no file, user, group or unit state.

Needs root; exits 77 without it, or when the package is already installed
here (someone else's: not ours to purge)."""
import os
import pwd
import grp
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_ROOT = os.environ["HALFOPEN_SOURCE_ROOT"]
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "scenario"))
import testlib  # noqa: E402
from testlib import stop_process  # noqa: E402
DIST = os.environ["HALFOPEN_DIST"]
PKG = "halfopen-exporter"
USER = "halfopen_exporter"
UNIT = "/lib/systemd/system/halfopen_exporter.service"
WANT_FILES = ["/usr/bin/halfopen_exporter", UNIT, "/etc/default/halfopen_exporter",
              "/etc/halfopen_exporter/config.yml",
              "/usr/share/man/man1/halfopen_exporter.1.gz",
              "/usr/share/doc/halfopen-exporter/copyright",
              "/usr/share/doc/halfopen-exporter/changelog.gz"]
WANT_CONFFILES = {"/etc/default/halfopen_exporter", "/etc/halfopen_exporter/config.yml"}
failures = []


def want(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def sh(*args, check=True, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=check, **kw)


def installed():
    r = sh("dpkg-query", "-W", "-f=${Status}", PKG, check=False)
    return "install ok installed" in r.stdout or "config-files" in r.stdout


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def build():
    t0 = time.monotonic()
    r = sh(os.path.join(SOURCE_ROOT, "scripts/dev"), "deb", check=False, cwd=SOURCE_ROOT,
           env=dict(os.environ, HALFOPEN_DIST=DIST))
    print("scripts/dev deb: %.1f s" % (time.monotonic() - t0))
    if not want(r.returncode == 0, "scripts/dev deb failed: %s" % (r.stderr or r.stdout)[-2000:]):
        return None
    debs = [l for l in r.stdout.split() if l.endswith(".deb")]
    return debs[-1] if debs else None


def check_lintian(deb):
    # lintian refuses nothing as root but says so on stderr; the verdict is
    # on stdout, one tag a line.
    r = sh("lintian", "--pedantic", "--display-info", deb, check=False)
    print("lintian --pedantic --display-info:\n" + (r.stdout or "(nothing)"))
    bad = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    want(not bad, "lintian errors or warnings: %s" % bad)
    want(r.returncode == 0, "lintian exited %d: %s" % (r.returncode, r.stderr[-500:]))


def check_installed():
    files = set(sh("dpkg", "-L", PKG).stdout.split())
    for f in WANT_FILES:
        want(f in files and os.path.isfile(f), "%s not installed" % f)
    conf = sh("dpkg-query", "-W", "-f=${Conffiles}", PKG).stdout
    listed = {l.split()[0] for l in conf.splitlines() if l.strip()}
    want(listed == WANT_CONFFILES, "conffiles %s, want %s" % (listed, WANT_CONFFILES))
    want(user_exists(USER) and group_exists(USER), "no system user/group %s" % USER)
    if user_exists(USER):
        u = pwd.getpwnam(USER)
        want(u.pw_uid < 1000, "%s has uid %d, want a system uid" % (USER, u.pw_uid))
        want(u.pw_shell in ("/usr/sbin/nologin", "/bin/false"), "%s has shell %s" % (USER, u.pw_shell))
    r = sh("systemd-analyze", "verify", UNIT, check=False)
    # Offline (no systemd as PID 1) verify still parses every directive;
    # what it says about the missing manager is not about the unit.
    msgs = [l for l in (r.stdout + r.stderr).splitlines()
            if l.strip() and "halfopen_exporter" in l]
    want(r.returncode == 0 and not msgs, "systemd-analyze verify: rc %d: %s" % (
        r.returncode, (r.stdout + r.stderr).strip()))
    print("systemd-analyze verify %s: rc %d %s" % (UNIT, r.returncode, (r.stdout + r.stderr).strip()))
    unit = open(UNIT).read()
    want("User=%s" % USER in unit and "ExecStart=/usr/bin/halfopen_exporter $ARGS" in unit,
         "the unit does not run /usr/bin/halfopen_exporter $ARGS as %s" % USER)
    return files


def run_installed():
    """The installed binary, with /etc/default's ARGS and the installed
    config, as the unit runs it (its user, its two ambient capabilities),
    in a namespace of our own; scraped."""
    args = sh("sh", "-c", ". /etc/default/halfopen_exporter; printf %s \"$ARGS\"").stdout
    want("--config.file=/etc/halfopen_exporter/config.yml" in args,
         "/etc/default/halfopen_exporter's ARGS lack the installed config: %r" % args)
    ns = "ho-pkg-%d" % os.getpid()
    sh("ip", "netns", "add", ns)
    proc = None
    try:
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        caps = "+sys_admin,+sys_ptrace"
        cmd = ["ip", "netns", "exec", ns, "setpriv", "--reuid=" + USER, "--regid=" + USER,
               "--init-groups", "--inh-caps=" + caps, "--ambient-caps=" + caps,
               "/usr/bin/halfopen_exporter"] + shlex.split(args) + [
               "--web.listen-address=127.0.0.1:19100", "--collector.interval=1s"]
        log = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        body = None
        for _ in range(50):
            r = sh("ip", "netns", "exec", ns, "curl", "-sf", "--max-time", "2",
                   "http://127.0.0.1:19100/metrics", check=False)
            if r.returncode == 0 and "halfopen_collections_total" in r.stdout:
                body = r.stdout
                break
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        log.seek(0)
        out = log.read()
        if want(body is not None, "no /metrics from the installed binary; it said:\n" + out):
            want("halfopen_build_info{" in body, "no halfopen_build_info")
            want('tcp_service="postgres"' in body,
                 "the installed config's services are not on /metrics")
            want(re.search(r"^halfopen_collection_errors_total 0$", body, re.M),
                 "collections failed")
            st = open("/proc/%d/status" % proc.pid).read()
            uid = int(re.search(r"^Uid:\s+(\d+)", st, re.M).group(1))
            want(uid == pwd.getpwnam(USER).pw_uid, "the exporter ran as uid %d" % uid)
            print("installed binary served %d lines as %s; log:\n%s" % (
                len(body.splitlines()), USER, out))
    finally:
        if proc:
            stop_process(proc, timeout=10)
        sh("ip", "netns", "del", ns, check=False)


def check_purged(files):
    want(not installed(), "still known to dpkg after purge")
    # Its files, and its own directories (shared ones like /usr/bin stay).
    left = [f for f in sorted(files) if os.path.lexists(f)
            and (not os.path.isdir(f) or "halfopen" in f)]
    want(not left, "left after purge: %s" % left)
    want(not user_exists(USER), "user %s left after purge" % USER)
    want(not group_exists(USER), "group %s left after purge" % USER)
    for d in ("/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
              "/var/lib/systemd/deb-systemd-helper-masked"):
        r = sh("find", d, "-name", "*halfopen*", check=False)
        want(not r.stdout.strip(), "unit state left after purge: %s" % r.stdout.strip())


def main():
    testlib.require_root("installing a package")
    if installed() or user_exists(USER):
        testlib.skip("%s or the user %s exist already; not ours to purge" % (PKG, USER))
    deb = build()
    if deb:
        check_lintian(deb)
        r = sh("dpkg", "-i", deb, check=False)
        files = set()
        try:
            if want(r.returncode == 0, "dpkg -i: %s" % (r.stdout + r.stderr)):
                files = check_installed()
                run_installed()
        finally:
            r = sh("dpkg", "--purge", PKG, check=False)
            want(r.returncode == 0, "dpkg --purge: %s" % (r.stdout + r.stderr))
        check_purged(files)
    print("FAILED: %d" % len(failures) if failures else
          "ok: built, lintian-clean, installed, ran, purged without a trace")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
