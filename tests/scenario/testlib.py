"""testlib: network-namespace harness for halfopen_exporter end-to-end tests.

Python 3.11 stdlib only; needs root (ip netns, iptables). The small API:

    with Netns("seed") as ns:                     # ho-seed-<pid>-<n>, lo up
        srv = ns.peer("server", "--port", "12345")  # tests/scenario/peer.py in ns
        ev = srv.expect("LISTEN")                 # {'addr': ..., 'port': '12345'}
        ns.iptables("-A", "INPUT", "-p", "tcp", "--dport", "1", "-j", "DROP")
        with Exporter(ns, CONFIG_YAML) as exp:    # binary in ns, waits for /-/ready
            s = exp.wait_for(lambda s: s.value("halfopen_stale_sockets",
                                               tcp_service="x") == 1,
                             timeout=10, what="x stale")
        rows = ss(ns, "dport = :12345")           # parsed `ss -tnoiH`

    Netns(suffix, veth=True) also creates ns.peer_ns (a second Netns) joined
    by a veth pair: ns side 198.18.0.1/30 + fd00:198:18::1/64, peer side
    198.18.0.2/30 + fd00:198:18::2/64 (see VETH_* constants).

Everything started through a Netns (popen/peer) is SIGKILLed on exit, then
any other process left in the namespace, then the namespace is deleted;
iptables rules live in the namespace and go with it. Call
install_signal_handlers() once so SIGTERM/SIGHUP/SIGINT (meson's timeout)
unwind the context managers.

Failures raise ScenarioFailure with a message meant for a human: what was
expected, the last values of the metrics involved, `ss -tnoi` of the
namespace and the exporter's stderr.
"""
import ctypes
import glob
import hashlib
import http.client
import itertools
import os
import queue
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
import time

# The harnesses check with `assert`: python3 -O (or PYTHONOPTIMIZE) strips
# every one of them and would let a broken exporter pass. Refuse to run so.
if not __debug__:
    sys.stderr.write("%s: run without -O or PYTHONOPTIMIZE (they strip the test's assert checks)\n"
                     % os.path.basename(sys.argv[0] or "test"))
    sys.exit(2)

# The one skip policy of every suite (README.md, "Tests"): a test that
# cannot set up its environment here (not root, a tool missing) exits 77,
# meson's SKIP; under CI=true, where scripts/deps.sh installed everything
# and the run is root, the same test fails instead, so a CI run never
# passes by skipping (scripts/dev's closing line says the same).
SKIP = 77


def skip(reason):
    """Exit 77 (skipped), or 1 under CI=true; prints why either way."""
    if os.environ.get("CI") == "true":
        print("FAIL (CI=true: a skip is a failure): %s" % reason)
        sys.stdout.flush()
        sys.exit(1)
    print("SKIP: %s" % reason)
    sys.stdout.flush()
    sys.exit(SKIP)


def require_root(what):
    """skip() unless root; what: why root is needed."""
    if os.geteuid() != 0:
        skip("needs root (%s)" % what)


HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("HALFOPEN_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
PEER_PY = os.path.join(HERE, "peer.py")

VETH_V4 = ("198.18.0.1", "198.18.0.2")        # /30: ns side, peer side
VETH_V6 = ("fd00:198:18::1", "fd00:198:18::2")  # /64 ULA

_counter = itertools.count(1)


class ScenarioFailure(Exception):
    """A scenario expectation did not hold; str() is the report."""


def exporter_binary():
    """$HALFOPEN_EXPORTER, else the newest build*/halfopen_exporter."""
    p = os.environ.get("HALFOPEN_EXPORTER")
    if p:
        return p
    cands = glob.glob(os.path.join(SOURCE_ROOT, "build*", "halfopen_exporter"))
    if not cands:
        raise ScenarioFailure("no exporter binary: set HALFOPEN_EXPORTER or build into build*/")
    return max(cands, key=os.path.getmtime)


class NpmUnreachable(Exception):
    """npm ci could not reach the registry (str: npm's words)."""


def npm_ci(package_dir, prefix):
    """node_modules under prefix for package_dir's package.json and
    package-lock.json, installed with `npm ci` once per lock file (the
    stamp is the lock's hash). Raises NpmUnreachable when the registry
    cannot be reached, RuntimeError when npm ci fails otherwise."""
    os.makedirs(prefix, exist_ok=True)
    with open(os.path.join(package_dir, "package-lock.json"), "rb") as f:
        lock_hash = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(prefix, ".lock-sha256")
    if os.path.isdir(os.path.join(prefix, "node_modules")) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == lock_hash:
                return
    for fn in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(package_dir, fn), os.path.join(prefix, fn))
    cp = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                        cwd=prefix, capture_output=True, text=True, timeout=600)
    if cp.returncode != 0:
        if re.search(r"ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network", cp.stderr):
            raise NpmUnreachable(cp.stderr.strip()[-300:])
        raise RuntimeError("npm ci failed:\n" + cp.stderr[-2000:])
    with open(stamp, "w") as f:
        f.write(lock_hash)


