#!/usr/bin/env python3
"""pods_e2e: --collector.netns=all on a node laid out like a kubelet's (root).

    python3 tests/kubernetes/pods_e2e.py [--no-cost]

Builds "pods" the way a Kubernetes node has them, without Kubernetes:
  - a cgroup2 mount of the test's own at <root>/sys/fs/cgroup, with
    kubelet-style cgroups (systemd and cgroupfs drivers, every QoS class)
    under a private parent, and each pod's processes placed in its cgroup;
  - <root>/var/log/pods/<namespace>_<name>_<uid> for every pod;
  - one network namespace per pod (ip netns), one of them also pinned in
    <root>/var/run/netns like the CNI does, plus a namespace known only by
    that pin (no process in it);
  - a hostNetwork "pod": a process in the host namespace in its own pod
    cgroup, attributed through INET_DIAG_CGROUP_ID.
Then halfopen_exporter runs in the host namespace with
--collector.netns=all --collector.pod-labels and --collector.netns.dir,
--collector.pod-logs-dir and --path.sysfs pointing into <root>, and must
report:
  - a half-open connection (peer gone silent, data retransmitted) inside
    pod shop/web-0 under its service, with namespace="shop", pod="web-0";
  - connections of the other pods under their namespace and pod;
  - the hostNetwork pod's connection under its namespace and pod;
  - the pinned-only namespace's sockets;
and it holds exactly one sock_diag socket inside a pod's namespace, the
same one across collections; when pod batch/worker-7f9c is deleted mid-run,
its series disappear and that socket is closed.

Finally (unless --no-cost) it measures halfopen_collection_duration_seconds
and the exporter's RSS with 1, 10 and 50 extra namespaces.

Exit 77 (skipped) when not root. Last line "N passed, M failed".
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402
from testlib import (VETH_V4, Exporter, Netns, ScenarioFailure,  # noqa: E402
                     install_signal_handlers, kill_groups, run, wait_until)

BACKEND_PORT = 15432
QUEUE_PORT = 15672
CACHE_PORT = 16379
ORPHAN_PORT = 17000
HOSTNET_PORT = 16443

CONFIG = """\
defaults:
  stale_after: 1h
  listening_ports: false
  unmatched: ignore
services:
  - {name: backend, direction: outbound, ports: [%d]}
  - {name: queue, direction: outbound, ports: [%d]}
  - {name: cache, direction: outbound, ports: [%d]}
  - {name: orphan, direction: outbound, ports: [%d]}
  - {name: apiserver, direction: outbound, ports: [%d]}
""" % (BACKEND_PORT, QUEUE_PORT, CACHE_PORT, ORPHAN_PORT, HOSTNET_PORT)



class HostNs:
    """The host network namespace with the interface testlib.Exporter uses."""

    name = "host"

    def __init__(self):
        self.procs = []

    def popen(self, args, **kw):
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen([str(a) for a in args], **kw)
        self.procs.append(p)
        return p

    def socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM):
        return socket.socket(family, type)

    def free_port(self, addr="127.0.0.1"):
        s = socket.socket()
        s.bind((addr, 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def ss_text(self, filt=""):
        cp = run(["ss", "-tnoi", "state", "all"] + filt.split(), check=False)
        return cp.stdout

    def destroy(self):
        kill_groups(self.procs)
        for p in self.procs:
            p.wait()
        self.procs = []


class Node:
    """The temp root: cgroup2 mount, pod logs, netns pins. Context manager."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="ho-pods-")
        self.root = os.path.join(self.tmp, "root")
        self.cgroup = os.path.join(self.root, "sys/fs/cgroup")
        self.pod_logs = os.path.join(self.root, "var/log/pods")
        self.netns_dir = os.path.join(self.root, "var/run/netns")
        # Under a parent of our own, so a real node's kubepods are untouched.
        self.parent = "ho-e2e-%d.slice" % os.getpid()
        self.cgroups = []  # made by us, removed deepest first
        self.pins = []
        self.mounted = False

    def __enter__(self):
        for d in (self.cgroup, self.pod_logs, self.netns_dir):
            os.makedirs(d)
        run(["mount", "-t", "cgroup2", "none", self.cgroup])
        self.mounted = True
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def mkcgroup(self, rel):
        path = self.cgroup
        for part in [self.parent] + rel.split("/"):
            path = os.path.join(path, part)
            if not os.path.isdir(path):
                os.mkdir(path)
                self.cgroups.append(path)
        return path

    def pin(self, ns, name):
        """Bind-mount ns under netns_dir/name, as the CNI pins a sandbox."""
        dst = os.path.join(self.netns_dir, name)
        open(dst, "w").close()
        run(["mount", "--bind", "/run/netns/" + ns.name, dst])
        self.pins.append(dst)
        return dst

    def unpin(self, dst):
        run(["umount", dst], check=False)
        try:
            os.unlink(dst)
        except OSError:
            pass
        if dst in self.pins:
            self.pins.remove(dst)

    def cleanup(self):
        for dst in list(self.pins):
            self.unpin(dst)
        for path in reversed(self.cgroups):
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)  # its processes are still being reaped
        self.cgroups = []
        if self.mounted:
            run(["umount", self.cgroup], check=False)
            self.mounted = False
        shutil.rmtree(self.tmp, ignore_errors=True)


