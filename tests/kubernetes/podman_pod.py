#!/usr/bin/env python3
"""podman_pod: the DaemonSet's pod in a real container runtime (podman).

    python3 tests/kubernetes/podman_pod.py

Builds the image with deploy/build-image.sh (buildah, vfs, chroot
isolation, FROM scratch), takes the DaemonSet's pod template from
`kubectl kustomize deploy/kubernetes`, turns it into a Pod (kind and
metadata only; see pod_from_daemonset for the one thing podman 4.3 cannot
play) and plays it with `podman kube play`, next to a second pod with its
own network namespace that holds a half-open connection. Then checks, on
the running container:

  - hostNetwork and hostPID: the exporter's net and pid namespaces are the
    node's (this machine's);
  - the capabilities: CapEff/CapPrm of the exporter process are exactly
    the manifest's `add` list (drop ALL), uid = runAsUser;
  - the mounts: every volumeMount exists at its mountPath, read-only as
    written, the hostPaths are the node's directories, the ConfigMap's
    config.yml is the file the exporter reads, the root file system is
    read-only, HostToContainer propagation is a slave mount;
  - the probes: liveness on /-/healthy, readiness on /-/ready (read from
    the manifest), and /-/ready answers 503 until the first collection is
    published, 200 after. The first collection is held for a few seconds
    with strace's syscall delay injection on its /proc scan (attached to
    the container's `runc init` before it execs the exporter), so the
    "not ready" window is seen every run instead of by luck;
  - --collector.netns=all counts the other pod's half-open connection: the
    server in that pod writes to a client whose ACKs an iptables DROP in
    the pod's namespace eats (the port is a random low one, so its
    automatic listen_<port> service is this test's only);
  - a scrape on the ServiceMonitor's endpoint (port name -> Service port
    -> targetPort -> containerPort, and its path), read from the rendered
    objects.

Everything podman does lives in a temporary directory of the test
(containers.conf, storage.conf, registries.conf, storage, run and tmp
dirs, pointed to with CONTAINERS_CONF / CONTAINERS_STORAGE_CONF /
CONTAINERS_REGISTRIES_CONF): no global configuration is changed and no
registry is asked. Pods, containers, volumes, images and the directory go
on success and failure; so do the hostPath directories the pod created on
the node if they were not there before.

Needs root, podman, runc, catatonit, buildah, kubectl, strace, iptables,
nsenter and busybox-static (scripts/deps.sh test). Prints one line per
check and the time of each step; ends with "N passed, M failed". Exit 0
when all passed, 1 otherwise, 77 when a tool is missing (a failure under
CI=true, see scripts/dev).
"""
import glob
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deploy_test as dt  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402

# Linux capability numbers (linux/capability.h) of the names a manifest
# may add; the test fails on a name it does not know.
CAP_NUMBERS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4,
               "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10,
               "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14,
               "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19,
               "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24,
               "SYS_TIME": 25, "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31,
               "SYSLOG": 34, "BPF": 39, "PERFMON": 38, "CHECKPOINT_RESTORE": 40}

# How long the first collection is held (each of the two getdents64 calls
# of its /proc scan): long enough to see 503 on a busy machine.
HOLD_US = 2_500_000


class Stop(Exception):
    """A check failed that the rest depends on."""


def log(msg):
    print(msg, flush=True)


