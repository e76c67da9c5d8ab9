"""vm: Debian kernels fetched from Debian's archive and booted under
qemu-system-x86_64 with TCG (no KVM here), running tests/kernels/guest.py
in a chroot of this machine's root file system.

    kernel = prepare("6.1")            # downloaded + unpacked once (cached)
    result = boot(kernel, spec, log)   # the guest's results.json, as a dict

The cache (made by this file only, outside the tree):
/var/cache/halfopen-exporter-tests/kernels/<suite>/
    apt/        a private apt configuration + lists for the suite (the
                machine's own sources are used for bookworm, never changed)
    root/       the image package unpacked with dpkg-deb -x; modules
                decompressed, depmod run
    initrd      busybox-static, the 9p + virtio modules, /init (INIT below)
    kernel.json the package, its version, the kernel release

The guest: /init loads the 9p/virtio modules, mounts the host's / read-only
over 9p (tag hostroot), a writable 9p share (tag results) holding spec.json
and receiving results.json, then the guest's own proc, sys, devtmpfs,
bpffs, cgroup2 and tmpfs for /tmp and /run over the host's, and runs
`python3 guest.py` chrooted into it. The kernel's module autoloader calls
/bin/hok-modprobe (in the initramfs), which runs the host's kmod modprobe
-d on the unpacked kernel's modules (this machine has no /lib/modules to
bind over). A cached kernel is kept until its directory is removed.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

CACHE = os.environ.get("HALFOPEN_KERNELS_CACHE", "/var/cache/halfopen-exporter-tests/kernels")

# Every kernel line Debian's archive offers here (see docs/kernels.md):
# suite -> the suites its image package may come from (updates included).
# `security`: that suite lives on the security archive. read_paths: where
# each explicit --enforce.read-path runs too (6.1: the oldest Debian kernel
# where both paths exist; elsewhere the default path only, for time).
KERNELS = {
    "5.10": dict(suite="bullseye", distro="Debian 11 (bullseye)",
                 suites=[("bullseye", False), ("bullseye-security", True)]),
    "6.1": dict(suite="bookworm", distro="Debian 12 (bookworm)", suites=None,  # the machine's own
                read_paths=True),
    "6.12": dict(suite="trixie", distro="Debian 13 (trixie)",
                 suites=[("trixie", False), ("trixie-security", True)]),
    "7.x": dict(suite="forky", distro="Debian 14 (forky, testing)", suites=[("forky", False)]),
}

# Loaded in the initramfs, before the host's root can be mounted.
INITRD_MODULES = ["virtio_pci", "virtio_rng", "9pnet_virtio", "9p"]
# Loaded in the chroot with the host's modprobe (the autoloader would find
# most of these itself; listed so a missing one fails the run at once).
GUEST_MODULES = ["inet_diag", "tcp_diag", "veth", "nf_tables", "nft_compat", "x_tables",
                 "xt_tcpudp", "af_packet"]

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo 1 > /proc/sys/kernel/printk
say() { echo "HOK $*"; }
for a in $(cat /proc/cmdline); do
    case "$a" in ho.*=*) k=${a%%=*}; k=${k#ho.}; eval "HO_$k=\"${a#*=}\"";; esac
done
for m in $(cat /modules.list); do insmod "/m/$m" || say "insmod $m failed"; done
H=/hostroot
mkdir -p $H
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $o,ro,cache=loose hostroot $H || { say "mount hostroot failed"; poweroff -f; }
# The guest's own /tmp; a source tree or exporter under the host's /tmp (a
# fresh clone there) stays visible: bound back in from under it.
mkdir -p /keep
mount --bind $H/tmp /keep
mount -t tmpfs -o mode=1777 tmp $H/tmp
for p in "$HO_src" "$HO_exedir"; do
    case "$p" in /tmp/?*) mkdir -p "$H$p" && mount --bind "/keep${p#/tmp}" "$H$p";; esac
done
mount -t tmpfs run $H/run
mkdir -p $H/run/netns $H/run/ho-results
mount -t 9p -o $o results $H/run/ho-results || say "mount results failed"
mount -t proc proc $H/proc
mount -t sysfs sys $H/sys
mount -t devtmpfs dev $H/dev
mkdir -p $H/dev/pts $H/dev/shm
mount -t devpts devpts $H/dev/pts
mount -t tmpfs shm $H/dev/shm
mount -t bpf bpf $H/sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 $H/sys/fs/cgroup 2>/dev/null
ip link set lo up
printf '#!/bin/busybox sh\nexec /bin/chroot %s /sbin/modprobe -d %s "$@"\n' $H "$HO_modroot" > /bin/hok-modprobe
chmod 755 /bin/hok-modprobe
echo /bin/hok-modprobe > /proc/sys/kernel/modprobe
say "init $(cut -d' ' -f1 /proc/uptime)s"
chroot $H /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -u "$HO_src/tests/kernels/guest.py" \
    /run/ho-results/spec.json < /dev/console > /dev/console 2>&1
say "exit $?"
sync
poweroff -f
"""


class KernelUnavailable(Exception):
    """The kernel could not be fetched (str: why)."""