def install_signal_handlers():
    """Turn SIGTERM/SIGHUP/SIGINT into SystemExit so cleanup runs."""
    def handler(sig, _frame):
        raise SystemExit("killed by signal %d" % sig)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, handler)


def run(args, timeout=15, check=True, input=None):
    """Run a command, return CompletedProcess (text). Raises on rc!=0 if check."""
    try:
        cp = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        out = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                      for x in (e.stdout, e.stderr))
        raise ScenarioFailure("command did not finish within %ss (killed): %s\n%s" % (
            timeout, shlex.join(args), out[-2000:])) from None
    if check and cp.returncode != 0:
        raise ScenarioFailure("command failed (rc=%d): %s\n%s%s" % (
            cp.returncode, shlex.join(args), cp.stdout, cp.stderr))
    return cp


def kill_groups(procs):
    """SIGKILL the process group of each of procs (Popen objects started
    with start_new_session) that is still running; reaping is the caller's."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass


def stop_process(p, timeout=10):
    """SIGTERM p and reap it; SIGKILL it if it has not exited within
    timeout seconds."""
    p.terminate()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# --------------------------------------------------------------- namespaces

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


class Netns:
    """A network namespace `ho-<suffix>-<pid>-<n>` with lo up (context manager).

    veth=True also creates self.peer_ns, a second Netns linked by a veth pair
    (interfaces `veth0` here, `veth1` there) with VETH_V4/VETH_V6 addresses.
    """

    def __init__(self, suffix, veth=False):
        self.name = "ho-%s-%d-%d" % (suffix, os.getpid(), next(_counter))
        self.veth = veth
        self.peer_ns = None
        self.procs = []
        self._created = False

    # -- lifecycle
    def __enter__(self):
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    def create(self):
        run(["ip", "netns", "add", self.name])
        self._created = True
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        if self.veth:
            self.peer_ns = Netns(self.name.split("-")[1] + "p")
            self.peer_ns.create()
            run(["ip", "-n", self.name, "link", "add", "veth0", "type", "veth",
                 "peer", "name", "veth1", "netns", self.peer_ns.name])
            for ns, dev, v4, v6 in ((self.name, "veth0", VETH_V4[0], VETH_V6[0]),
                                    (self.peer_ns.name, "veth1", VETH_V4[1], VETH_V6[1])):
                run(["ip", "-n", ns, "addr", "add", v4 + "/30", "dev", dev])
                run(["ip", "-n", ns, "-6", "addr", "add", v6 + "/64", "dev", dev, "nodad"])
                run(["ip", "-n", ns, "link", "set", dev, "up"])

    def destroy(self):
        """Kill everything started here and delete the namespace. Idempotent."""
        if self.peer_ns is not None:
            self.peer_ns.destroy()
        kill_groups(self.procs)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        if not self._created:
            return
        # Anything else still inside (children of our children).
        for _ in range(3):
            cp = run(["ip", "netns", "pids", self.name], check=False)
            pids = [int(x) for x in cp.stdout.split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)
        run(["ip", "netns", "del", self.name], check=False)
        self._created = False

    # -- running things inside
    def cmd(self, args):
        return ["ip", "netns", "exec", self.name] + [str(a) for a in args]

    def exec(self, args, timeout=15, check=True, input=None):
        """Run args in the namespace to completion; CompletedProcess (text)."""
        return run(self.cmd(args), timeout=timeout, check=check, input=input)

    def popen(self, args, **kw):
        """Start args in the namespace (own session); killed on exit."""
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen(self.cmd(args), **kw)
        self.procs.append(p)
        return p

    def peer(self, *args):
        """Start `peer.py ARGS` here; returns a Peer."""
        return Peer(self, [sys.executable, PEER_PY] + [str(a) for a in args])

    def iptables(self, *rule):
        return self.exec(["iptables", "-w", "5"] + list(rule))

    def ip6tables(self, *rule):
        return self.exec(["ip6tables", "-w", "5"] + list(rule))

    def socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM):
        """A socket created in this namespace (setns in a throwaway thread;
        the socket stays bound to the namespace it was created in)."""
        res = {}

        def body():
            try:
                fd = os.open("/run/netns/" + self.name, os.O_RDONLY)
                try:
                    if _libc.setns(fd, _CLONE_NEWNET) != 0:
                        e = ctypes.get_errno()
                        raise OSError(e, "setns(%s): %s" % (self.name, os.strerror(e)))
                finally:
                    os.close(fd)
                res["sock"] = socket.socket(family, type)
            except BaseException as e:  # reported in the caller's thread
                res["err"] = e
        t = threading.Thread(target=body, name="setns")
        t.start()
        t.join()
        if "err" in res:
            raise res["err"]
        return res["sock"]

    def free_port(self, addr="127.0.0.1"):
        """A TCP port bindable on addr here, outside the ephemeral range."""
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        for _ in range(100):
            port = random.randint(20000, 29999)
            s = self.socket(fam)
            try:
                s.bind((addr, port))
                return port
            except OSError:
                continue
            finally:
                s.close()
        raise ScenarioFailure("no free port in %s" % self.name)

    def ss_text(self, filt=""):
        """Raw `ss -tnoi state all FILTER` output (for reports)."""
        cp = self.exec(["ss", "-tnoi", "state", "all"] + shlex.split(filt), check=False)
        return "\n".join(l.rstrip() for l in (cp.stdout + cp.stderr).splitlines() if l.strip()) + "\n"


class Peer:
    """A process whose stdout is read line by line (peer.py protocol)."""

    def __init__(self, ns, args):
        self.args = args
        self.lines = queue.Queue()
        self.history = []
        self.proc = ns.popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1)
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, command):
        """Write one command line to the peer's stdin."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, word, timeout=5):
        """Wait for the next line starting with word; its key=value fields as a
        dict (values are str). ERROR lines and exits raise ScenarioFailure."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise ScenarioFailure("peer %s: no %r line within %.1fs; saw %r" % (
                    shlex.join(self.args[2:]), word, timeout, self.history[-5:]))
            if line is None:
                raise ScenarioFailure("peer %s exited (rc=%s) before %r; saw %r" % (
                    shlex.join(self.args[2:]), self.proc.wait(), word, self.history[-5:]))
            self.history.append(line)
            parts = line.split()
            if parts and parts[0] == word:
                return dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            if parts and parts[0] in ("ERROR", "Traceback"):
                raise ScenarioFailure("peer %s: %s" % (shlex.join(self.args[2:]), line))

    def expect_none(self, word, timeout, failure):
        """Wait timeout seconds for a line starting with word; if one comes,
        raise ScenarioFailure("<failure>: <its fields>"). Other ERROR lines
        and exits raise as in expect."""
        try:
            got = self.expect(word, timeout=timeout)
        except ScenarioFailure as e:
            if "no %r line" % word in str(e):
                return
            raise
        raise ScenarioFailure("%s: %s" % (failure, got))

    def kill(self, sig=signal.SIGKILL):
        """Signal the peer and wait for it to die."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=5)