class Podman:
    """podman and buildah on a private store under root (a temp dir)."""

    def __init__(self, root):
        self.root = root
        self.conf = os.path.join(root, "conf")
        for d in ("conf", "storage", "run", "tmp", "net"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        self.storage_conf = self._write("storage.conf", """\
[storage]
driver = "vfs"
graphroot = "{root}/storage"
runroot = "{root}/run"
""")
        # Nothing is pulled: unqualified names resolve nowhere, and every
        # image this test uses is localhost/... in the store above.
        self.registries_conf = self._write("registries.conf", """\
unqualified-search-registries = []
short-name-mode = "enforcing"
""")
        # runc: Debian's crun fails here on hybrid cgroups and rlimits;
        # cgroupfs: this machine has no systemd; the ulimits: podman's
        # defaults exceed this machine's hard limits.
        base = """\
[containers]
{pidns}default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{root}/tmp/events.log"
tmp_dir = "{root}/tmp"
volume_path = "{root}/storage/volumes"

[network]
network_config_dir = "{root}/net"
"""
        self.conf_private = self._write("containers.conf", base.replace("{pidns}", ""))
        # podman 4.3 ignores a Pod's hostPID (kube play honours it from
        # podman 4.5): this file gives the pod's containers the node's PID
        # namespace instead, and is used only for a pod that asks hostPID.
        self.conf_hostpid = self._write("containers-hostpid.conf",
                                        base.replace("{pidns}", 'pidns = "host"\n'))

    def _write(self, name, text):
        path = os.path.join(self.conf, name)
        with open(path, "w") as f:
            f.write(text.replace("{root}", self.root))
        return path

    def env(self, hostpid=False):
        return dict(os.environ, CONTAINERS_CONF=self.conf_hostpid if hostpid else self.conf_private,
                    CONTAINERS_STORAGE_CONF=self.storage_conf,
                    CONTAINERS_REGISTRIES_CONF=self.registries_conf)

    def run(self, args, hostpid=False, timeout=120, check=True):
        cp = subprocess.run(["podman"] + args, capture_output=True, text=True, timeout=timeout,
                            env=self.env(hostpid))
        if check and cp.returncode != 0:
            raise RuntimeError("podman %s failed (rc=%d): %s" % (" ".join(args), cp.returncode,
                                                                 podman_errors(cp.stderr)))
        return cp

    def buildah(self, args, timeout=120):
        return dt.run(["buildah", "--storage-driver", "vfs",
                       "--root", os.path.join(self.root, "storage"),
                       "--runroot", os.path.join(self.root, "run")] + args, timeout=timeout)

    def pid(self, container):
        return int(self.run(["inspect", "--format", "{{.State.Pid}}", container]).stdout)

    def infra_pid(self, pod):
        infra = self.run(["pod", "inspect", "--format", "{{.InfraContainerID}}", pod]).stdout.strip()
        return self.pid(infra)

    def diagnose(self):
        """podman ps and each container's last log lines, for a failure."""
        out = [self.run(["ps", "--all", "--pod"], check=False).stdout]
        names = self.run(["ps", "--all", "--format", "{{.Names}}"], check=False).stdout.split()
        for name in names:
            cp = self.run(["logs", "--tail", "10", name], check=False)
            out.append("--- %s:\n%s%s" % (name, cp.stdout, podman_errors(cp.stderr)))
        return "\n" + "\n".join(out)

    def teardown(self):
        """Every pod, container, volume and image of the store, then the
        store itself (vfs: no layer mounts; the containers' shm mounts go
        with them, anything left is unmounted), and the pods' cgroups that
        podman 4.3 leaves behind in the name=systemd and unified
        hierarchies."""
        cp = self.run(["pod", "ps", "--quiet", "--no-trunc"], check=False)
        pod_ids = cp.stdout.split() if cp.returncode == 0 else []
        for args in (["pod", "rm", "--force", "--all", "--time", "0"],
                     ["rm", "--force", "--all", "--time", "0"],
                     ["volume", "rm", "--force", "--all"],
                     ["rmi", "--force", "--all"]):
            try:
                self.run(args, check=False, timeout=60)
            except subprocess.TimeoutExpired:
                log("note podman %s timed out" % " ".join(args))
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.root + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        for pod_id in pod_ids:
            for top in glob.glob("/sys/fs/cgroup/*/libpod_parent/" + pod_id) + \
                    glob.glob("/sys/fs/cgroup/libpod_parent/" + pod_id):
                for d, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(d)  # cgroups: empty ones only, deepest first
                    except OSError:
                        pass


def podman_errors(stderr):
    """podman's stderr without the healthcheck-timer noise of a machine
    without systemd (podman logs it for every container with a probe)."""
    return "\n".join(line for line in stderr.splitlines()
                     if "systemd connection" not in line and line.strip())[-1500:]


def pod_from_daemonset(ds):
    """The DaemonSet's pod template as a Pod: kind and metadata, plus one
    podman 4.3 limitation: it publishes every containerPort as a host port
    mapping and refuses mappings on the host network ("PortMappings can
    only be used with Bridge or slirp4netns networking"), so a hostNetwork
    container's ports are left out. On the host network they map nothing
    anyway: the process binds the node's port itself, which the test
    checks by scraping that port. Returns (pod, [what was changed])."""
    tmpl = json.loads(json.dumps(ds["spec"]["template"]))
    meta = dict(tmpl.get("metadata", {}))
    meta["name"] = ds["metadata"]["name"]
    meta["namespace"] = ds["metadata"].get("namespace", "default")
    spec = tmpl["spec"]
    changed = ["kind DaemonSet -> Pod", "metadata: the template's, named %s" % meta["name"]]
    if spec.get("hostNetwork"):
        for ctr in spec["containers"]:
            if ctr.pop("ports", None):
                changed.append("container %s: ports dropped (podman 4.3, host network)" %
                               ctr["name"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}, changed


def write_yaml(path, objs):
    """JSON documents are YAML documents."""
    with open(path, "w") as f:
        for o in objs:
            f.write("---\n" + json.dumps(o, indent=1) + "\n")


def http_get(port, path, timeout=3):
    """(status, body) of GET http://127.0.0.1:port/path; (None, error) when
    nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)
    finally:
        conn.close()


def status_fields(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def mountinfo(pid):
    """{mount point: (options, optional fields)} of pid's mount namespace."""
    out = {}
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            pre, _ = line.split(" - ", 1)
            fields = pre.split()
            out[fields[4]] = (fields[5].split(","), fields[6:])
    return out


def wait(pred, timeout, step=0.1):
    """pred()'s first true value within timeout, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def named_port(ctr, port):
    """A probe's or Service's port (name or number) as the container's number."""
    if isinstance(port, int):
        return port
    for p in ctr.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    return None


def half_open_pod(name, image, port):
    """A pod with its own network namespace: a server on port that writes
    a line every 0.2 s to whoever connects, and a client that connects and
    reads (retrying until it gets in). With the client's ACKs dropped,
    the server's socket retransmits."""
    bb = "/bin/busybox"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [
                {"name": "server", "image": image,
                 "command": [bb, "nc", "-ll", "-p", str(port), "-e", bb, "sh", "-c",
                             "while :; do echo ping; %s sleep 0.2; done" % bb]},
                # stdin: a FIFO opened read-write, which never ends (nc
                # would close on EOF) and never blocks a retry (a pipe
                # from `sleep` would keep a failed attempt waiting).
                {"name": "client", "image": image,
                 "command": [bb, "sh", "-c",
                             "%s mkfifo /stdin; while :; do %s nc 127.0.0.1 %d <>/stdin >/dev/null; "
                             "%s sleep 0.2; done" % (bb, bb, port, bb)]}]}}


