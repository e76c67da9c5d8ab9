#!/usr/bin/env python3
"""deploy_test: checks of deploy/ (Kubernetes manifests, image, systemd unit).

    python3 tests/kubernetes/deploy_test.py render|validate|security|image|systemd

Python 3.11 stdlib only (see tests/kubernetes/meson.build for the
environment). Each subcommand prints one line per check and ends with
"N passed, M failed". Exit 0 when all passed, 1 otherwise, 77 (skipped)
when a tool the check needs cannot run here, with the reason.

  render    `kubectl kustomize` renders deploy/kubernetes and its podmonitor
            overlay offline; the objects reference each other consistently
            (Service/monitor selectors and ports, the generated ConfigMap,
            the image tag = the project version) and the config passes
            `halfopen_exporter --config.check`.
  validate  every rendered object (and grafana/'s generated PrometheusRule and
            ConfigMaps) against the Kubernetes and prometheus-operator schemas
            with kubernetes-models (npm ci into the build directory, once),
            including unknown fields (tests/kubernetes/validate.mjs).
  security  the DaemonSet's privileges are exactly what the exporter needs.
  image     deploy/build-image.sh builds the image with buildah (vfs, chroot);
            it holds exactly the binary, its libraries, the loader and
            passwd/group; `buildah run` prints --version, then serves /metrics
            as uid 65534.
  systemd   systemd-analyze verify and the offline security score of
            deploy/systemd/halfopen_exporter.service, and its hardening.

YAML is turned into JSON without a YAML library: `kubectl label --local -o
json` reads manifests offline and prints them as JSON.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402

SOURCE_ROOT = os.environ.get("HALFOPEN_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get("HALFOPEN_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build")
DEPLOY = os.path.join(SOURCE_ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
NAMESPACE = "halfopen-exporter"

class Skip(Exception):
    """The check cannot run here (str: why)."""


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what + (": " + detail if detail else ""))
        return ok

    def note(self, text):
        print("note " + text)

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def run(args, timeout=120, check=True, **kw):
    cp = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and cp.returncode != 0:
        raise RuntimeError("%s failed (rc=%d):\n%s%s" % (" ".join(args), cp.returncode,
                                                         cp.stdout[-2000:], cp.stderr[-2000:]))
    return cp


def need(tool, why):
    if not shutil.which(tool):
        raise Skip("%s not installed (%s; scripts/deps.sh test installs it)" % (tool, why))


def exporter():
    p = os.environ.get("HALFOPEN_EXPORTER") or os.path.join(BUILD_ROOT, "halfopen_exporter")
    if not os.access(p, os.X_OK):
        raise RuntimeError("no exporter binary at %s (set HALFOPEN_EXPORTER)" % p)
    return p


def project_version():
    with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
        m = re.search(r"version\s*:\s*'([^']+)'", f.read())
    return m.group(1)


def exporter_flags():
    """The long flags `halfopen_exporter --help` lists."""
    cp = run([exporter(), "--help"], check=False)
    return set(re.findall(r"(--[a-z][a-z0-9.-]*)", cp.stdout + cp.stderr))


def check_flags(c, what, args, known):
    """Every --flag of args is one the binary knows."""
    unknown = [a.split("=", 1)[0] for a in args
               if a.startswith("--") and a.split("=", 1)[0] not in known]
    c.check("%s: every flag is known to the exporter" % what, not unknown,
            "unknown: %s" % " ".join(unknown))


def to_objects(yaml_text):
    """Manifest YAML (one or many documents) -> list of dicts, offline."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(yaml_text)
        f.flush()
        # Removing a label nobody has changes nothing: this only converts.
        cp = run(["kubectl", "label", "--local", "-o", "json", "-f", f.name,
                  "halfopen.invalid/none-"])
    dec, out, i, s = json.JSONDecoder(), [], 0, cp.stdout
    while True:
        while i < len(s) and s[i].isspace():
            i += 1
        if i >= len(s):
            break
        obj, i = dec.raw_decode(s, i)
        out.extend(obj["items"] if obj.get("kind") == "List" else [obj])
    return out


