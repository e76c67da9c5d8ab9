"""hlib: shared bits of the hardening tests (tests/hardening/*.py).

Builds on tests/scenario/testlib.py (network namespaces, the exporter under
test). Adds: a Runner that prints one line per check and the closing
`N passed, M failed`, bcrypt hashes through libcrypt (no Python package
needed), curl inside a namespace, and the test TLS material.
"""
import ctypes
import ctypes.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402

TLS = os.path.join(os.path.dirname(HERE), "fixtures", "tls")


class Runner:
    """One line per check, then 'N passed, M failed'; exit status 1 on any failure."""

    def __init__(self):
        # Every hardening test runs the exporter in namespaces it makes.
        testlib.require_root("network namespaces")
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
            self.failed += 1
            print("FAIL %s (%.1fs): %s" % (name, time.monotonic() - t0, e))
            if not isinstance(e, (AssertionError, testlib.ScenarioFailure)):
                traceback.print_exc()
            sys.stdout.flush()
            return False
        self.passed += 1
        print("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
        sys.stdout.flush()
        return True

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.stdout.flush()
        return 1 if self.failed else 0


_crypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
_crypt.crypt_gensalt.restype = ctypes.c_char_p
_crypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_crypt.crypt.restype = ctypes.c_char_p
_crypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def bcrypt_hash(password, cost=10):
    """A $2y$ bcrypt hash of password, as htpasswd -B makes."""
    salt = _crypt.crypt_gensalt(b"$2y$", cost, None, 0)
    h = _crypt.crypt(password.encode(), salt)
    if not h or not h.startswith(b"$2y$"):
        raise RuntimeError("libcrypt cannot make bcrypt hashes")
    return h.decode()


def curl(ns, url, *args, timeout=15):
    """curl in ns: (http status as int, 0 when none; stdout; stderr; rc)."""
    cp = ns.exec(["curl", "-sS", "--max-time", "10", "-o", "/dev/stdout", "-w",
                  "\n%{http_code}", *args, url], check=False, timeout=timeout)
    out, _, code = cp.stdout.rpartition("\n")
    try:
        status = int(code)
    except ValueError:
        status = 0
    return status, out, cp.stderr, cp.returncode


def wait_for_log(exp, needle, timeout=10):
    """Wait until the exporter's output contains needle; that output."""
    deadline = time.monotonic() + timeout
    while True:
        text = exp._read_stderr()
        if needle in text:
            return text
        if time.monotonic() >= deadline:
            raise AssertionError("no %r in the exporter's log within %ss\n%s" % (
                needle, timeout, exp.stderr_text(20)))
        time.sleep(0.1)


def metric(text, name):
    """The value of an unlabelled sample name in exposition text, or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None
