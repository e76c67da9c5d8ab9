"""Suite `hardening`: the capabilities of the running exporter.

Started as root in a network namespace (host-namespace mode), the exporter
must end up with no capability at all in any thread (CapEff, CapPrm, CapInh,
CapAmb, CapBnd all 0; NoNewPrivs 1), say so in its log, and still collect and
serve. With --runas.user=nobody it must also run as uid/gid 65534. Reads
/proc/<pid>/task/*/status. Needs root; prints `N passed, M failed`.
"""
import os
import sys

import hlib
from hlib import testlib


def task_status(pid):
    """{tid: {key: value}} for every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        d = {}
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k] = v.strip()
        out[tid] = d
    return out


def check_no_caps(exp, uid):
    tasks = task_status(exp.proc.pid)
    assert len(tasks) >= 3, "expected the HTTP threads too: %d threads" % len(tasks)
    for tid, st in tasks.items():
        for k in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
            assert int(st[k], 16) == 0, "thread %s %s=%s" % (tid, k, st[k])
        assert st["NoNewPrivs"] == "1", "thread %s NoNewPrivs=%s" % (tid, st["NoNewPrivs"])
        uids = st["Uid"].split()
        gids = st["Gid"].split()
        assert uids == [str(uid)] * 4, "thread %s Uid %s" % (tid, uids)
        assert gids == [str(uid)] * 4, "thread %s Gid %s" % (tid, gids)
    st = next(iter(tasks.values()))
    print("  pid %d, %d threads: Uid %s CapEff %s CapPrm %s CapBnd %s NoNewPrivs %s" % (
        exp.proc.pid, len(tasks), st["Uid"].split()[0], st["CapEff"], st["CapPrm"],
        st["CapBnd"], st["NoNewPrivs"]))


def check_log(exp, user):
    text = exp._read_stderr()
    line = [l for l in text.splitlines() if "Privileges dropped" in l]
    assert line, "no 'Privileges dropped' line\n" + text
    assert 'capabilities="="' in line[0] and "no_new_privs=true" in line[0], line[0]
    assert user in line[0], line[0]
    print("  | " + line[0])


def check_serves(exp):
    s = exp.wait_for(lambda s: (s.value("halfopen_collections_total") or 0) >= 2, timeout=10,
                     what="two collections")
    assert (s.value("halfopen_collection_errors_total") or 0) == 0, "collections fail unprivileged"


def main():
    testlib.install_signal_handlers()
    r = hlib.Runner()
    with testlib.Netns("priv") as ns:
        with testlib.Exporter(ns, None, interval="200ms") as exp:
            r.check("root start: no capability left in any thread", check_no_caps, exp, 0)
            r.check("root start: logged", check_log, exp, "uid 0 gid 0")
            r.check("root start: collects and serves", check_serves, exp)
        with testlib.Exporter(ns, None, interval="200ms",
                              extra_args=["--runas.user=nobody"]) as exp:
            r.check("--runas.user=nobody: uid/gid 65534, no capability", check_no_caps, exp,
                    65534)
            r.check("--runas.user=nobody: logged", check_log, exp, "uid 65534 gid 65534")
            r.check("--runas.user=nobody: collects and serves", check_serves, exp)

        def unknown_user():
            cp = ns.exec([testlib.exporter_binary(), "--runas.user=no-such-user-ho",
                          "--web.listen-address=127.0.0.1:%d" % ns.free_port()],
                         check=False, timeout=10)
            assert cp.returncode == 1, "exit %d" % cp.returncode
            assert "unknown user" in cp.stdout + cp.stderr, cp.stdout + cp.stderr

        r.check("unknown --runas.user: exit 1 with the reason", unknown_user)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
