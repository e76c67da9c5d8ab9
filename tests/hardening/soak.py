"""Suite `hardening`: soak. Thousands of collections with sockets opening and
closing between them; RSS and open descriptors must stay flat.

The exporter runs at --collector.interval=100ms in a network namespace while
churn.py opens and closes ~600 connections a second there. Every ~10 s: the
number of collections so far, VmRSS and the number of open descriptors of the
exporter. After a warm-up of WARMUP collections, RSS may grow by less than
1 MiB and the descriptor count must not change. Runs until COLLECTIONS
collections (about 4 minutes). Prints the samples and `N passed, M failed`.
Needs root.
"""
import os
import subprocess
import sys
import time

import hlib
from hlib import testlib

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = int(os.environ.get("SOAK_COLLECTIONS", "2000"))
WARMUP = int(os.environ.get("SOAK_WARMUP", "300"))
SAMPLE_S = 10
MAX_RSS_GROWTH_KIB = 1024


def rss_kib(pid):
    return testlib.rss_kib(pid) or -1


def nfds(pid):
    """Descriptors the exporter holds between operations: the fewest of a
    few looks 20 ms apart. The collector opens /proc files for a moment
    every collection (100 ms here), so one look can catch one open; a leak
    raises every look."""
    looks = []
    for _ in range(5):
        looks.append(len(os.listdir("/proc/%d/fd" % pid)))
        time.sleep(0.02)
    return min(looks)


def private_ehash_netns(parent):
    """A namespace with a TCP hash table of its own (Linux >= 6.1): made from
    parent with net.ipv4.tcp_child_ehash_entries set, so sockets elsewhere on
    the machine (other tests, a benchmark) do not slow its dumps down, and
    the collection rate depends on its own sockets only. On older kernels
    the sysctl fails and it is an ordinary namespace."""
    cp = parent.exec(["sysctl", "-qw", "net.ipv4.tcp_child_ehash_entries=16384"], check=False)
    print("  private TCP hash table: %s" % ("yes" if cp.returncode == 0 else "no (old kernel)"))
    ns = testlib.Netns("soak")

    def create():
        # nsenter, not `ip netns exec`: the new namespace's bind mount must
        # be made in this mount namespace, not a throwaway one.
        testlib.run(["nsenter", "--net=/run/netns/" + parent.name, "ip", "netns", "add",
                     ns.name])
        ns._created = True
        testlib.run(["ip", "-n", ns.name, "link", "set", "lo", "up"])

    ns.create = create
    return ns


def main():
    testlib.install_signal_handlers()
    r = hlib.Runner()
    samples = []
    with testlib.Netns("soakp") as parent, private_ehash_netns(parent) as ns:
        with testlib.Exporter(ns, None, interval="100ms") as exp:
            pid = exp.proc.pid
            budget = COLLECTIONS * 0.2 + 120
            churn = ns.popen([sys.executable, os.path.join(HERE, "churn.py"), str(budget)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
            t0 = time.monotonic()
            n = 0
            while n < COLLECTIONS and time.monotonic() - t0 < budget:
                time.sleep(SAMPLE_S)
                assert churn.poll() is None, "churn died: %s" % churn.stdout.read()
                fds = nfds(pid)  # before the scrape opens a connection
                rss = rss_kib(pid)
                s = exp.samples()
                n = int(s.value("halfopen_collections_total") or 0)
                errs = int(s.value("halfopen_collection_errors_total") or 0)
                seen = int(s.value("halfopen_collection_sockets") or
                           s.value("halfopen_last_collection_sockets") or 0)
                samples.append((time.monotonic() - t0, n, rss, fds, errs, seen))
                print("  t=%5.0fs collections=%5d rss=%6d KiB fds=%3d errors=%d sockets=%d" % (
                    samples[-1]), flush=True)
            churn.kill()
            churn.wait()
            warm = [x for x in samples if x[1] >= WARMUP]

            def enough():
                assert n >= COLLECTIONS, "only %d collections in %.0fs" % (n, budget)
                assert len(warm) >= 3, "too few samples after warm-up: %d" % len(warm)

            def rss_flat():
                rs = [x[2] for x in warm]
                print("figures: RSS after warm-up %d..%d KiB (growth %d KiB over %d collections)"
                      % (min(rs), max(rs), rs[-1] - rs[0], warm[-1][1] - warm[0][1]))
                assert max(rs) - rs[0] < MAX_RSS_GROWTH_KIB, "RSS grew %d KiB" % (max(rs) - rs[0])

            def fds_flat():
                fs = [x[3] for x in warm]
                print("figures: open descriptors after warm-up %d..%d" % (min(fs), max(fs)))
                assert min(fs) == max(fs), "descriptors changed: %s" % fs

            def no_errors():
                assert samples[-1][4] == 0, "collection errors: %d" % samples[-1][4]

            if r.check("%d collections ran" % COLLECTIONS, enough):
                r.check("RSS flat (< 1 MiB growth after warm-up)", rss_flat)
                r.check("open descriptors constant after warm-up", fds_flat)
            r.check("no collection errors under churn", no_errors)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