def _run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    cp = subprocess.run(args, **kw)
    if cp.returncode != 0:
        raise KernelUnavailable("%s failed (rc=%d): %s" % (" ".join(args), cp.returncode,
                                                          (cp.stderr or cp.stdout)[-800:]))
    return cp


def archive_uris():
    """(debian URI, security URI) of the machine's own apt sources."""
    out = _run(["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)"]).stdout
    main = sec = None
    for line in out.splitlines():
        uri, rel = line.split()
        if rel.endswith("-security"):
            sec = sec or uri
        elif re.fullmatch(r"[a-z]+", rel):
            main = main or uri
    if not main:
        raise KernelUnavailable("no Debian suite in the machine's apt sources")
    return main, sec


def apt_options(d):
    return ["-o", "Dir::Etc::SourceList=" + os.path.join(d, "sources.list"),
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=" + os.path.join(d, "lists"),
            "-o", "Dir::Cache=" + os.path.join(d, "cache"),
            "-o", "APT::Get::List-Cleanup=0", "-o", "Debug::NoLocking=1"]


def fetch(spec, d):
    """Download the suite's linux-image-amd64 target (and the packages it
    is split into) into d/dl; (its name, [.deb paths], the first its own)."""
    opts = []
    if spec["suites"] is not None:
        main, sec = archive_uris()
        apt = os.path.join(d, "apt")
        for sub in ("lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(apt, sub), exist_ok=True)
        key = "/usr/share/keyrings/debian-archive-keyring.gpg"
        with open(os.path.join(apt, "sources.list"), "w") as f:
            for suite, security in spec["suites"]:
                if security and not sec:
                    continue
                f.write("deb [signed-by=%s] %s %s main\n" % (key, sec if security else main, suite))
        opts = apt_options(apt)
        _run(["apt-get"] + opts + ["-qq", "update"])
    dep = _run(["apt-cache"] + opts + ["depends", "linux-image-amd64"]).stdout
    m = re.search(r"Depends: (linux-image-\S+)", dep)
    if not m:
        raise KernelUnavailable("linux-image-amd64 of %s names no image:\n%s" % (spec["suite"], dep))
    pkg = m.group(1)
    dl = os.path.join(d, "dl")
    shutil.rmtree(dl, ignore_errors=True)
    os.makedirs(dl)
    _run(["apt-get"] + opts + ["-qq", "download", pkg], cwd=dl)
    debs = [os.path.join(dl, f) for f in os.listdir(dl) if f.endswith(".deb")]
    if len(debs) != 1:
        raise KernelUnavailable("apt-get download %s left %r" % (pkg, debs))
    # Since Debian 14 the image package is split: the kernel, its modules
    # and modules.builtin come in linux-binary-*, linux-modules-* and
    # linux-base-*.
    depends = _run(["dpkg-deb", "-f", debs[0], "Depends"]).stdout
    parts = re.findall(r"\b(linux-(?:base|binary|modules)-[^\s,(]+)", depends)
    if parts:
        _run(["apt-get"] + opts + ["-qq", "download"] + parts, cwd=dl)
        debs = [os.path.join(dl, f) for f in sorted(os.listdir(dl)) if f.endswith(".deb")]
    return pkg, debs


def unpack(debs, d):
    """dpkg-deb -x each into d/root, modules decompressed, depmod run; the
    kernel release (the modules directory's name)."""
    root = os.path.join(d, "root")
    shutil.rmtree(root, ignore_errors=True)
    for deb in debs:
        _run(["dpkg-deb", "-x", deb, root])
    mods = os.path.join(root, "lib", "modules")
    if not os.path.isdir(mods):  # merged /usr packages
        mods = os.path.join(root, "usr", "lib", "modules")
        os.makedirs(os.path.join(root, "lib"), exist_ok=True)
        os.symlink("../usr/lib/modules", os.path.join(root, "lib", "modules"))
    releases = os.listdir(mods) if os.path.isdir(mods) else []
    if len(releases) != 1:
        raise KernelUnavailable("want one modules directory in %s, found %r" % (debs, releases))
    release = releases[0]
    # Modules are decompressed here once, so the guest needs no
    # decompressor in its module loader (kmod of Debian 12 knows xz, not zstd).
    packed = {".xz": [], ".zst": [], ".gz": []}
    for dirpath, _, files in os.walk(os.path.join(mods, release)):
        for f in files:
            for ext, paths in packed.items():
                if f.endswith(".ko" + ext):
                    paths.append(os.path.join(dirpath, f))
    for ext, tool in ((".xz", ["xz", "-d"]), (".zst", ["zstd", "-q", "-d", "--rm"]),
                      (".gz", ["gzip", "-d"])):
        for i in range(0, len(packed[ext]), 500):
            _run(tool + packed[ext][i:i + 500])
    _run(["depmod", "-b", root, release])
    return release


def module_paths(root, release, names):
    """The .ko files (dependencies first) that load names; builtins skipped."""
    out = _run(["modprobe", "-d", root, "-S", release, "-a", "--show-depends"] + names).stdout
    paths = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "insmod" and f[1] not in paths:
            paths.append(f[1])
    return paths


def make_initrd(root, release, path):
    busybox = "/bin/busybox"  # busybox-static's: the initramfs has no libc
    with tempfile.TemporaryDirectory(prefix="ho-initrd-") as t:
        for sub in ("bin", "m", "proc", "sys", "dev", "hostroot"):
            os.makedirs(os.path.join(t, sub))
        shutil.copy(busybox, os.path.join(t, "bin", "busybox"))
        names = []
        for p in module_paths(root, release, INITRD_MODULES):
            names.append(os.path.basename(p))
            shutil.copy(p, os.path.join(t, "m", names[-1]))
        with open(os.path.join(t, "modules.list"), "w") as f:
            f.write("\n".join(names) + "\n")
        with open(os.path.join(t, "init"), "w") as f:
            f.write(INIT)
        os.chmod(os.path.join(t, "init"), 0o755)
        files = _run(["find", "."], cwd=t).stdout
        with open(path + ".tmp", "wb") as out:
            subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=t, input=files.encode(),
                           stdout=out, check=True)
        os.replace(path + ".tmp", path)