def kustomize(path):
    need("kubectl", "kubectl kustomize renders deploy/kubernetes")
    env = dict(os.environ, KUBECONFIG=os.devnull)  # no cluster, ever
    cp = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True,
                        timeout=60, env=env)
    return cp


# The DaemonSet's probes: /-/healthy answers as soon as the server runs,
# /-/ready only once the first collection is published (503 before).
PROBE_PATHS = {"livenessProbe": "/-/healthy", "readinessProbe": "/-/ready"}

VARIANTS = [("base", K8S, "ServiceMonitor"),
            ("podmonitor", os.path.join(K8S, "overlays", "podmonitor"), "PodMonitor")]


def render_all(c):
    """{variant: [objects]} for every variant that renders (checked)."""
    out = {}
    for name, path, _ in VARIANTS:
        cp = kustomize(path)
        if c.check("kubectl kustomize %s renders offline" % os.path.relpath(path, SOURCE_ROOT),
                   cp.returncode == 0, cp.stderr.strip()[-1500:]):
            out[name] = to_objects(cp.stdout)
    return out


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def one(objs, kind):
    found = by_kind(objs, kind)
    return found[0] if len(found) == 1 else None


def exporter_container(ds):
    for ctr in ds["spec"]["template"]["spec"]["containers"]:
        if ctr["name"] == "halfopen-exporter":
            return ctr
    return None


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def local_resources_only(c):
    """No kustomization under deploy/kubernetes pulls anything remote."""
    remote = []
    for dirpath, _, files in os.walk(K8S):
        for fn in files:
            if fn != "kustomization.yaml":
                continue
            with open(os.path.join(dirpath, fn)) as f:
                for line in f:
                    line = line.split("#", 1)[0]
                    if re.search(r"://|github\.com|^\s*-\s*git@", line):
                        remote.append("%s: %s" % (os.path.relpath(os.path.join(dirpath, fn),
                                                                  SOURCE_ROOT), line.strip()))
    c.check("kustomizations reference local files only", not remote, "; ".join(remote))


