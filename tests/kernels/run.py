#!/usr/bin/env python3
"""Test `kernels_<line>` (suite `kernels`): the built exporter on a Debian
kernel, booted under qemu-system-x86_64 with TCG (vm.py), the checks run
inside by guest.py.

    python3 tests/kernels/run.py 6.1|5.10|6.12|7.x     (root)

What each kernel must do follows from its version (never from the
exporter's view of it):
  - every kernel: collection shows the seed's states (stale, retransmitting,
    checked against ss), a true SYN-SENT age, destroy_after resets a
    hanging socket in time, --collector.netns=all counts a connection in a
    second namespace;
  - enforce (keepalive armed: ss timer:(keepalive), a vanished peer reset
    within idle + count x interval; user_timeout: a pending request on a
    black-holed peer fails within the bound; netns=all) where the kernel
    can do it, else a refusal at start with the exporter's reason.
    bpf_getsockopt reads the options from 6.1; CO-RE field reads (the
    exporter's --enforce.read-path=fields) from 5.15. When the exporter's
    --help lists --enforce.read-path, the enforce checks run with the
    default path and again with each explicit path (a path the kernel
    cannot do must be refused at start). The explicit paths run on 6.1, the
    oldest Debian kernel where both exist; other kernels run the default.
Prints each check with its time and the kernel's boot/total times; the last
line is "1 passed, 0 failed" or "0 passed, 1 failed"; exit 77 (1 under
CI=true, testlib.skip) when the kernel cannot be fetched (no archive,
nothing cached), qemu is missing or not root.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402
import vm  # noqa: E402

SOURCE_ROOT = os.environ.get("HALFOPEN_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
READ_PATH_SINCE = {"fields": (5, 15), "getsockopt": (6, 1)}
BOOT_TIMEOUT = 600


def exporter():
    p = os.environ.get("HALFOPEN_EXPORTER") or os.path.join(SOURCE_ROOT, "build",
                                                             "halfopen_exporter")
    return os.path.abspath(p)


def has_read_path_flag(exe):
    cp = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
    return "--enforce.read-path" in cp.stdout + cp.stderr


def plan(version, read_path_flag, explicit_paths=True):
    """The checks (dicts for guest.py) for a kernel of version: what it can
    enforce runs, what it cannot must be refused at start. explicit_paths:
    also each --enforce.read-path (when the exporter has the flag)."""
    checks = [dict(id=k, kind=k) for k in ("collection", "syn_sent", "netns_all", "destroy_after")]
    default_since = READ_PATH_SINCE["fields"] if read_path_flag else READ_PATH_SINCE["getsockopt"]
    runs = [(None, version >= default_since, ("keepalive", "user_timeout", "netns_all"))]
    if read_path_flag and explicit_paths:
        for path, since in READ_PATH_SINCE.items():
            runs.append((path, version >= since, ("keepalive", "user_timeout")))
    for path, supported, kinds in runs:
        suffix = "" if path is None else "[%s]" % path
        if supported:
            checks += [dict(id="enforce_%s%s" % (k, suffix), kind="enforce_" + k, read_path=path)
                       for k in kinds]
        else:
            checks.append(dict(id="enforce_refused" + suffix, kind="enforce_refused",
                               read_path=path))
    return checks


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in vm.KERNELS:
        print("usage: run.py {%s}" % "|".join(vm.KERNELS), file=sys.stderr)
        return 2
    name = sys.argv[1]
    # meson's timeout and Ctrl-C unwind, so vm.boot's finally kills qemu
    # (it runs in its own session).
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda n, _f: sys.exit("killed by signal %d" % n))
    testlib.require_root("qemu's 9p export of /, namespaces in the guest")
    for tool in ("qemu-system-x86_64", "apt-get", "dpkg-deb", "depmod", "cpio"):
        if not shutil.which(tool):
            testlib.skip("%s not installed (scripts/deps.sh test)" % tool)
    if not os.path.exists("/bin/busybox"):
        testlib.skip("busybox-static not installed (scripts/deps.sh test)")
    exe = exporter()
    t0 = time.monotonic()
    try:
        k = vm.prepare(name)
    except vm.KernelUnavailable as e:
        testlib.skip("kernel %s: %s" % (name, e))
    t_fetch = time.monotonic() - t0
    version = vm.version_of(k["release"])
    read_path_flag = has_read_path_flag(exe)
    checks = plan(version, read_path_flag, vm.KERNELS[name].get("read_paths", False))
    print("kernel %s: %s %s (%s, %s); exporter %s; --enforce.read-path %s" % (
        name, k["package"], k["package_version"], k["release"], k["distro"], exe,
        "listed" if read_path_flag else "not listed"))
    spec = dict(source_root=SOURCE_ROOT, exporter=exe, modroot=k["root"],
                modules=vm.GUEST_MODULES, checks=checks)
    res, t_init, t_total = vm.boot(k, spec, lambda l: print("  | " + l, flush=True), BOOT_TIMEOUT)
    failures = []
    print("\nkernel %s (%s): guest init at %s, whole boot + checks %.1fs (fetch/cache %.1fs)" % (
        name, k["release"], "%.1fs" % t_init if t_init is not None else "never", t_total, t_fetch))
    if res is None:
        failures.append("the guest wrote no results (see its console above)")
        res = {"checks": {}}
    elif res.get("release") != k["release"]:
        failures.append("booted %s, want %s" % (res.get("release"), k["release"]))
    if res.get("modprobe"):
        failures.append("modprobe of %s: %s" % (" ".join(vm.GUEST_MODULES), res["modprobe"]))
    for c in checks:
        r = res["checks"].get(c["id"])
        if r is None:
            failures.append("%s: did not run" % c["id"])
            print("  %-30s did not run" % c["id"])
            continue
        print("  %-30s %-6s %6.1fs %s" % (c["id"], "ok" if r["ok"] else "FAILED", r["seconds"],
                                          ("refused: " + r["reason"]) if r.get("reason") else ""))
        if not r["ok"]:
            failures.append("%s: %s" % (c["id"], r["message"]))
    for f in failures:
        print("FAIL " + f)
    ok = not failures
    print("%s kernels_%s (%.1fs)" % ("PASS" if ok else "FAIL", name, time.monotonic() - t0))
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
