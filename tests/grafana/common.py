"""Helpers shared by the grafana tests (Python 3 and PyYAML, Debian's python3-yaml)."""

import glob
import json
import os
import re
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import testlib  # noqa: E402,F401 - refuses to run under python3 -O (the asserts)

ROOT = os.environ.get("HALFOPEN_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
GRAFANA = os.path.join(ROOT, "grafana")
RULES = os.path.join(GRAFANA, "alerts", "halfopen.rules.yml")
RULE_TESTS = os.path.join(HERE, "halfopen.rules.test.yml")
DASHBOARD_DIR = os.path.join(GRAFANA, "dashboards")
METRICS_DOC = os.path.join(ROOT, "docs", "metrics.md")

import yaml  # noqa: E402

PROMTOOL = os.environ.get("PROMTOOL", "promtool")
PROMETHEUS = os.environ.get("PROMETHEUS", "prometheus")
ALERTMANAGER = os.environ.get("ALERTMANAGER", "prometheus-alertmanager")

# Series that exist without the exporter exposing them.
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"}


# ------------------------------------------------------------------ harness

class Runner:
    """Minimal test runner: prints one line per check and 'N passed, M failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001
            self.failed += 1
            print(f"FAIL {name}: {e}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            return False
        self.passed += 1
        print(f"ok   {name}")
        return True

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.stdout.flush()
        return 1 if self.failed else 0


# ------------------------------------------------------------------ rules

def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_rules(path=RULES):
    return load_yaml(path)


def recording_rules(doc):
    return {r["record"]: r for g in doc["groups"] for r in g["rules"] if "record" in r}


def alerting_rules(doc):
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def documented_metrics(path=METRICS_DOC):
    """Metric names of the tables in docs/metrics.md (process_* spelled out in the text)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    names = set(re.findall(r"^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|", text, re.M))
    names |= set(re.findall(r"`(process_[a-z_]+)`", text))
    return names


# The C sources that render /metrics, and the one halfopen_ word in their strings that is not a
# metric family (the program's name).
RENDER_SOURCES = ("collectors/*.c", "exporter/*.c", "exporter/*/*.c")
NOT_FAMILIES = {"halfopen_exporter"}
_C_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_FAMILY_WORD = re.compile(r"\b((?:halfopen|process)_[a-z0-9_]+)")


CLASS_TABLE = "collectors/sock_classes.h"
# How exposition.c spells a class's family: a template over the X-macro's field.
_CLASS_TEMPLATE = '"halfopen_" #field "_sockets"'


def class_families(root=ROOT):
    """The per-class gauges: exposition.c builds their names from the X-macro
    (halfopen_<field>_sockets), so no literal holds them; expand the table."""
    rendered_by_template = any(_CLASS_TEMPLATE in open(p, encoding="utf-8").read()
                               for pattern in RENDER_SOURCES
                               for p in glob.glob(os.path.join(root, pattern)))
    if not rendered_by_template:
        return set()
    with open(os.path.join(root, CLASS_TABLE), encoding="utf-8") as f:
        table = f.read().split("#define SOCK_CLASSES", 1)[1]  # past the usage comment
    fields = re.findall(r"\b(?:CLASS|SUSPECT)\(\s*[A-Z_]+,\s*([a-z_]+)\s*,", table)
    return {"halfopen_%s_sockets" % fld for fld in fields}


def rendered_families(root=ROOT):
    """Metric families the exporter's C sources can render: every halfopen_* / process_* word in a
    string literal (outside #include lines), histogram series folded into their family. Reads the
    sources, not a live scrape, so families that exist only with some config (enforce, remediation)
    count too."""
    words = set()
    for pattern in RENDER_SOURCES:
        for path in glob.glob(os.path.join(root, pattern)):
            with open(path, encoding="utf-8") as f:
                text = "\n".join(ln for ln in f.read().splitlines() if not ln.lstrip().startswith("#include"))
            for lit in _C_STRING.findall(text):
                words |= set(_FAMILY_WORD.findall(lit))
    words |= class_families(root)
    words -= NOT_FAMILIES
    return {re.sub(r"_(bucket|sum|count)$", "", w) if re.sub(r"_(bucket|sum|count)$", "", w) in words else w
            for w in words}


# ------------------------------------------------------------------ PromQL

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
             "and", "or", "unless", "inf", "nan", "atan2"}
_TOKEN = re.compile(r"(?P<num>(?:0[xX][0-9a-fA-F]+)|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:[smhdwy]|ms)?)"
                    r"|(?P<id>[A-Za-z_:][A-Za-z0-9_:]*)")


def metric_names(expr):
    """The metric names an expression selects (approximate PromQL lexer:
    strings, label matchers, ranges and grouping clauses are stripped)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"\[[^\[\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", s)
    s = re.sub(r"\$\{?\w+(?::\w+)?\}?", " ", s)
    out = set()
    for m in _TOKEN.finditer(s):
        name = m.group("id")
        if not name or name.lower() in _KEYWORDS:
            continue
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue  # function or aggregation
        out.add(name)
    return out


def grafana_variables(expr):
    return set(re.findall(r"\$\{?(\w+)", expr))


def substitute(expr, values):
    """Replaces Grafana variables ($name, ${name}, ${name:fmt}) by values[name]."""
    def rep(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no value for variable ${name} in {expr!r}")
        return values[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", rep, expr)


# ------------------------------------------------------------------ dashboards

def dashboard_files():
    return sorted(glob.glob(os.path.join(DASHBOARD_DIR, "*.json")))


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_panels(dash):
    out = []

    def walk(ps):
        for p in ps:
            out.append(p)
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    return out


def variable_query(v):
    q = v.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    return q or ""


def dashboard_queries(dash):
    """(where, expr, instant) for every panel target and every query variable."""
    out = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            out.append((f"panel {p.get('id')} '{p.get('title')}' {t.get('refId')}", t.get("expr", ""),
                        bool(t.get("instant"))))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            out.append((f"variable ${v['name']}", variable_query(v), True))
    return out


def label_values_query(q):
    """label_values(selector, label) -> (selector, label); label_values(label) -> (None, label)."""
    m = re.match(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", q, re.S)
    if m:
        return m.group(1), m.group(2)
    m = re.match(r"^\s*label_values\(\s*(\w+)\s*\)\s*$", q)
    if m:
        return None, m.group(1)
    return None, None