def cmd_render():
    c = Checks()
    local_resources_only(c)
    rendered = render_all(c)
    version = project_version()
    known = exporter_flags()
    with open(os.path.join(K8S, "base", "config.yml")) as f:
        config_text = f.read()
    for variant, path, monitor_kind in VARIANTS:
        objs = rendered.get(variant)
        if objs is None:
            continue
        v = variant + ": "
        kinds = sorted({o["kind"] for o in objs})
        want = {"Namespace", "ServiceAccount", "DaemonSet", "Service", "ConfigMap", monitor_kind}
        want.add("PrometheusRule")
        c.check(v + "kinds %s" % ", ".join(sorted(want)), want <= set(kinds), "got %s" % kinds)
        other = "PodMonitor" if monitor_kind == "ServiceMonitor" else "ServiceMonitor"
        c.check(v + "no %s besides the %s (no double scrape)" % (other, monitor_kind),
                not by_kind(objs, other))
        misplaced = ["%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objs
                     if o["kind"] != "Namespace" and o["metadata"].get("namespace") != NAMESPACE]
        c.check(v + "every namespaced object is in %s" % NAMESPACE, not misplaced,
                ", ".join(misplaced))
        ds, svc = one(objs, "DaemonSet"), one(objs, "Service")
        if not c.check(v + "one DaemonSet, one Service", ds is not None and svc is not None):
            continue
        pod = ds["spec"]["template"]
        ctr = exporter_container(ds)
        if not c.check(v + "DaemonSet has the halfopen-exporter container", ctr is not None):
            continue
        pod_labels = pod["metadata"].get("labels", {})
        c.check(v + "DaemonSet selector matches its pod template",
                selects(ds["spec"]["selector"]["matchLabels"], pod_labels))
        c.check(v + "image is localhost/halfopen-exporter:%s (the project version)" % version,
                ctr["image"] == "localhost/halfopen-exporter:" + version, ctr["image"])
        port_names = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
        c.check(v + "Service is headless", svc["spec"].get("clusterIP") == "None")
        c.check(v + "Service selects the exporter pods", selects(svc["spec"]["selector"], pod_labels))
        svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
        c.check(v + "Service port metrics targets the container port metrics",
                svc_ports.get("metrics", {}).get("targetPort") in ("metrics", port_names.get("metrics")))
        mon = one(objs, monitor_kind)
        if mon is not None:
            sel = mon["spec"]["selector"].get("matchLabels", {})
            if monitor_kind == "ServiceMonitor":
                eps = mon["spec"]["endpoints"]
                c.check(v + "ServiceMonitor selects the Service",
                        selects(sel, svc["metadata"].get("labels", {})))
                c.check(v + "ServiceMonitor endpoints name a Service port",
                        all(e.get("port") in svc_ports for e in eps))
            else:
                eps = mon["spec"]["podMetricsEndpoints"]
                c.check(v + "PodMonitor selects the exporter pods", selects(sel, pod_labels))
                c.check(v + "PodMonitor endpoints name a container port",
                        all(e.get("port") in port_names for e in eps))
            c.check(v + "%s keeps the pods' namespace/pod labels (honorLabels)" % monitor_kind,
                    all(e.get("honorLabels") is True for e in eps))
        # The config ConfigMap: generated name, mounted, the file as is.
        vols = {vol["name"]: vol for vol in pod["spec"].get("volumes", [])}
        cm_names = [vol["configMap"]["name"] for vol in vols.values() if "configMap" in vol]
        cms = {o["metadata"]["name"]: o for o in by_kind(objs, "ConfigMap")}
        c.check(v + "the config volume names a rendered ConfigMap",
                len(cm_names) == 1 and cm_names[0] in cms, "%s vs %s" % (cm_names, list(cms)))
        if cm_names and cm_names[0] in cms:
            c.check(v + "ConfigMap holds base/config.yml unchanged",
                    cms[cm_names[0]].get("data", {}).get("config.yml") == config_text)
        args = ctr.get("args", [])
        cfg_arg = [a for a in args if a.startswith("--config.file=")]
        mounts = {m["name"]: m for m in ctr.get("volumeMounts", [])}
        cfg_vol = next((n for n, vol in vols.items() if "configMap" in vol), None)
        c.check(v + "--config.file is config.yml in the config volume",
                cfg_vol in mounts and cfg_arg ==
                ["--config.file=%s/config.yml" % mounts[cfg_vol]["mountPath"]], str(cfg_arg))
        check_flags(c, v + "DaemonSet args", args, known)
        dash = [o for o in by_kind(objs, "ConfigMap")
                if o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
        c.check(v + "dashboard ConfigMaps rendered", len(dash) >= 1)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "config.yml")
        with open(cfg, "w") as f:
            f.write(config_text)
        cp = run([exporter(), "--config.check", "--config.file=" + cfg], check=False)
        c.check("base/config.yml passes halfopen_exporter --config.check", cp.returncode == 0,
                (cp.stdout + cp.stderr).strip()[-800:])
    return c.done()


# ------------------------------------------------------------------ validate

def npm_env(prefix):
    """node_modules for validate.mjs under prefix (testlib.npm_ci)."""
    need("node", "the schemas are npm packages")
    need("npm", "the schemas are npm packages")
    try:
        testlib.npm_ci(HERE, prefix)
    except testlib.NpmUnreachable as e:
        raise Skip("npm ci cannot reach the registry: %s" % e)