class Pod:
    """A pod: uid, cgroup like kubelet's, log directory, optional netns."""

    def __init__(self, node, namespace, name, driver, qos):
        self.node, self.namespace, self.name = node, namespace, name
        self.uid = str(uuid.uuid4())
        ctr = uuid.uuid4().hex + uuid.uuid4().hex
        if driver == "systemd":
            esc = self.uid.replace("-", "_")
            if qos == "guaranteed":
                rel = "kubepods.slice/kubepods-pod%s.slice" % esc
            else:
                rel = "kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice" % (qos, qos, esc)
            rel += "/cri-containerd-%s.scope" % ctr
        else:
            rel = "kubepods/%spod%s/%s" % ("" if qos == "guaranteed" else qos + "/", self.uid, ctr)
        self.cgroup = node.mkcgroup(rel)
        os.mkdir(os.path.join(node.pod_logs, "%s_%s_%s" % (namespace, name, self.uid)))

    def join(self, pid):
        with open(os.path.join(self.cgroup, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def pause(self, ns):
        """The sandbox's first process: sleeps in ns, in the pod's cgroup."""
        p = ns.popen(["sh", "-c", "echo $$ > %s/cgroup.procs && exec sleep 3600" % self.cgroup])
        wait_until(lambda: _in_cgroup(p.pid, self.cgroup), 5, "pause of %s in its cgroup" % self.name)
        return p

    def loopback_connection(self, ns, port):
        """A server on 127.0.0.1:port in ns and a client connected to it,
        both in the pod's cgroup; returns once the client is connected."""
        srv = ns.peer("server", "--addr", "127.0.0.1", "--port", port)
        srv.expect("LISTEN")
        cli = ns.peer("client", "--addr", "127.0.0.1", "--port", port)
        self.join(srv.proc.pid)
        self.join(cli.proc.pid)
        cli.expect("CONNECTED")

    def labels(self):
        return {"namespace": self.namespace, "pod": self.name}


def _in_cgroup(pid, path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return str(pid) in f.read().split()
    except OSError:
        return False


def socket_inodes(pid):
    """Inodes of the sockets pid holds."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[8:-1]))
    return out


def sock_diag_inodes(ns):
    """Inodes of the NETLINK_SOCK_DIAG (protocol 4) sockets that live in
    ns, whoever holds them (/proc/net/netlink as seen from inside)."""
    lines = ns.exec(["cat", "/proc/net/netlink"]).stdout.splitlines()[1:]
    return {int(f[-1]) for f in (l.split() for l in lines) if len(f) >= 10 and f[1] == "4"}


class Result:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, fn):
        try:
            fn()
            self.passed += 1
            print("ok   " + what)
        except ScenarioFailure as e:
            self.failed += 1
            print("FAIL " + what + "\n" + str(e))


def has_pod_series(s, pod):
    return any(dict(k[1]).get("pod") == pod.name and dict(k[1]).get("namespace") == pod.namespace
               for k in s)


def scenario(res, node, cost):
    host = HostNs()
    stack = []
    try:
        web = Pod(node, "shop", "web-0", "systemd", "burstable")
        worker = Pod(node, "batch", "worker-7f9c", "cgroupfs", "besteffort")
        cache = Pod(node, "data", "cache-0", "systemd", "guaranteed")
        agent = Pod(node, "kube-system", "node-agent-x2x9q", "cgroupfs", "guaranteed")

        # web-0: a client whose backend (another namespace, over veth) goes
        # silent: the connection is half-open and the client retransmits.
        web_ns = Netns("pod", veth=True)
        stack.append(web_ns)
        web_ns.create()
        web.pause(web_ns)
        srv = web_ns.peer_ns.peer("server", "--addr", VETH_V4[1], "--port", BACKEND_PORT)
        srv.expect("LISTEN")
        cli = web_ns.peer("client", "--addr", VETH_V4[1], "--port", BACKEND_PORT)
        web.join(cli.proc.pid)
        cli.expect("CONNECTED")

        # worker-7f9c: a connection inside its namespace; deleted later.
        worker_ns = Netns("pod")
        stack.append(worker_ns)
        worker_ns.create()
        worker.pause(worker_ns)
        worker.loopback_connection(worker_ns, QUEUE_PORT)

        # cache-0: pinned in netns_dir too, as the CNI does.
        cache_ns = Netns("pod")
        stack.append(cache_ns)
        cache_ns.create()
        cache.pause(cache_ns)
        node.pin(cache_ns, "cni-" + str(uuid.uuid4()))
        cache.loopback_connection(cache_ns, CACHE_PORT)

        # A namespace no process is in, known only by its pin: its sockets
        # are held by this test process (created there from a thread).
        orphan_ns = Netns("orph")
        stack.append(orphan_ns)
        orphan_ns.create()
        node.pin(orphan_ns, "cni-" + str(uuid.uuid4()))
        ols = orphan_ns.socket()
        ols.bind(("127.0.0.1", ORPHAN_PORT))
        ols.listen(4)
        olc = orphan_ns.socket()
        olc.connect(("127.0.0.1", ORPHAN_PORT))
        olc_peer, _ = ols.accept()

        # node-agent: hostNetwork, so only its socket's cgroup tells whose
        # it is. It joins the cgroup before creating the socket.
        hls = socket.socket()
        hls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hls.bind(("127.0.0.1", HOSTNET_PORT))
        hls.listen(4)
        agent_proc = host.popen([sys.executable, "-c", (
            "import socket, sys, time\n"
            "open(sys.argv[1] + '/cgroup.procs', 'w').write('0')\n"
            "s = socket.create_connection(('127.0.0.1', %d))\n"
            "print('CONNECTED', flush=True)\n"
            "time.sleep(3600)\n") % HOSTNET_PORT, agent.cgroup], stdout=subprocess.PIPE, text=True)
        if agent_proc.stdout.readline().strip() != "CONNECTED":
            raise ScenarioFailure("hostNetwork agent did not connect")
        hconn, _ = hls.accept()

        args = ["--collector.netns=all", "--collector.pod-labels", "--path.procfs=/proc",
                "--path.sysfs=" + os.path.join(node.root, "sys"),
                "--collector.netns.dir=" + node.netns_dir,
                "--collector.pod-logs-dir=" + node.pod_logs]
        # The first collection covers every namespace of the machine: on a
        # machine busy with other tests it can take long, and so can every
        # later one. Waits are scaled by what it took.
        with Exporter(host, CONFIG, interval="1s", extra_args=args, ready_timeout=180) as exp:
            took = exp.samples().value("halfopen_collection_duration_seconds") or 0
            t = max(15.0, 3 * took + 10)
            if took > 1:
                print("note: a collection takes %.1fs here (a busy machine): waits of %.0fs"
                      % (took, t))
            def first_pass():
                exp.wait_for(lambda s: (s.value("halfopen_established_sockets", tcp_service="backend",
                                                direction="outbound", **web.labels()) or 0) >= 1,
                             t, "web-0's backend connection under namespace=shop, pod=web-0")
            res.check("pod netns discovered, socket attributed to shop/web-0", first_pass)

            # The backend goes silent; the client's data is retransmitted.
            web_ns.peer_ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", str(BACKEND_PORT),
                                    "-j", "DROP")
            cli.send("send 1000")
            cli.expect("SENT")

            def half_open():
                exp.wait_for(lambda s: (s.value("halfopen_retransmitting_sockets",
                                                tcp_service="backend", direction="outbound",
                                                **web.labels()) or 0) >= 1,
                             t, "half-open backend connection retransmitting in shop/web-0")
            res.check("half-open connection in shop/web-0 reported under its service and pod",
                      half_open)

            def others():
                exp.wait_for(lambda s: all((s.value("halfopen_established_sockets", tcp_service=svc,
                                                    direction="outbound", **p.labels()) or 0) >= 1
                                           for svc, p in (("queue", worker), ("cache", cache))),
                             t, "queue in batch/worker-7f9c and cache in data/cache-0 (pinned)")
            res.check("cgroupfs and systemd-driver pods attributed (worker-7f9c, cache-0)", others)

            def hostnet():
                exp.wait_for(lambda s: (s.value("halfopen_established_sockets",
                                                tcp_service="apiserver", direction="outbound",
                                                **agent.labels()) or 0) == 1,
                             t, "hostNetwork agent's socket under kube-system/node-agent-x2x9q")
            res.check("hostNetwork pod's socket attributed through its cgroup id", hostnet)

            def orphan():
                exp.wait_for(lambda s: sum(v for k, v in s.series("halfopen_established_sockets",
                                                                  tcp_service="orphan").items()) >= 1,
                             t, "sockets of the namespace known only by its netns_dir pin")
            res.check("namespace pinned in netns_dir without processes is dumped", orphan)

            # The exporter's handle inside worker-7f9c: exactly one, kept
            # across collections (opened once, not per collection).
            held = {}

            def one_handle():
                held["ino"] = sock_diag_inodes(worker_ns) & socket_inodes(exp.proc.pid)
                if len(held["ino"]) != 1:
                    raise ScenarioFailure("exporter holds %d sock_diag sockets in the worker "
                                          "namespace, want 1" % len(held["ino"]))
                start = exp.samples().value("halfopen_collections_total")
                exp.wait_for(lambda s: s.value("halfopen_collections_total") >= start + 2, t,
                             "two more collections")
                if not held["ino"] <= socket_inodes(exp.proc.pid):
                    raise ScenarioFailure("the handle in the worker namespace was reopened")
            res.check("one netlink socket per namespace, kept across collections", one_handle)

            # Delete worker-7f9c: processes gone, namespace deleted.
            worker_ns.destroy()
            stack.remove(worker_ns)

            def gone():
                exp.wait_for(lambda s: not has_pod_series(s, worker), t,
                             "every series of batch/worker-7f9c gone after the pod was deleted")
            res.check("deleted pod's series disappear", gone)

            def fd_closed():
                wait_until(lambda: not (held.get("ino", set()) & socket_inodes(exp.proc.pid)),
                           t, "the exporter to close its socket of the deleted namespace")
            res.check("deleted namespace's netlink descriptor closed", fd_closed)

            def others_stay():
                s = exp.samples()
                if not (has_pod_series(s, web) and has_pod_series(s, cache)):
                    raise ScenarioFailure("web-0 or cache-0 lost its series:\n" + s.report())
            res.check("the other pods keep their series", others_stay)

            if cost and took > 2:
                print("cost: not measured: the machine is busy (a collection took %.1fs "
                      "before any extra namespace)" % took)
            elif cost:
                # A measurement, not a check: a loaded machine makes it
                # slow or noisy, never wrong.
                try:
                    measure_cost(exp)
                except ScenarioFailure as e:
                    print("cost: not measured: %s" % str(e).splitlines()[0])
        olc.close()
        olc_peer.close()
        ols.close()
        hconn.close()
        hls.close()
    finally:
        for ns in reversed(stack):
            ns.destroy()
        host.destroy()


def measure_cost(exp):
    """Collection duration and RSS with N more namespaces (empty ones: the
    kernel's cost is the hash table walk, not the sockets)."""
    host = HostNs()
    rows = []
    try:
        have = 0
        for n in (1, 10, 50):
            while have < n:
                host.popen(["unshare", "--net", "sleep", "3600"])
                have += 1
            s = exp.samples()
            start = s.value("halfopen_collections_total") or 0
            exp.wait_for(lambda s: (s.value("halfopen_collections_total") or 0) >= start + 3, 30,
                         "3 collections with %d extra namespaces" % n)
            durations = []
            for _ in range(5):
                before = exp.samples().value("halfopen_collections_total")
                s = exp.wait_for(lambda s: s.value("halfopen_collections_total") > before, 10,
                                 "next collection")
                durations.append(s.value("halfopen_collection_duration_seconds"))
            rows.append((n, sum(durations) / len(durations) * 1000, max(durations) * 1000,
                         testlib.rss_kib(exp.proc.pid) / 1024))
    finally:
        host.destroy()
    print("cost of a collection (--collector.netns=all, interval 1s):")
    print("  extra namespaces  mean ms  max ms  RSS MiB")
    for n, mean, mx, rss in rows:
        print("  %16d  %7.1f  %6.1f  %7.1f" % (n, mean, mx, rss))


def main():
    cost = "--no-cost" not in sys.argv[1:]
    testlib.require_root("network namespaces, cgroup2 mount")
    install_signal_handlers()
    res = Result()
    try:
        with Node() as node:
            scenario(res, node, cost)
    except ScenarioFailure as e:
        res.failed += 1
        print("FAIL setup\n" + str(e))
    except Exception:
        res.failed += 1
        print("FAIL setup\n" + traceback.format_exc())
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