# ------------------------------------------------------------------- ss oracle

_SS_SPACED = {"send", "pacing_rate", "delivery_rate", "pacing_rate_max"}


def parse_ss(text):
    """Parse `ss -tnoiH` output into a list of dicts:
    state, recv_q, send_q, local, peer, lport, rport, timer (name or None),
    timer_expires (str), timer_retrans (int), lastsnd/lastrcv/lastack (ms, 0
    when ss omits them), retrans (current unacked retransmits), backoff,
    info (every `key:value`/flag token), raw (the socket's text)."""
    socks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if socks:
                s = socks[-1]
                s["raw"] += "\n" + line
                toks = line.split()
                i = 0
                while i < len(toks):
                    t = toks[i]
                    if t in _SS_SPACED and i + 1 < len(toks):
                        s["info"][t] = toks[i + 1]
                        i += 2
                        continue
                    if ":" in t:
                        k, v = t.split(":", 1)
                        s["info"][k] = v
                    else:
                        s["info"][t] = True
                    i += 1
                for k in ("lastsnd", "lastrcv", "lastack", "backoff"):
                    s[k] = int(s["info"].get(k, 0))
                r = s["info"].get("retrans")
                s["retrans"] = int(r.split("/")[0]) if r else 0
            continue
        f = line.split()
        if len(f) < 5:
            continue
        s = {"state": f[0], "recv_q": int(f[1]), "send_q": int(f[2]),
             "local": f[3], "peer": f[4],
             "lport": _port(f[3]), "rport": _port(f[4]),
             "timer": None, "timer_expires": "", "timer_retrans": 0,
             "lastsnd": 0, "lastrcv": 0, "lastack": 0, "retrans": 0, "backoff": 0,
             "info": {}, "raw": line}
        m = re.search(r"timer:\((\w+),([^,]*),(\d+)\)", line)
        if m:
            s["timer"], s["timer_expires"], s["timer_retrans"] = m.group(1), m.group(2), int(m.group(3))
        socks.append(s)
    return socks