def version_of(release):
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2)))


def prepare(name):
    """The kernel of KERNELS[name], fetched and unpacked once: a dict with
    name, distro, package, release, version, vmlinuz, initrd, root."""
    spec = KERNELS[name]
    d = os.path.join(CACHE, spec["suite"])
    os.makedirs(d, exist_ok=True)
    # Worktrees and runs share the cache: one prepares a suite at a time.
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _prepare(name, spec, d)


def _prepare(name, spec, d):
    stamp = os.path.join(d, "kernel.json")
    # A cache made by an older INIT is rebuilt (the initrd only).
    init_hash = hashlib.sha256(INIT.encode()).hexdigest()[:16]
    if os.path.exists(stamp):
        with open(stamp) as f:
            k = json.load(f)
        if k.get("init") != init_hash:
            make_initrd(k["root"], k["release"], k["initrd"])
            k["init"] = init_hash
            with open(stamp, "w") as f:
                json.dump(k, f, indent=1)
        return k
    t0 = time.monotonic()
    pkg, debs = fetch(spec, d)
    release = unpack(debs, d)
    root = os.path.join(d, "root")
    vmlinuz = None
    for cand in ("boot/vmlinuz-" + release, "usr/lib/linux/vmlinuz-" + release,
                 "usr/lib/modules/%s/vmlinuz" % release):
        if os.path.exists(os.path.join(root, cand)):
            vmlinuz = os.path.join(root, cand)
            break
    if not vmlinuz:
        raise KernelUnavailable("%s has no vmlinuz-%s" % (pkg, release))
    initrd = os.path.join(d, "initrd")
    make_initrd(root, release, initrd)
    version = _run(["dpkg-deb", "-f", debs[0], "Version"]).stdout.strip()
    shutil.rmtree(os.path.join(d, "dl"))
    k = dict(name=name, distro=spec["distro"], suite=spec["suite"], package=pkg,
             package_version=version, release=release, vmlinuz=vmlinuz, initrd=initrd, root=root,
             init=init_hash)
    with open(stamp, "w") as f:
        json.dump(k, f, indent=1)
    print("kernels: fetched %s %s (%s) in %.1fs" % (pkg, version, release, time.monotonic() - t0))
    return k


def boot(kernel, spec, log, timeout, smp=2, mem="1024M"):
    """Boot kernel with guest.py running spec (a dict) in the chroot;
    every console line goes to log(line). Returns (results dict or None,
    seconds from start to the guest's init, total seconds)."""
    src = spec["source_root"]
    with tempfile.TemporaryDirectory(prefix="ho-kern-%d-" % os.getpid()) as out:
        with open(os.path.join(out, "spec.json"), "w") as f:
            json.dump(spec, f)
        modroot = kernel["root"]
        append = ("console=ttyS0 quiet loglevel=3 panic=-1 random.trust_cpu=on "
                  "ho.src=%s ho.modroot=%s ho.exedir=%s" % (
                      src, modroot, os.path.dirname(spec["exporter"])))
        args = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", str(smp), "-m", mem,
                "-nographic", "-no-reboot", "-nic", "none",
                "-kernel", kernel["vmlinuz"], "-initrd", kernel["initrd"], "-append", append,
                "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
                           "multidevs=remap",
                "-virtfs", "local,path=%s,mount_tag=results,security_model=none" % out,
                "-device", "virtio-rng-pci"]
        t0 = time.monotonic()
        t_init = None
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = t0 + timeout
            import selectors
            sel = selectors.DefaultSelector()
            sel.register(p.stdout, selectors.EVENT_READ)
            buf = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    log("kernels: the guest did not finish within %ds; killed" % timeout)
                    break
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode(errors="replace").rstrip("\r")
                    if t_init is None and "HOK init" in text:
                        t_init = time.monotonic() - t0
                    log(text)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, 9)
            p.wait()
        total = time.monotonic() - t0
        res = os.path.join(out, "results.json")
        if not os.path.exists(res):
            return None, t_init, total
        with open(res) as f:
            return json.load(f), t_init, total
