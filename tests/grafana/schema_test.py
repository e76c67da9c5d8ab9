#!/usr/bin/env python3
"""The generated dashboards against Grafana's own types.

check_dashboards.mjs type-checks dashboard JSON with the TypeScript
compiler against npm @grafana/schema (pinned in package-lock.json, installed
with `npm ci` under the build directory). This driver runs it on every
dashboard in grafana/dashboards/, which must all pass, and on mutants of
one of them, each with one field Grafana would reject, which must each fail:
a checker that accepts anything would pass the first half alone.

Exit 0 when all passed, 1 otherwise, 77 (skipped) when node or npm is
missing or the npm registry cannot be reached (scripts/deps.sh test
installs node and npm; on CI a skip fails the run). Last line "N passed, M
failed".
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scenario"))
import common  # noqa: E402
import testlib  # noqa: E402

BUILD_ROOT = os.environ.get("HALFOPEN_BUILD_ROOT") or os.path.join(common.ROOT, "build")


def first(d, type_):
    return next(p for p in d["panels"] if p["type"] == type_)


# (name, edit): each edit makes one thing Grafana's schema does not have.
MUTANTS = [
    ("unknown dashboard field", lambda d: d.update(refreshInterval="30s")),
    ("unknown panel field", lambda d: first(d, "timeseries").update(titel="x")),
    ("timeseries option of the wrong type",
     lambda d: first(d, "timeseries")["options"]["legend"].update(showLegend="yes")),
    ("unknown legend display mode",
     lambda d: first(d, "timeseries")["options"]["legend"].update(displayMode="grid")),
    ("unknown draw style",
     lambda d: first(d, "timeseries")["fieldConfig"]["defaults"].setdefault("custom", {})
     .update(drawStyle="area")),
    ("unknown stat color mode", lambda d: first(d, "stat")["options"].update(colorMode="rainbow")),
    ("unknown table option", lambda d: first(d, "table")["options"].update(showHeaders=True)),
    ("target without expr", lambda d: first(d, "timeseries")["targets"][0].pop("expr")),
    ("unknown target field", lambda d: first(d, "timeseries")["targets"][0].update(exprs="up")),
    ("gridPos as a string", lambda d: first(d, "stat").update(gridPos="0,0,4,4")),
    ("unknown variable field",
     lambda d: d["templating"]["list"][0].update(hidden=True)),
    ("unknown panel type", lambda d: first(d, "stat").update(type="halfopen-stat")),
]


def main():
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            testlib.skip("%s not installed (scripts/deps.sh test installs it)" % tool)
    prefix = os.path.join(BUILD_ROOT, "grafana-schema")
    try:
        testlib.npm_ci(HERE, prefix)
    except testlib.NpmUnreachable as e:
        testlib.skip("npm ci cannot reach the registry: %s" % e)
    shutil.copy(os.path.join(HERE, "check_dashboards.mjs"), os.path.join(prefix, "check_dashboards.mjs"))
    dashboards = common.dashboard_files()
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="ho-dash-") as tmp:
        base = common.load_dashboard(dashboards[0])
        mutants = {}
        for i, (name, edit) in enumerate(MUTANTS):
            d = copy.deepcopy(base)
            edit(d)
            path = os.path.join(tmp, "mutant%02d.json" % i)
            with open(path, "w") as f:
                json.dump(d, f)
            mutants[os.path.basename(path)] = name
        cp = subprocess.run(["node", os.path.join(prefix, "check_dashboards.mjs")]
                            + dashboards + sorted(os.path.join(tmp, m) for m in mutants),
                            capture_output=True, text=True, timeout=300, cwd=prefix)
    verdict = {}
    for line in cp.stdout.splitlines():
        if line.startswith(("ok   ", "FAIL ")):
            verdict[line[5:].split(":")[0]] = line.startswith("ok")
    for path in dashboards:
        name = os.path.basename(path)
        ok = verdict.get(name) is True
        print("%s %s passes Grafana's schema" % ("ok  " if ok else "FAIL", name))
        passed, failed = passed + ok, failed + (not ok)
    for fname, what in sorted(mutants.items()):
        ok = verdict.get(fname) is False
        print("%s mutant rejected: %s" % ("ok  " if ok else "FAIL", what))
        passed, failed = passed + ok, failed + (not ok)
    if failed:
        print("check_dashboards.mjs said:\n" + cp.stdout[-6000:] + cp.stderr[-2000:])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