def _port(addrport):
    try:
        return int(addrport.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def ss(ns, filt=""):
    """`ss -tnoiH state all FILTER` in ns, parsed (see parse_ss). LISTEN
    sockets are included; filter like "sport = :12345" or "dport = :12345".
    Each row also gets time/time_after: wall clock before and after ss ran
    (the kernel's last* values are from somewhere in between)."""
    before = time.time()
    rows = parse_ss(ns.exec(["ss", "-tnoiH", "state", "all"] + shlex.split(filt)).stdout)
    after = time.time()
    for r in rows:
        r["time"], r["time_after"] = before, after
    return rows


# ------------------------------------------------------------- exposition

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,)?')
_UNESC = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _float(s):
    low = s.lower()
    if low in ("+inf", "inf"):
        return float("inf")
    if low == "-inf":
        return float("-inf")
    if low == "nan":
        return float("nan")
    return float(s)


def parse_exposition(text):
    """Parse Prometheus text format 0.0.4 into Samples. Raises ValueError on
    malformed lines; HELP/TYPE go to .help/.types."""
    samples = Samples()
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] == "HELP":
                samples.help[parts[2]] = re.sub(r"\\[\\n]", lambda e: _UNESC[e.group(0)],
                                                parts[3] if len(parts) > 3 else "")
            elif len(parts) >= 4 and parts[1] == "TYPE":
                samples.types[parts[2]] = parts[3].strip()
            continue
        m = re.match(_NAME, line)
        if not m:
            raise ValueError("line %d: bad metric name: %r" % (lineno, line))
        name, rest = m.group(0), line[m.end():]
        labels = {}
        if rest.startswith("{"):
            rest = rest[1:]
            while True:
                rest = rest.lstrip()
                if rest.startswith("}"):
                    rest = rest[1:]
                    break
                lm = _LABEL_RE.match(rest)
                if not lm:
                    raise ValueError("line %d: bad labels: %r" % (lineno, line))
                k, v = lm.group(1), re.sub(r"\\.", lambda e: _UNESC.get(e.group(0), e.group(0)),
                                           lm.group(2))
                if k in labels:
                    raise ValueError("line %d: duplicate label %s" % (lineno, k))
                labels[k] = v
                rest = rest[lm.end():]
                if not lm.group(3) and not rest.lstrip().startswith("}"):
                    raise ValueError("line %d: bad labels: %r" % (lineno, line))
        f = rest.split()
        if len(f) not in (1, 2) or not rest[:1].isspace():
            raise ValueError("line %d: bad value: %r" % (lineno, line))
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ValueError("line %d: duplicate series %s" % (lineno, fmt_series(key)))
        samples[key] = _float(f[0])
    return samples


def fmt_series(key):
    name, labels = key
    if not labels:
        return name
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels)))