def main():
    c = dt.Checks()
    for tool, why in (("podman", "plays the pod"), ("buildah", "builds the image"),
                      ("runc", "podman's runtime here"), ("catatonit", "podman's pod infra"),
                      ("kubectl", "renders deploy/kubernetes"), ("strace", "holds the first collection"),
                      ("iptables", "makes the connection half-open"), ("nsenter", "enters the pod"),
                      ("busybox", "the second pod's server and client")):
        dt.need(tool, why)
    if os.geteuid() != 0:
        raise dt.Skip("needs root (podman, iptables in the pod's namespace)")
    t_start = time.monotonic()
    objs_cp = dt.kustomize(dt.K8S)
    if not c.check("kubectl kustomize deploy/kubernetes", objs_cp.returncode == 0,
                   objs_cp.stderr[-800:]):
        return c.done()
    objs = dt.to_objects(objs_cp.stdout)
    ds, svc = dt.one(objs, "DaemonSet"), dt.one(objs, "Service")
    mon = dt.one(objs, "ServiceMonitor")
    if not c.check("one DaemonSet, Service and ServiceMonitor rendered",
                   None not in (ds, svc, mon)):
        return c.done()
    ctr = dt.exporter_container(ds)
    spec = ds["spec"]["template"]["spec"]
    image = ctr["image"]
    c.check("the manifest's image is a local name (localhost/...) and is not pulled if present",
            image.startswith("localhost/") and ctr.get("imagePullPolicy") in ("IfNotPresent", "Never"),
            "%s, imagePullPolicy %s" % (image, ctr.get("imagePullPolicy")))
    metrics_port = named_port(ctr, "metrics")
    probes = {}
    for probe, want in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        g = ctr.get(probe, {}).get("httpGet", {})
        probes[probe] = (g.get("path"), named_port(ctr, g.get("port")))
        c.check("%s: GET %s on the metrics port" % (probe, want),
                probes[probe] == (want, metrics_port), str(g))
    # The ServiceMonitor's scrape: endpoint port name -> Service port ->
    # its targetPort -> the container's port.
    ep = mon["spec"]["endpoints"][0]
    svc_port = next((p for p in svc["spec"]["ports"] if p.get("name") == ep.get("port")), None)
    scrape_port = named_port(ctr, svc_port["targetPort"]) if svc_port else None
    scrape_path = ep.get("path", "/metrics")
    c.check("ServiceMonitor endpoint resolves to a container port (%s -> %s)" %
            (ep.get("port"), scrape_port), scrape_port is not None)
    # The podmonitor overlay scrapes the pods directly: the same port and
    # path, or one of the two variants scrapes nothing.
    pm_cp = dt.kustomize(os.path.join(dt.K8S, "overlays", "podmonitor"))
    pmon = dt.one(dt.to_objects(pm_cp.stdout), "PodMonitor") if pm_cp.returncode == 0 else None
    pep = pmon["spec"]["podMetricsEndpoints"][0] if pmon else {}
    c.check("the PodMonitor overlay scrapes the same container port and path",
            (named_port(ctr, pep.get("port")), pep.get("path", "/metrics")) ==
            (scrape_port, scrape_path), "%s %s" % (pep, pm_cp.stderr[-300:]))

    log("note %s, %s" % (dt.run(["podman", "--version"]).stdout.strip(),
                         dt.run(["runc", "--version"]).stdout.splitlines()[0]))
    root = tempfile.mkdtemp(prefix="halfopen-podman-%d-" % os.getpid())
    pm = Podman(root)
    host_dirs = [v["hostPath"]["path"] for v in spec.get("volumes", []) if "hostPath" in v]
    # podman (cgroupfs) makes its parent cgroup in every hierarchy and
    # leaves it: the test removes the ones that were not there before.
    libpod_cgroups = glob.glob("/sys/fs/cgroup/*/") + ["/sys/fs/cgroup/"]
    libpod_cgroups = [os.path.join(d, "libpod_parent") for d in libpod_cgroups
                      if os.path.exists(os.path.join(d, "cgroup.procs"))]
    preexisting = {d for d in host_dirs + libpod_cgroups if os.path.exists(d)}
    strace = None
    try:
        # ---- images
        t = time.monotonic()
        cp = dt.run([os.path.join(dt.DEPLOY, "build-image.sh"), "--binary", dt.exporter(),
                     "--tag", image, "--root", root], timeout=600, check=False)
        if not c.check("deploy/build-image.sh builds %s" % image, cp.returncode == 0,
                       (cp.stdout + cp.stderr)[-1500:]):
            raise Stop()
        ctx = os.path.join(root, "busybox-ctx")
        os.makedirs(ctx)
        shutil.copy(shutil.which("busybox"), os.path.join(ctx, "busybox"))
        with open(os.path.join(ctx, "Containerfile"), "w") as f:
            f.write("FROM scratch\nCOPY busybox /bin/busybox\n")
        bb_image = "localhost/halfopen-test-busybox:%d" % os.getpid()
        pm.buildah(["build", "--isolation", "chroot", "--layers=false", "--quiet", "-t", bb_image, ctx])
        log("time images built: %.1f s" % (time.monotonic() - t))

        # ---- the half-open pod
        t = time.monotonic()
        port = 600 + os.getpid() % 400
        ho_name = "halfopen-client-%d" % os.getpid()
        ho_yaml = os.path.join(root, "halfopen.yaml")
        write_yaml(ho_yaml, [half_open_pod(ho_name, bb_image, port)])
        # --network none: a namespace of its own with loopback only (no
        # CNI plugins needed, no address of the node's used).
        pm.run(["kube", "play", "--network", "none", ho_yaml])
        ho_pid = pm.infra_pid(ho_name)
        ns_enter = ["nsenter", "--net=/proc/%d/ns/net" % ho_pid]

        def established():
            out = dt.run(ns_enter + ["ss", "-tnH", "state", "established",
                                     "sport", "= :%d" % port], check=False).stdout
            return out.strip()
        if not c.check("half-open pod: the client is connected to the server on :%d" % port,
                       wait(established, 20), dt.run(ns_enter + ["ss", "-tna"], check=False).stdout
                       + pm.diagnose()):
            raise Stop()
        dt.run(ns_enter + ["iptables", "-w", "-I", "INPUT", "-p", "tcp", "--sport", str(port),
                           "-j", "DROP"])

        def retransmitting():
            out = dt.run(ns_enter + ["ss", "-tnoH", "state", "established",
                                     "sport", "= :%d" % port], check=False).stdout
            return "timer:(on" in out and out
        rt = wait(retransmitting, 10)
        c.check("half-open pod: the server's socket retransmits (ss in the pod)", rt, rt or "")
        log("time half-open pod: %.1f s" % (time.monotonic() - t))

        # ---- the exporter's pod
        t = time.monotonic()
        pod, changed = pod_from_daemonset(ds)
        log("note pod from the DaemonSet: " + "; ".join(changed))
        cms = [o for o in dt.by_kind(objs, "ConfigMap")
               if any(v.get("configMap", {}).get("name") == o["metadata"]["name"]
                      for v in spec.get("volumes", []))]
        play_yaml = os.path.join(root, "exporter.yaml")
        write_yaml(play_yaml, cms + [pod])
        hostpid = bool(spec.get("hostPID"))
        # The manifest's port on the node: another test's exporter may hold
        # it for a while.
        busy = wait(lambda: http_get(metrics_port, "/-/healthy", timeout=1)[0] is None, 60, 1)
        if not c.check("port %d is free on this machine" % metrics_port, busy,
                       "something answers there for 60 s"):
            raise Stop()
        # Created, not started: the container is started by hand below so
        # that strace is attached before the exporter runs.
        pm.run(["kube", "play", "--start=false", play_yaml], hostpid=hostpid)
        pod_name = pod["metadata"]["name"]
        ctr_name = "%s-%s" % (pod_name, ctr["name"])
        infra = pm.run(["pod", "inspect", "--format", "{{.InfraContainerID}}", pod_name]).stdout.strip()
        pm.run(["start", infra], hostpid=hostpid)
        pm.run(["init", ctr_name], hostpid=hostpid)
        init_pid = pm.pid(ctr_name)  # `runc init`, waiting for the start
        strace_log = os.path.join(root, "strace.log")
        strace = subprocess.Popen(["strace", "-f", "-qq", "-o", strace_log, "-p", str(init_pid),
                                   "-e", "trace=getdents64", "-P", "/proc",
                                   "-e", "inject=getdents64:delay_enter=%d" % HOLD_US],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        attached = wait(lambda: status_fields(init_pid).get("TracerPid", "0") != "0", 20)
        if not c.check("strace attached to the container's runc init (pid %d)" % init_pid,
                       attached, strace.stderr.read().decode()[-500:] if strace.poll() is not None
                       else "not yet"):
            raise Stop()
        pm.run(["start", ctr_name], hostpid=hostpid)
        t_started = time.monotonic()
        log("time exporter pod played and started: %.1f s" % (t_started - t))

        # ---- readiness: 503 while the first collection is held, then 200
        seen = []  # (seconds since start, /-/ready status)
        healthy_while_unready = None
        ready_body = None
        deadline = t_started + 30
        while time.monotonic() < deadline:
            st, body = http_get(metrics_port, probes["readinessProbe"][0], timeout=2)
            if not seen or seen[-1][1] != st:
                seen.append((round(time.monotonic() - t_started, 2), st))
            if st == 503 and healthy_while_unready is None:
                healthy_while_unready = http_get(metrics_port, probes["livenessProbe"][0])[0]
                metrics_while_unready = http_get(metrics_port, scrape_path)
            if st == 200:
                ready_body = http_get(metrics_port, scrape_path)[1]
                break
            time.sleep(0.02)
        log("note /-/ready over time (s since start, status): %s" % seen)
        statuses = [s for _, s in seen]
        c.check("/-/ready is 503 before the first collection",
                503 in statuses and statuses.index(503) < (statuses.index(200) if 200 in statuses
                                                           else len(statuses)), str(seen))
        c.check("/-/healthy is 200 meanwhile (liveness does not wait for a collection)",
                healthy_while_unready == 200, str(healthy_while_unready))
        if healthy_while_unready is not None:
            log("note %s before the first collection: %s" % (scrape_path, metrics_while_unready[0]))
        c.check("/-/ready turns 200", 200 in statuses, str(seen))
        samples = testlib.parse_exposition(ready_body) if ready_body else testlib.Samples()
        c.check("when ready, a collection is published (halfopen_collections_total >= 1)",
                (samples.value("halfopen_collections_total") or 0) >= 1)
        if strace is not None:
            strace.terminate()  # detaches
            strace.wait(timeout=10)
            strace = None
        with open(strace_log) as f:
            held = [line for line in f if "DELAYED" in line]
        c.check("strace held the first collection's /proc scan (%d calls of %.1f s)" %
                (len(held), HOLD_US / 1e6), held, "no delayed call in %s" % strace_log)

        # ---- the running container as written
        pid = pm.pid(ctr_name)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")[0].decode()
        c.check("the container runs the exporter (pid %d)" % pid,
                argv == "/usr/bin/halfopen_exporter", argv)
        c.check("hostNetwork: the exporter is in the node's network namespace",
                os.readlink("/proc/%d/ns/net" % pid) == os.readlink("/proc/self/ns/net"))
        c.check("hostPID: the exporter is in the node's PID namespace%s" %
                (" (podman 4.3: via pidns=host in the test's containers.conf)" if hostpid else ""),
                hostpid and os.readlink("/proc/%d/ns/pid" % pid) == os.readlink("/proc/self/ns/pid"))
        sc = ctr.get("securityContext", {})
        caps = sc.get("capabilities", {})
        want_caps = 0
        for name in caps.get("add", []):
            want_caps |= 1 << CAP_NUMBERS[name]
        st = status_fields(pid)
        got = {k: int(st[k], 16) for k in ("CapEff", "CapPrm", "CapInh", "CapAmb")}
        c.check("capabilities: CapEff = CapPrm = %s (drop %s, add %s), none inheritable or ambient" %
                (hex(want_caps), caps.get("drop"), caps.get("add")),
                caps.get("drop") == ["ALL"] and got["CapEff"] == want_caps and
                got["CapPrm"] == want_caps and got["CapInh"] == 0 and got["CapAmb"] == 0,
                str({k: hex(v) for k, v in got.items()}))
        uid = st["Uid"].split()
        c.check("runAsUser %s: the exporter's uids" % sc.get("runAsUser"),
                all(u == str(sc.get("runAsUser")) for u in uid), st["Uid"])
        c.check("seccomp profile applied (RuntimeDefault)", st.get("Seccomp") == "2",
                st.get("Seccomp"))
        mi = mountinfo(pid)
        c.check("readOnlyRootFilesystem: / is read-only",
                sc.get("readOnlyRootFilesystem") is True and "ro" in mi.get("/", ([], []))[0],
                str(mi.get("/")))
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        ctr_root = "/proc/%d/root" % pid
        for m in ctr.get("volumeMounts", []):
            where, vol = m["mountPath"], vols[m["name"]]
            opts, optional = mi.get(where, (None, []))
            ok = opts is not None and (("ro" in opts) == bool(m.get("readOnly")))
            detail = "mount %s: %s" % (where, opts)
            if ok and "hostPath" in vol:
                a, b = os.stat(ctr_root + where), os.stat(vol["hostPath"]["path"])
                ok = (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
                detail = "%s is not the node's %s" % (where, vol["hostPath"]["path"])
            if ok and "configMap" in vol:
                cm = next(o for o in cms if o["metadata"]["name"] == vol["configMap"]["name"])
                for key, text in cm.get("data", {}).items():
                    with open(os.path.join(ctr_root + where, key)) as f:
                        ok = ok and f.read() == text
                detail = "%s does not hold the ConfigMap's data" % where
            c.check("volumeMount %s at %s: %s%s" %
                    (m["name"], where, "read-only" if m.get("readOnly") else "read-write",
                     ", the node's " + vol["hostPath"]["path"] if "hostPath" in vol else
                     ", the ConfigMap's files" if "configMap" in vol else ""), ok, detail)
            if m.get("mountPropagation") == "HostToContainer":
                c.check("volumeMount %s: HostToContainer propagation (a slave mount)" % m["name"],
                        any(o.startswith("master:") for o in optional), str(optional))
            if "hostPath" in vol and ok:
                # A recursive bind: submounts keep their own flags.
                rw_sub = [p for p, (o, _) in mi.items()
                          if p.startswith(where + "/") and "rw" in o]
                if rw_sub:
                    log("note %s: %d submount(s) under it are read-write (%s, ...): readOnly "
                        "is not recursive" % (where, len(rw_sub), rw_sub[0]))

        # ---- the half-open connection through --collector.netns=all
        t = time.monotonic()
        service = "listen_%d" % port
        # The first collection ran while the connection already hung; the
        # manifest's interval is long, so wait for the one that sees it.
        deadline = time.monotonic() + 40
        found = {}
        while time.monotonic() < deadline:
            st_, body = http_get(scrape_port, scrape_path)
            if st_ == 200:
                s = testlib.parse_exposition(body)
                found = s.series("halfopen_retransmitting_sockets", tcp_service=service)
                if any(v >= 1 for v in found.values()):
                    break
            time.sleep(1)
        c.check("--collector.netns=all counts the other pod's half-open connection "
                "(halfopen_retransmitting_sockets{tcp_service=%s} >= 1)" % service,
                any(v >= 1 for v in found.values()), str(found))
        for key in found:
            labels = dict(key[1])
            log("note the pod's series carries %s (pod labels: %s)" %
                (testlib.fmt_series(key),
                 "%s/%s" % (labels["namespace"], labels["pod"]) if "pod" in labels else
                 "none: podman's cgroups and /var/log/pods are not a kubelet's"))
        log("time half-open seen: %.1f s" % (time.monotonic() - t))

        # ---- the ServiceMonitor's scrape
        st_, body = http_get(scrape_port, scrape_path)
        try:
            s = testlib.parse_exposition(body) if st_ == 200 else testlib.Samples()
            parsed = True
        except ValueError as e:
            parsed, s = str(e), testlib.Samples()
        c.check("scrape on the ServiceMonitor's port %d and path %s: 200, valid exposition" %
                (scrape_port, scrape_path), st_ == 200 and parsed is True, "%s %s" % (st_, parsed))
        n_ns = s.value("halfopen_collection_namespaces") or 0
        c.check("more than one network namespace collected (%d)" % n_ns, n_ns >= 2)
        logs = pm.run(["logs", ctr_name], check=False)
        errors = [line for line in logs.stdout.splitlines() if '"level":"error"' in line]
        c.check("the exporter logged no error", not errors, "\n".join(errors[-5:]))
    except Stop:
        pass
    finally:
        if strace is not None:
            strace.terminate()
            try:
                strace.wait(timeout=10)
            except subprocess.TimeoutExpired:
                strace.kill()
        t = time.monotonic()
        pm.teardown()
        for d in host_dirs + libpod_cgroups:
            if d not in preexisting:
                try:
                    os.rmdir(d)  # only if empty: someone else may use it now
                except OSError:
                    pass
        log("time teardown: %.1f s" % (time.monotonic() - t))
        left = [d for d in (root,) if os.path.exists(d)]
        c.check("teardown: the test's podman store is gone", not left, str(left))
        log("time total: %.1f s" % (time.monotonic() - t_start))
    return c.done()


if __name__ == "__main__":
    testlib.install_signal_handlers()
    try:
        sys.exit(main())
    except dt.Skip as e:
        print("SKIP: %s" % e)
        print("0 passed, 0 failed")
        sys.exit(dt.SKIP)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print("FAIL podman_pod: %s" % e)
        print("0 passed, 1 failed")
        sys.exit(1)