def grafana_objects():
    """grafana/'s generated Kubernetes objects (PrometheusRule, ConfigMaps)."""
    files = []
    for sub, pat in (("alerts", ".prometheusrule.yaml"), ("kubernetes", ".yaml")):
        d = os.path.join(SOURCE_ROOT, "grafana", sub)
        if os.path.isdir(d):
            files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(pat)]
    objs = []
    for fn in files:
        with open(fn) as f:
            objs += to_objects(f.read())
    return objs


def cmd_validate():
    c = Checks()
    prefix = os.path.join(BUILD_ROOT, "k8s-validate")
    npm_env(prefix)
    rendered = render_all(c)
    seen, objs = set(), []
    for variant in rendered.values():
        for o in variant:
            key = (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
            if key not in seen:
                seen.add(key)
                objs.append(o)
    extra = grafana_objects()
    c.note("validating %d rendered objects and %d from grafana/" % (len(objs), len(extra)))
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=prefix) as f:
        json.dump(objs + extra, f)
        f.flush()
        shutil.copy(os.path.join(HERE, "validate.mjs"), os.path.join(prefix, "validate.mjs"))
        cp = subprocess.run(["node", os.path.join(prefix, "validate.mjs"), f.name],
                            capture_output=True, text=True, timeout=120, cwd=prefix)
    lines = cp.stdout.strip().splitlines()
    for line in lines[:-1]:
        print("  " + line)
    m = re.match(r"(\d+) passed, (\d+) failed$", lines[-1] if lines else "")
    if not m:
        c.check("validate.mjs ran", False, (cp.stdout + cp.stderr)[-1500:])
    else:
        c.passed += int(m.group(1))
        c.failed += int(m.group(2))
        c.check("every object validates", cp.returncode == 0 and m.group(2) == "0")
    return c.done()


# ------------------------------------------------------------------ security

def quantity(q):
    """A Kubernetes CPU or memory quantity as a float (cores or bytes)."""
    q = str(q)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for u, f in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if q.endswith(u):
            return float(q[:-len(u)]) * f
    return float(q)