class Samples(dict):
    """(name, frozenset(label items)) -> float. value()/series() record which
    metric names were looked at, so failure reports can show them."""

    def __init__(self):
        super().__init__()
        self.help, self.types, self.accessed = {}, {}, set()

    def series(self, name, **labels):
        """{key: value} of the series of name whose labels include labels."""
        self.accessed.add(name)
        want = set(labels.items())
        return {k: v for k, v in self.items() if k[0] == name and want <= k[1]}

    def value(self, name, **labels):
        """The value of the one series of name matching labels; None if there
        is none; ScenarioFailure if several match."""
        m = self.series(name, **labels)
        if len(m) > 1:
            raise ScenarioFailure("%s%r matches %d series" % (name, labels, len(m)))
        return next(iter(m.values())) if m else None

    def names(self):
        return {k[0] for k in self}

    def report(self, names=None):
        """Text of every series of names (default: the accessed ones)."""
        names = self.accessed if names is None else names
        rows = ["  %s %s" % (fmt_series(k), v) for k, v in sorted(self.items(), key=lambda kv: fmt_series(kv[0]))
                if k[0] in names]
        return "\n".join(rows) if rows else "  (no series of %s)" % ", ".join(sorted(names))


# ----------------------------------------------------------------- exporter

class _NsHTTPConnection(http.client.HTTPConnection):
    def __init__(self, ns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ns = ns

    def connect(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = self._ns.socket(fam)
        s.settimeout(self.timeout)
        try:
            s.connect((self.host, self.port))
        except BaseException:
            s.close()
            raise
        self.sock = s


class Exporter:
    """halfopen_exporter running in ns (context manager).

    config_text (YAML) goes to a temp file passed as --config.file (None:
    no --config.file). Listens on 127.0.0.1:<free port>; __enter__ waits
    for /-/ready. On exit SIGTERM, and (when the body did not already fail)
    require exit status 0 within 5 s. stderr is kept in .stderr_text().
    """

    def __init__(self, ns, config_text, interval="1s", extra_args=(), ready_timeout=10,
                 telemetry_path="/metrics", wait_ready=True):
        self.ns = ns
        self.config_text = config_text
        self.interval = interval
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.telemetry_path = telemetry_path
        self.wait_ready = wait_ready
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.last = None
        self.exit_code = None
        self._tmp = tempfile.TemporaryDirectory(prefix="ho-exp-")
        self.config_path = os.path.join(self._tmp.name, "config.yaml")
        self._stderr_path = os.path.join(self._tmp.name, "stderr")

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop(check=False)
            self._tmp.cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(check=exc_type is None)
        finally:
            self._tmp.cleanup()
        return False

    def start(self):
        args = [exporter_binary()]
        if self.config_text is not None:
            with open(self.config_path, "w") as f:
                f.write(self.config_text)
            args.append("--config.file=" + self.config_path)
        self.port = self.ns.free_port(self.host)
        args += ["--collector.interval=" + self.interval,
                 "--web.listen-address=%s:%d" % (self.host, self.port)]
        args += self.extra_args
        self.args = args
        self._stderr = open(self._stderr_path, "w")
        self.proc = self.ns.popen(args, stdin=subprocess.DEVNULL, stdout=self._stderr,
                                  stderr=subprocess.STDOUT)
        if self.wait_ready:
            self.wait_http("/-/ready", self.ready_timeout)

    def wait_http(self, path, timeout):
        """Poll GET path until 200; raise with stderr if the exporter dies."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ScenarioFailure("exporter exited with %s before %s was 200\n  %s\n%s" % (
                    self.proc.returncode, path, shlex.join(self.args), self.stderr_text()))
            try:
                st, _, body = self.request("GET", path, timeout=1)
                if st == 200:
                    return
                last = "%d %r" % (st, body[:200])
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise ScenarioFailure("exporter: %s not 200 within %ss (last: %s)\n%s" % (
            path, timeout, last, self.stderr_text()))

    def stop(self, check=True, timeout=5):
        """SIGTERM; with check, raise unless it exits 0 within timeout."""
        if self.proc is None:
            return
        msg = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                msg = "exporter did not exit within %ss of SIGTERM" % timeout
        else:
            msg = "exporter had already exited (status %s) before SIGTERM" % self.proc.returncode
        self.exit_code = self.proc.returncode
        if msg is None and self.exit_code != 0:
            msg = "exporter exited with status %s after SIGTERM (want 0)" % self.exit_code
        self._stderr.close()
        self._stderr_text = self._read_stderr()
        self.proc = None
        if check and msg:
            raise ScenarioFailure(msg + "\n" + self.stderr_text())

    def _read_stderr(self):
        try:
            with open(self._stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stderr_text(self, tail=40):
        text = getattr(self, "_stderr_text", None)
        if text is None:
            text = self._read_stderr()
        lines = text.splitlines()[-tail:]
        return "exporter output (last %d lines):\n%s" % (len(lines), "\n".join("  | " + l for l in lines))

    # -- HTTP
    def request(self, method, path, headers=None, timeout=5):
        """(status, {lower-case header: value}, body bytes)."""
        c = _NsHTTPConnection(self.ns, self.host, self.port, timeout)
        try:
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def scrape(self, path=None):
        """GET the telemetry path; the text (requires 200)."""
        st, _, body = self.request("GET", path or self.telemetry_path)
        if st != 200:
            raise ScenarioFailure("GET %s: status %d: %r\n%s" % (
                path or self.telemetry_path, st, body[:300], self.stderr_text()))
        return body.decode("utf-8")

    def samples(self):
        """scrape() parsed (Samples); also kept as .last."""
        text = self.scrape()
        try:
            self.last = parse_exposition(text)
        except ValueError as e:
            raise ScenarioFailure("unparsable exposition: %s" % e)
        return self.last

    def value(self, name, **labels):
        return self.samples().value(name, **labels)

    def wait_for(self, fn, timeout, what, poll=0.25):
        """Scrape until fn(samples) is true; those samples. On timeout raise
        ScenarioFailure naming what, with the last values of the metrics fn
        looked at, `ss -tnoi` of the namespace and the exporter's output."""
        deadline = time.monotonic() + timeout
        s = None
        while True:
            s = self.samples()
            if fn(s):
                return s
            if time.monotonic() >= deadline:
                break
            time.sleep(poll)
        raise ScenarioFailure(self.failure_report("timed out after %ss waiting for: %s" % (timeout, what), s))

    def failure_report(self, headline, samples=None):
        samples = samples if samples is not None else self.last
        parts = [headline]
        if samples is not None:
            parts.append("last /metrics values:\n" + samples.report())
        filt = "not ( sport = :%d or dport = :%d )" % (self.port, self.port)
        parts.append("ss -tnoi state all %s (netns %s):\n%s" % (
            filt, self.ns.name, _indent(self.ns.ss_text(shlex.quote(filt)))))
        parts.append(self.stderr_text(15))
        return "\n".join(parts)


def _indent(text):
    return "\n".join("  " + l for l in text.rstrip().splitlines()) or "  (none)"


def rss_kib(pid):
    """A process's VmRSS in KiB, 0 when /proc/PID/status has none."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_until(fn, timeout, what, poll=0.1):
    """Poll fn() until it returns something truthy (returned) or raise."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise ScenarioFailure("timed out after %ss waiting for: %s" % (timeout, what))
        time.sleep(poll)


# -------------------------------------------------------------------- main

class ScenarioTimeout(ScenarioFailure):
    pass


def scenario_registry():
    """(scenarios, scenario): an empty dict for main_scenarios and the
    decorator that adds a function to it under its own name."""
    scenarios = {}

    def scenario(fn):
        scenarios[fn.__name__] = fn
        return fn
    return scenarios, scenario


def main_scenarios(scenarios, timeout):
    """The runner of a scenario script: run.py NAME runs scenarios[NAME]
    (as root, within timeout seconds), prints PASS/FAIL and the closing
    "N passed, N failed" line, and returns the exit code."""
    if len(sys.argv) != 2 or sys.argv[1] not in scenarios:
        print("usage: run.py {%s}" % "|".join(scenarios), file=sys.stderr)
        return 2
    name = sys.argv[1]
    install_signal_handlers()

    def on_alarm(_sig, _frame):
        raise ScenarioTimeout("scenario %s exceeded %ds" % (name, timeout))
    signal.signal(signal.SIGALRM, on_alarm)
    require_root("ip netns, iptables")
    ok = False
    t0 = time.monotonic()
    try:
        signal.alarm(timeout)
        scenarios[name]()
        ok = True
    except ScenarioFailure as e:
        print("FAIL %s: %s" % (name, e))
    except BaseException:
        print("FAIL %s: unexpected error" % name)
        traceback.print_exc(file=sys.stdout)
    finally:
        signal.alarm(0)
    print("%s %s (%.1fs)" % ("PASS" if ok else "FAIL", name, time.monotonic() - t0))
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    sys.stdout.flush()
    return 0 if ok else 1
