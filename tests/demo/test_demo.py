#!/usr/bin/env python3
"""`scripts/dev demo`, run as a newcomer would, then interrupted as with
Ctrl-C: it must show the seed (the client stale, then retransmitting, with
the hang's age) and leave nothing behind either way: no namespace, no
process it started.

Needs root (network namespaces, iptables); without it, testlib.skip()."""
import os
import re
import signal
import subprocess
import sys
import time

SOURCE_ROOT = os.environ["HALFOPEN_SOURCE_ROOT"]
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tests", "scenario"))
import testlib  # noqa: E402
failures = []


def want(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def left_behind(out):
    """The demo's namespace and processes that still exist."""
    left = []
    m = re.search(r"namespace (ho-demo-\d+)", out)
    if m and m.group(1) in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                           text=True).stdout.split():
        left.append("namespace " + m.group(1))
    for pid in re.findall(r"pid (\d+)", out):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            continue
        if "nc " in cmd or "halfopen_exporter" in cmd:
            left.append("process %s (%s)" % (pid, cmd.strip()))
    return left


def demo():
    return subprocess.Popen([os.path.join(SOURCE_ROOT, "scripts/dev"), "demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, cwd=SOURCE_ROOT)


def full_run():
    t0 = time.monotonic()
    p = demo()
    out, _ = p.communicate(timeout=90)
    took = time.monotonic() - t0
    print(out)
    print("demo took %.1f s (including scripts/deps.sh demo)" % took)
    want(p.returncode == 0, "demo exited %d" % p.returncode)
    for what in ('halfopen_established_sockets{tcp_service="seed-client"',
                 'halfopen_stale_sockets{tcp_service="seed-client"',
                 'halfopen_retransmitting_sockets{tcp_service="seed-server"',
                 'halfopen_retransmitting_sockets{tcp_service="seed-client"',
                 'halfopen_longest_unanswered_seconds{tcp_service="seed-client"',
                 "demo: OK", "cleaned up"):
        want(what in out, "demo output lacks %s" % what)
    # Order: stale before the client retransmits.
    stale = out.find('halfopen_stale_sockets{tcp_service="seed-client"')
    retr = out.find('halfopen_retransmitting_sockets{tcp_service="seed-client"')
    want(0 <= stale < retr, "the client went stale after it retransmitted, or never")
    want(took < 60, "demo took %.1f s, want well under a minute" % took)
    left = left_behind(out)
    want(not left, "left behind after a full run: %s" % left)


def interrupted_run():
    p = demo()
    out = ""
    deadline = time.monotonic() + 60
    for line in p.stdout:
        out += line
        if "2. the network loses the client" in line or time.monotonic() > deadline:
            break
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    rest, _ = p.communicate(timeout=30)
    out += rest
    print(out)
    want(p.returncode != 0, "an interrupted demo exited 0")
    want("cleaned up" in out, "an interrupted demo did not clean up")
    time.sleep(0.5)
    left = left_behind(out)
    want(not left, "left behind after Ctrl-C: %s" % left)


def main():
    testlib.require_root("network namespaces, iptables")
    full_run()
    interrupted_run()
    print("FAILED: %d" % len(failures) if failures else "ok: the demo shows the seed and cleans up")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
