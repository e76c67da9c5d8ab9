"""The real servers of the fault lab, from Debian's packages, each run in
the foreground inside a namespace with a configuration in a temp dir
(no system service, nothing outside the dir is written).

    srv = Redis(ns, "198.18.1.2", tmpdir); srv.start(); srv.signal(SIGSTOP)

start() returns once the process runs; readiness is the caller's
(wait_listen() from the client namespace). signal() reaches the whole
process tree (runuser, the postmaster and its backends, which call
setsid() and so leave the process group); the namespace's cleanup kills
whatever is left.
"""
import os
import shutil
import signal
import subprocess
import time

from testlib import ScenarioFailure, run

PG_BIN = "/usr/lib/postgresql/%s/bin"


class Server:
    port = 0
    log_name = "server.log"

    def __init__(self, ns, addr, tmpdir):
        self.ns, self.addr, self.dir = ns, addr, tmpdir
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)

    def argv(self):
        raise NotImplementedError

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "a")
        self.proc = self.ns.popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.log,
                                  stderr=subprocess.STDOUT)

    def signal(self, sig):
        """sig to the server's process and all its descendants."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for pid in process_tree(self.proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL the process tree; return once every process of it is
        gone (reaped, not a zombie: postgres' next start probes the old
        postmaster's pid with kill(pid, 0))."""
        if self.proc is None:
            return
        pids = process_tree(self.proc.pid) if self.proc.poll() is None else []
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(os.path.exists("/proc/%d" % p) for p in pids):
            if time.monotonic() > deadline:
                raise ScenarioFailure("%s: processes %s still there 10 s after SIGKILL" % (
                    type(self).__name__, [p for p in pids if os.path.exists("/proc/%d" % p)]))
            time.sleep(0.02)

    def log_tail(self, n=15):
        """The last n lines of the server's own log (log_name), else of its
        output."""
        for name in (self.log_name, "server.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    return "".join(f.readlines()[-n:])
            except OSError:
                continue
        return ""


def process_tree(root):
    """root and every descendant pid, parents first (from /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    tree, i = [root], 0
    while i < len(tree):
        tree.extend(children.get(tree[i], []))
        i += 1
    return tree


class Redis(Server):
    port = 6379

    def argv(self):
        return ["redis-server", "--bind", self.addr, "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--dir", self.dir,
                "--daemonize", "no", "--logfile", ""]


def pg_bin():
    vers = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v.split(".")[0]))
    return PG_BIN % vers[-1]


def pg_template(tmpdir):
    """initdb once (trust auth, any address) into tmpdir/template; its path.
    Every server copies it: one initdb costs ~3 s of CPU."""
    run(["chown", "postgres", tmpdir])
    tmpl = os.path.join(tmpdir, "template")
    run(["runuser", "-u", "postgres", "--", os.path.join(pg_bin(), "initdb"), "-D", tmpl,
         "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions"], timeout=60)
    with open(os.path.join(tmpl, "pg_hba.conf"), "a") as f:
        f.write("host all all 0.0.0.0/0 trust\n")
    return tmpl


class Postgres(Server):
    port = 5432

    def __init__(self, ns, addr, tmpdir, template):
        super().__init__(ns, addr, tmpdir)
        run(["chmod", "755", self.dir])
        self.data = os.path.join(self.dir, "data")
        shutil.copytree(template, self.data, symlinks=True)
        run(["chown", "-R", "postgres:postgres", self.dir])

    def argv(self):
        opts = {"listen_addresses": self.addr, "port": self.port, "unix_socket_directories": self.dir,
                "shared_buffers": "8MB", "max_connections": 12, "fsync": "off",
                "logging_collector": "off", "dynamic_shared_memory_type": "mmap"}
        return (["runuser", "-u", "postgres", "--", os.path.join(pg_bin(), "postgres"), "-D", self.data]
                + ["-c%s=%s" % kv for kv in opts.items()])


PGBOUNCER_INI = """\
[databases]
postgres = host={upstream} port={uport} dbname=postgres user=postgres
[pgbouncer]
listen_addr = {addr}
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 4
min_pool_size = 2
server_idle_timeout = 600
tcp_keepalive = 1
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
"""


class PgBouncer(Server):
    """pgbouncer (transaction pooling) listening on addr:port, pooling its
    connections to the PostgreSQL at upstream:5432. It refuses to run as
    root: run as postgres."""
    log_name = "pgbouncer.log"

    def __init__(self, ns, addr, tmpdir, port, upstream):
        super().__init__(ns, addr, tmpdir)
        self.port = port
        self.ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(self.ini, "w") as f:
            f.write(PGBOUNCER_INI.format(addr=addr, port=port, upstream=upstream, uport=Postgres.port,
                                         dir=self.dir))
        run(["chown", "-R", "postgres:postgres", self.dir])

    def argv(self):
        return ["runuser", "-u", "postgres", "--", "pgbouncer", self.ini]



NGINX_COMMON = """\
daemon off; master_process off; worker_processes 1;
pid {dir}/nginx.pid; error_log {dir}/error.log warn;
events {{ worker_connections 128; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  client_max_body_size 16m;
{body}
}}
"""

# The backend: answers every request, keeps connections open for long.
NGINX_BACKEND = """\
  keepalive_timeout 600s; keepalive_requests 1000000;
  server {{ listen {addr}:{port}; location / {{ return 200 "ok\\n"; }} }}
"""

# The pooling client: nginx's upstream keepalive cache, SO_KEEPALIVE on
# (timers from the namespace's sysctls), nginx's default timeouts.
NGINX_FRONT = """\
  upstream backend {{ server {upstream}:{uport}; keepalive 8; keepalive_timeout 600s; }}
  server {{
    listen {addr}:{port};
    location / {{
      proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_socket_keepalive on;
    }}
  }}
"""


class Nginx(Server):
    """nginx in one process (master_process off), so SIGSTOP stops it."""
    port = 8080
    log_name = "error.log"

    def __init__(self, ns, addr, tmpdir, port=None, upstream=None):
        super().__init__(ns, addr, tmpdir)
        if port:
            self.port = port
        body = (NGINX_FRONT.format(addr=addr, port=self.port, upstream=upstream, uport=Nginx.port)
                if upstream else NGINX_BACKEND.format(addr=addr, port=self.port))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_COMMON.format(dir=self.dir, body=body))

    def argv(self):
        return ["nginx", "-p", self.dir, "-c", self.conf, "-e", os.path.join(self.dir, "error.log")]



def wait_listen(ns, addr, port, server, timeout=20):
    """Connect from ns to addr:port until it is accepted (the server is up)."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise ScenarioFailure("%s exited (status %s) before listening on %s:%d\n%s" % (
                type(server).__name__, server.proc.returncode, addr, port, server.log_tail()))
        s = ns.socket()
        s.settimeout(1)
        try:
            s.connect((addr, port))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ScenarioFailure("%s not listening on %s:%d after %ss\n%s" % (
                    type(server).__name__, addr, port, timeout, server.log_tail()))
            time.sleep(0.2)
        finally:
            s.close()