def cmd_security():
    c = Checks()
    cp = kustomize(K8S)
    if not c.check("kubectl kustomize deploy/kubernetes", cp.returncode == 0, cp.stderr[-800:]):
        return c.done()
    objs = to_objects(cp.stdout)
    ds, ns, sa = one(objs, "DaemonSet"), one(objs, "Namespace"), one(objs, "ServiceAccount")
    spec = ds["spec"]["template"]["spec"]
    ctr = exporter_container(ds)
    sc = ctr.get("securityContext", {})
    caps = sc.get("capabilities", {})
    c.check("hostNetwork: the node's sockets and one scrape address per node",
            spec.get("hostNetwork") is True)
    c.check("hostPID: every pod's /proc/<pid>/ns/net", spec.get("hostPID") is True)
    c.check("no hostIPC", not spec.get("hostIPC"))
    c.check("dnsPolicy ClusterFirstWithHostNet", spec.get("dnsPolicy") == "ClusterFirstWithHostNet")
    c.check("tolerates every taint (operator Exists, no key, no effect)",
            any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t
                for t in spec.get("tolerations", [])))
    c.check("one container, no init containers",
            len(spec["containers"]) == 1 and not spec.get("initContainers"))
    c.check("capabilities: drop ALL", caps.get("drop") == ["ALL"], str(caps.get("drop")))
    c.check("capabilities: add exactly SYS_ADMIN and SYS_PTRACE",
            sorted(caps.get("add", [])) == ["SYS_ADMIN", "SYS_PTRACE"], str(caps.get("add")))
    c.check("not privileged", sc.get("privileged") in (None, False))
    c.check("readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
    c.check("allowPrivilegeEscalation not false (the API rejects it with SYS_ADMIN)",
            sc.get("allowPrivilegeEscalation") is not False)
    c.check("seccomp RuntimeDefault", sc.get("seccompProfile", {}).get("type") == "RuntimeDefault")
    c.check("no service account token (no API calls)",
            spec.get("automountServiceAccountToken") is False
            and sa.get("automountServiceAccountToken") is False)
    c.check("Namespace admits it (pod-security enforce: privileged)",
            ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged")
    ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
    listen = [a.split("=", 1)[1] for a in ctr.get("args", []) if a.startswith("--web.listen-address=")]
    c.check("listens on the metrics port", listen and ports.get("metrics") and
            listen[0].endswith(":%d" % ports["metrics"]), "%s vs %s" % (listen, ports))
    # Liveness must not wait for a collection (a slow dump would get the
    # pod killed); readiness must (a pod is ready once it has numbers).
    for probe, path in PROBE_PATHS.items():
        g = ctr.get(probe, {}).get("httpGet", {})
        c.check("%s: GET %s on the metrics port" % (probe, path),
                g.get("path") == path and g.get("port") in ("metrics", ports.get("metrics")), str(g))
    res = ctr.get("resources", {})
    for kind in ("cpu", "memory"):
        req, lim = res.get("requests", {}).get(kind), res.get("limits", {}).get(kind)
        c.check("%s request and limit set, request <= limit" % kind,
                req is not None and lim is not None and quantity(req) <= quantity(lim),
                "%s / %s" % (req, lim))
    # Host paths: exactly the three, read-only, where the flags point.
    vols = {vol["name"]: vol for vol in spec.get("volumes", [])}
    mounts = {m["name"]: m for m in ctr.get("volumeMounts", [])}
    host = {n: vol["hostPath"]["path"] for n, vol in vols.items() if "hostPath" in vol}
    c.check("host paths: /var/run/netns, /var/log/pods, /sys/fs/cgroup only",
            sorted(host.values()) == ["/sys/fs/cgroup", "/var/log/pods", "/var/run/netns"],
            str(sorted(host.values())))
    c.check("every volume mounted read-only",
            all(m.get("readOnly") is True for m in mounts.values()))
    flags = dict(a.split("=", 1) for a in ctr.get("args", []) if "=" in a)
    where = {"/var/run/netns": flags.get("--collector.netns.dir"),
             "/var/log/pods": flags.get("--collector.pod-logs-dir"),
             "/sys/fs/cgroup": (flags.get("--path.sysfs") or "/sys") + "/fs/cgroup"}
    c.check("host paths mounted where --collector.netns.dir, --collector.pod-logs-dir and "
            "--path.sysfs point",
            all(mounts.get(n, {}).get("mountPath") == where[p] for n, p in host.items()),
            "mounts %s, flags %s" % ({host[n]: m["mountPath"] for n, m in mounts.items() if n in host},
                                      where))
    c.check("--path.procfs is the container's /proc (hostPID makes it the node's)",
            flags.get("--path.procfs", "/proc") == "/proc")
    netns_vol = next((n for n, p in host.items() if p == "/var/run/netns"), None)
    c.check("/var/run/netns mounted with HostToContainer propagation (late CNI pins show up)",
            mounts.get(netns_vol, {}).get("mountPropagation") == "HostToContainer")
    c.check("--collector.netns=all", "--collector.netns=all" in ctr.get("args", []))
    return c.done()


# --------------------------------------------------------------------- image

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def children(pid):
    """Every descendant pid of pid."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = []
        # Per thread: a Go program (buildah) forks from any of its threads.
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except OSError:
            tasks = []
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
        out += kids
        todo += kids
    return out


def cmd_image():
    c = Checks()
    need("buildah", "the image test builds with buildah")
    root = os.path.join(BUILD_ROOT, "buildah")
    bflags = ["--storage-driver", "vfs", "--root", os.path.join(root, "storage"),
              "--runroot", os.path.join(root, "run")]
    os.makedirs(root, exist_ok=True)
    cp = run(["buildah"] + bflags + ["images"], check=False)
    if cp.returncode != 0:
        raise Skip("buildah cannot run here: %s" % (cp.stderr.strip()[-400:]))
    binary = exporter()
    version = project_version()
    tag = "localhost/halfopen-exporter:test"
    archive = os.path.join(root, "halfopen-exporter.oci.tar")
    cp = run([os.path.join(DEPLOY, "build-image.sh"), "--binary", binary, "--tag", tag,
              "--root", root, "--archive", archive], timeout=600, check=False)
    if not c.check("deploy/build-image.sh builds the image", cp.returncode == 0,
                   (cp.stdout + cp.stderr)[-1500:]):
        return c.done()
    c.check("OCI archive written", os.path.getsize(archive) > 0)
    info = json.loads(run(["buildah"] + bflags + ["inspect", "--type", "image", tag]).stdout)
    cfg = info.get("OCIv1", {}).get("config", {})
    c.check("image user is 65534:65534 (non-root)", cfg.get("User") == "65534:65534", cfg.get("User"))
    c.check("entrypoint is the exporter", cfg.get("Entrypoint") == ["/usr/bin/halfopen_exporter"])
    ctr = run(["buildah"] + bflags + ["from", "--pull-never", tag]).stdout.strip()
    proc = None
    try:
        mnt = run(["buildah"] + bflags + ["mount", ctr]).stdout.strip()
        files = sorted("/" + os.path.relpath(os.path.join(d, f), mnt)
                       for d, _, fs in os.walk(mnt) for f in fs)
        ldd = run(["ldd", binary]).stdout
        libs = set(re.findall(r"=>\s+(/\S+)", ldd))
        interp = re.search(r"Requesting program interpreter: (\S+)\]",
                           run(["readelf", "-l", binary]).stdout).group(1)
        want = sorted(libs | {interp, "/usr/bin/halfopen_exporter", "/etc/passwd", "/etc/group"})
        c.check("image holds exactly the binary, ldd's libraries, the loader, passwd, group",
                files == want, "extra %s, missing %s" % (sorted(set(files) - set(want)),
                                                        sorted(set(want) - set(files))))
        size = sum(os.path.getsize(os.path.join(mnt, f.lstrip("/"))) for f in files)
        c.check("image is small (%.1f MiB < 32 MiB)" % (size / 2**20), size < 32 * 2**20)
        run(["buildah"] + bflags + ["umount", ctr], check=False)
        runc = ["buildah"] + bflags + ["run", "--isolation", "chroot", ctr, "--"]
        cp = run(runc + ["/usr/bin/halfopen_exporter", "--version"], check=False)
        c.check("buildah run: --version prints %s" % version,
                cp.returncode == 0 and (" %s " % version) in cp.stdout, (cp.stdout + cp.stderr)[-500:])
        # chroot isolation keeps the host's network namespace: the server
        # is reachable on loopback from here.
        port = free_port()
        log = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(runc + ["/usr/bin/halfopen_exporter", "--collector.interval=1s",
                                        "--web.listen-address=127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        body, status, deadline = "", None, time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                    status, body = r.status, r.read().decode()
                if "halfopen_collections_total" in body and \
                        re.search(r"^halfopen_collections_total [1-9]", body, re.M):
                    break
            except OSError:
                pass
            time.sleep(0.25)
        log.seek(0)
        c.check("buildah run: serves /metrics with a collection done", status == 200 and
                re.search(r"^halfopen_collections_total [1-9]", body, re.M) is not None,
                "status %s; log:\n%s" % (status, log.read()[-1500:]))
        c.check("buildah run: build_info names version %s" % version,
                'version="%s"' % version in body)
        for probe, path in PROBE_PATHS.items():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
                    probe_status = r.status
            except OSError as e:
                probe_status = str(e)
            c.check("buildah run: GET %s (the %s's path) is 200 after a collection" % (path, probe),
                    probe_status == 200, str(probe_status))
        uids = []
        for pid in children(proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
                with open("/proc/%d/status" % pid) as f:
                    uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
            except OSError:
                continue
            if cmd and cmd[0] == b"/usr/bin/halfopen_exporter":
                uids.append(uid)
        c.check("buildah run: the exporter runs as uid 65534", uids == ["65534"], str(uids))
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        run(["buildah"] + bflags + ["rm", ctr], check=False)
        run(["buildah"] + bflags + ["rmi", tag], check=False)
    return c.done()


# ------------------------------------------------------------------- systemd

def unit_settings(path):
    """{key: [values]} of a unit file (every assignment, in order)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def cmd_systemd():
    c = Checks()
    need("systemd-analyze", "the unit is checked with systemd-analyze")
    unit = os.path.join(DEPLOY, "systemd", "halfopen_exporter.service")
    binary = exporter()
    with tempfile.TemporaryDirectory() as tmp:
        # verify wants the ExecStart binary to exist: point it at the build.
        local = os.path.join(tmp, "halfopen_exporter.service")
        with open(unit) as f, open(local, "w") as g:
            g.write(f.read().replace("/usr/local/bin/halfopen_exporter", binary))
        cp = run(["systemd-analyze", "verify", "--man=no", local], check=False)
        out = (cp.stdout + cp.stderr).strip()
        c.check("systemd-analyze verify: clean", cp.returncode == 0 and not out, out[-1500:])
        cp = run(["systemd-analyze", "security", "--offline=yes", local], check=False)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", cp.stdout + cp.stderr)
        c.check("systemd-analyze security: exposure %s <= 3.0" % (m.group(1) if m else "?"),
                m is not None and float(m.group(1)) <= 3.0, (cp.stdout + cp.stderr).strip()[-300:])
    s = unit_settings(unit)

    def last(k):
        return s.get(k, [None])[-1]
    for k, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("DynamicUser", "yes"),
                    ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                    ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                    ("ProtectControlGroups", "yes"), ("MemoryDenyWriteExecute", "yes"),
                    ("RestrictNamespaces", "net"), ("SystemCallArchitectures", "native")):
        c.check("%s=%s" % (k, want), last(k) == want, str(last(k)))
    c.check("CapabilityBoundingSet and AmbientCapabilities: CAP_SYS_ADMIN CAP_SYS_PTRACE only",
            sorted((last("CapabilityBoundingSet") or "").split()) == ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]
            and sorted((last("AmbientCapabilities") or "").split()) == ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"])
    c.check("RestrictAddressFamilies=AF_NETLINK AF_INET AF_INET6 AF_UNIX",
            sorted((last("RestrictAddressFamilies") or "").split()) ==
            ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"])
    c.check("SystemCallFilter=@system-service", "@system-service" in s.get("SystemCallFilter", []))
    c.check("ProtectProc/ProcSubset keep other processes visible",
            last("ProtectProc") in (None, "default") and last("ProcSubset") in (None, "all"))
    env = os.path.join(DEPLOY, "systemd", "halfopen_exporter.env")
    with open(env) as f:
        m = re.search(r'^HALFOPEN_EXPORTER_ARGS="([^"]*)"', f.read(), re.M)
    c.check("env file sets HALFOPEN_EXPORTER_ARGS", m is not None)
    if m:
        check_flags(c, "env file", m.group(1).split(), exporter_flags())
    return c.done()


COMMANDS = {"render": cmd_render, "validate": cmd_validate, "security": cmd_security,
            "image": cmd_image, "systemd": cmd_systemd}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print("usage: deploy_test.py %s" % "|".join(COMMANDS), file=sys.stderr)
        return 2
    try:
        return COMMANDS[sys.argv[1]]()
    except Skip as e:
        testlib.skip(str(e))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print("FAIL %s: %s" % (sys.argv[1], e))
        print("0 passed, 1 failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
