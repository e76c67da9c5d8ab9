#!/usr/bin/env python3
"""Suite `rules`: the shipped rules, runbooks, dashboards and derived files.

- promtool check rules / promtool test rules on grafana/alerts/halfopen.rules.yml as shipped;
- the unit tests bite: mutated thresholds and for: durations make them fail;
- conventions of the alerts (names, severity, summary, description, runbook_url, for:);
- recording rule names (level:metric:operations), metrics documented in docs/metrics.md;
- derived files (PrometheusRule, ConfigMaps, Grafana-managed alerts) up to date and equivalent;
- dashboard structure (uids, ids, datasource variable, title/unit/description, variables, metrics).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import (GRAFANA, RULES, RULE_TESTS, Runner, alerting_rules, documented_metrics,  # noqa: E402
                    load_rules, load_yaml, metric_names, recording_rules)

PREFIX = "HalfOpen"
SEVERITIES = {"critical", "warning", "info"}
# Labels every per-service metric carries; exporter self-metrics carry only job/instance.
SERVICE_METRICS = {m for m in documented_metrics() if m.startswith("halfopen_")} - {
    "halfopen_collection_duration_seconds", "halfopen_collection_interval_seconds",
    "halfopen_collection_sockets", "halfopen_collections_total", "halfopen_collection_errors_total",
    "halfopen_last_collection_timestamp_seconds", "halfopen_config_last_reload_successful",
    "halfopen_config_last_reload_success_timestamp_seconds", "halfopen_build_info",
    "halfopen_enforce_passes_total", "halfopen_enforce_pass_errors_total", "halfopen_enforce_last_pass_seconds",
    "halfopen_enforce_passes_skipped_total", "halfopen_enforce_pass_cpu_seconds_total",
    "halfopen_enforce_dry_run", "halfopen_enforce_on_connect", "halfopen_suspects_tracked", "halfopen_suspects_tracked_max",
    "halfopen_suspects_dropped_total", "halfopen_suspects_memory_bytes", "halfopen_collection_retries_total",
    "halfopen_collection_overruns_total", "halfopen_collection_matched_sockets", "halfopen_collection_namespaces",
    "halfopen_collection_namespace_errors", "halfopen_collection_kernel_filter", "halfopen_auto_services_dropped",
    "halfopen_series_dropped"} - {m for m in documented_metrics()
                                  if m.startswith(("halfopen_http_", "halfopen_netns_"))}
EXPECTED_DASHBOARDS = {"halfopen-overview", "halfopen-service", "halfopen-exporter"}
SERVICE_DASHBOARDS = {"halfopen-overview", "halfopen-service"}
DS_REF = {"type": "prometheus", "uid": "${datasource}"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def parse_duration(s):
    total, pos = 0, 0
    for m in re.finditer(r"(\d+)(ms|s|m|h|d|w|y)", s):
        assert m.start() == pos, f"bad duration {s!r}"
        pos = m.end()
        total += int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                                    "y": 31536000}[m.group(2)]
    assert pos == len(s) and s, f"bad duration {s!r}"
    return total


# ------------------------------------------------------------------ promtool

def t_promtool_check():
    r = run([common.PROMTOOL, "check", "rules", RULES])
    assert r.returncode == 0, r.stdout + r.stderr
    n = len(alerting_rules(load_rules())) + len(recording_rules(load_rules()))
    assert f"SUCCESS: {n} rules found" in r.stdout, r.stdout


def t_promtool_test():
    r = run([common.PROMTOOL, "test", "rules", RULE_TESTS])
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def t_every_alert_tested():
    tests = load_yaml(RULE_TESTS)
    fires, silent = set(), set()
    for t in tests["tests"]:
        for a in t.get("alert_rule_test", []) or []:
            exp = a.get("exp_alerts") or []
            (fires if exp else silent).add(a["alertname"])
            for e in exp:
                labels, ann = e.get("exp_labels") or {}, e.get("exp_annotations") or {}
                assert "severity" in labels, f"{a['alertname']}: exp_labels without severity"
                assert {"summary", "description", "runbook_url"} <= set(ann), \
                    f"{a['alertname']}: exp_annotations must check summary, description, runbook_url"
    names = {r["alert"] for r in alerting_rules(load_rules())}
    assert names - fires == set(), f"alerts never tested firing: {sorted(names - fires)}"
    assert names - silent == set(), f"alerts never tested silent: {sorted(names - silent)}"
    recs = set(recording_rules(load_rules()))
    tested = {p["expr"] for t in tests["tests"] for p in (t.get("promql_expr_test") or [])}
    assert recs - tested == set(), f"recording rules without promql_expr_test: {sorted(recs - tested)}"


# Mutations that must each make `promtool test rules` fail: they prove that the
# just-below-threshold and not-yet-for cases really constrain the rules.
MUTATIONS = [
    ("halfopen_longest_hanging_seconds > 60", "halfopen_longest_hanging_seconds >= 60"),
    ("halfopen_longest_hanging_seconds > 60", "halfopen_longest_hanging_seconds > 59"),
    ("halfopen_longest_hanging_seconds > 60", "halfopen_longest_unanswered_seconds > 60"),
    ("halfopen_stale_sockets:ratio > 0.5", "halfopen_stale_sockets:ratio >= 0.5"),
    ("halfopen_keepalive_sockets:ratio < 0.5", "halfopen_keepalive_sockets:ratio <= 0.5"),
    ("halfopen_close_wait_sockets > 10 and", "halfopen_close_wait_sockets >= 10 and"),
    ("and deriv(halfopen_close_wait_sockets[30m]) > 0", "and deriv(halfopen_close_wait_sockets[30m]) >= 0"),
    ("halfopen_zero_window_sockets > 0\n        for: 10m", "halfopen_zero_window_sockets > 0\n        for: 9m"),
    ('up{job=~".*halfopen.*"} == 0\n        for: 5m', 'up{job=~".*halfopen.*"} == 0\n        for: 4m'),
    ("ratio_rate5m > 0.1", "ratio_rate5m > 0.08"),
    ("clamp_min(10 * halfopen_collection_interval_seconds, 120)",
     "clamp_min(10 * halfopen_collection_interval_seconds, 120) - 1"),
    ("instance:halfopen_collection_duration:ratio > 1", "instance:halfopen_collection_duration:ratio >= 1"),
    ("halfopen_config_last_reload_successful == 0\n        for: 10m",
     "halfopen_config_last_reload_successful == 0\n        for: 8m"),
    ('halfopen_idle_past_path_timeout_sockets{direction="outbound"} > 0\n        for: 5m',
     'halfopen_idle_past_path_timeout_sockets{direction="outbound"} > 0\n        for: 4m'),
    ('halfopen_idle_past_path_timeout_sockets{direction="outbound"} > 0',
     'halfopen_idle_past_path_timeout_sockets > 0'),
    ('max_over_time(halfopen_keepalive_slower_than_path_sockets{direction="outbound"}[10m]) > 0',
     'halfopen_keepalive_slower_than_path_sockets{direction="outbound"} > 0'),
    ('max_over_time(halfopen_keepalive_slower_than_path_sockets{direction="outbound"}[10m]) > 0',
     'max_over_time(halfopen_keepalive_slower_than_path_sockets[10m]) > 0'),
    ('max_over_time(halfopen_keepalive_slower_than_path_sockets{direction="outbound"}[10m]) > 0',
     'max_over_time(halfopen_keepalive_slower_than_path_sockets{direction="outbound"}[12m]) > 0'),
    ("expr: halfopen_longest_hanging_seconds > 60\n        for: 2m",
     "expr: halfopen_longest_hanging_seconds > 60\n        for: 1m"),
]


def t_mutations_caught():
    text = open(RULES, encoding="utf-8").read()
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "grafana", "alerts"))
        os.makedirs(os.path.join(d, "tests", "grafana"))
        shutil.copy(RULE_TESTS, os.path.join(d, "tests", "grafana"))
        survived = []
        for old, new in MUTATIONS:
            assert text.count(old) == 1, f"mutation anchor not unique/absent: {old!r}"
            with open(os.path.join(d, "grafana", "alerts", "halfopen.rules.yml"), "w") as f:
                f.write(text.replace(old, new))
            r = run([common.PROMTOOL, "test", "rules",
                     os.path.join(d, "tests", "grafana", os.path.basename(RULE_TESTS))])
            if r.returncode == 0:
                survived.append(new)
        assert not survived, f"mutations not caught by the unit tests: {survived}"


# ------------------------------------------------------------------ conventions

def t_alert_conventions():
    doc = load_rules()
    problems = []
    names = set()
    for r in alerting_rules(doc):
        a = r["alert"]
        if a in names:
            problems.append(f"{a}: duplicate")
        names.add(a)
        if not re.fullmatch(PREFIX + r"(?:[A-Z][a-z0-9]+)+", a):
            problems.append(f"{a}: not CamelCase with prefix {PREFIX}")
        labels, ann = r.get("labels") or {}, r.get("annotations") or {}
        if labels.get("severity") not in SEVERITIES:
            problems.append(f"{a}: severity {labels.get('severity')!r}")
        if set(labels) - {"severity"}:
            problems.append(f"{a}: unexpected static labels {sorted(set(labels) - {'severity'})}")
        summ = ann.get("summary", "")
        if not summ.endswith(".") or "{{" in summ or "$" in summ:
            problems.append(f"{a}: summary must be static and end with a period")
        desc = ann.get("description", "")
        for need in ("$labels.instance", "$value"):
            if need not in desc:
                problems.append(f"{a}: description lacks {need}")
        if metric_names(r["expr"]) & (SERVICE_METRICS | {n for n in recording_rules(doc) if "tcp_service" in n}):
            for need in ("$labels.tcp_service", "$labels.direction"):
                if need not in desc:
                    problems.append(f"{a}: per-service description lacks {need}")
        else:
            if "$labels.job" not in desc:
                problems.append(f"{a}: exporter description lacks $labels.job")
        url = ann.get("runbook_url", "")
        # A path in this repository, rebased by generate.py --runbook-base-url:
        # no made-up web address is shipped.
        m = re.fullmatch(r"grafana/runbooks/(\w+)\.md", url)
        if not m or m.group(1) != a:
            problems.append(f"{a}: runbook_url {url!r} does not point to grafana/runbooks/{a}.md")
        elif not os.path.isfile(os.path.join(GRAFANA, "runbooks", a + ".md")):
            problems.append(f"{a}: runbook grafana/runbooks/{a}.md missing")
        f = r.get("for")
        if not f or parse_duration(f) < 120:
            problems.append(f"{a}: for: {f!r} < 2m would page on one slow scrape")
        if set(r) - {"alert", "expr", "for", "labels", "annotations"}:
            problems.append(f"{a}: fields newer than Prometheus 2.42 or unknown: {sorted(set(r) - {'alert', 'expr', 'for', 'labels', 'annotations'})}")
    assert names >= {"HalfOpenPoolHanging", "HalfOpenStaleConnections", "HalfOpenKeepaliveMissing",
                     "HalfOpenCloseWaitLeak", "HalfOpenZeroWindow", "HalfOpenExporterDown",
                     "HalfOpenExporterCollectionsFailing", "HalfOpenExporterCollectionsSlow"}, names
    assert not problems, "\n  " + "\n  ".join(problems)


def t_recording_conventions():
    doc = load_rules()
    recs = recording_rules(doc)
    bad = [n for n in recs if not re.fullmatch(r"[a-z_]+:halfopen_[a-z_]+:[a-z0-9_]+", n)]
    assert not bad, f"recording rules not named level:metric:operations: {bad}"
    # Each one is reused: by an alert or a dashboard.
    used = " ".join(r["expr"] for r in alerting_rules(doc))
    for path in common.dashboard_files():
        used += " ".join(e for _, e, _ in common.dashboard_queries(common.load_dashboard(path)))
    unused = [n for n in recs if n not in used]
    assert not unused, f"recording rules nobody uses: {unused}"


def t_rules_use_documented_metrics():
    doc = load_rules()
    known = documented_metrics() | set(recording_rules(doc)) | common.PROMETHEUS_SERIES
    bad = {}
    for r in doc["groups"][0]["rules"] + [x for g in doc["groups"][1:] for x in g["rules"]]:
        unknown = metric_names(r["expr"]) - known
        if unknown:
            bad[r.get("alert") or r.get("record")] = sorted(unknown)
    assert not bad, f"rules use metrics the exporter does not document: {bad}"


def t_families_documented(doc_path=common.METRICS_DOC):
    rendered = common.rendered_families()
    # The extractor must see every render site, or an empty set would pass.
    for must in ("halfopen_established_sockets", "halfopen_longest_hanging_seconds", "halfopen_build_info",
                 "halfopen_suspect_duration_seconds", "halfopen_enforce_errors_total",
                 "halfopen_enforce_dry_run", "process_cpu_seconds_total"):
        assert must in rendered, f"{must} not found in {common.RENDER_SOURCES}: the extractor is broken"
    documented = documented_metrics(doc_path)
    missing = sorted(rendered - documented)
    stale = sorted(documented - rendered)
    assert not missing, f"families the exporter renders but docs/metrics.md does not document: {missing}"
    assert not stale, f"families docs/metrics.md documents but the exporter never renders: {stale}"


def t_families_check_fails():
    # The check above must fail on docs/metrics.md without one family's row.
    with open(common.METRICS_DOC, encoding="utf-8") as f:
        text = f.read()
    for family in ("halfopen_enforce_last_pass_seconds", "halfopen_longest_hanging_seconds"):
        cut = re.sub(r"^\|\s*`" + family + r"`\s*\|.*\n", "", text, flags=re.M)
        assert cut != text, f"no row for {family} in docs/metrics.md"
        with tempfile.NamedTemporaryFile("w", suffix=".md") as f:
            f.write(cut)
            f.flush()
            try:
                t_families_documented(f.name)
            except AssertionError as e:
                assert family in str(e), e
                continue
        raise AssertionError(f"the check passed without {family}'s row")


def t_runbooks():
    names = {r["alert"] for r in alerting_rules(load_rules())}
    files = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(GRAFANA, "runbooks")) if f.endswith(".md")}
    assert files - {"README"} == names, f"runbooks vs alerts: extra {sorted(files - names - {'README'})}, missing {sorted(names - files)}"
    for n in names:
        text = open(os.path.join(GRAFANA, "runbooks", n + ".md"), encoding="utf-8").read()
        for section in ("## Meaning", "## Confirm by hand", "## Fix"):
            assert section in text, f"{n}.md lacks '{section}'"
        assert text.startswith(f"# {n}\n"), f"{n}.md must start with '# {n}'"
    readme = open(os.path.join(GRAFANA, "runbooks", "README.md"), encoding="utf-8").read()
    for n in names:
        assert f"]({n}.md)" in readme, f"runbooks/README.md does not link {n}.md"


# ------------------------------------------------------------------ derived files

def t_generated_up_to_date():
    r = run([sys.executable, os.path.join(GRAFANA, "generate.py"), "--check"])
    assert r.returncode == 0, r.stdout + r.stderr


def t_runbook_base_url():
    """generate.py --runbook-base-url renders every file with runbook_url =
    <base>/<alertname>.md and changes nothing else; a bad base is refused."""
    base = "https://runbooks.test/halfopen"
    gen = os.path.join(GRAFANA, "generate.py")
    with tempfile.TemporaryDirectory() as d:
        cp = subprocess.run([sys.executable, gen, "--runbook-base-url", base + "/", "--output-dir", d],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        names = [a["alert"] for a in alerting_rules(load_rules())]
        rendered = 0
        for rel in ("alerts/halfopen.rules.yml", "alerts/halfopen.prometheusrule.yaml",
                    "provisioning/alerting/halfopen-alerts.yaml",
                    "kubernetes/halfopen-grafana-alerts.configmap.yaml"):
            got = open(os.path.join(d, rel), encoding="utf-8").read()
            orig = open(os.path.join(GRAFANA, rel), encoding="utf-8").read()
            for a in names:
                assert f"{base}/{a}.md" in got, f"{rel}: no {base}/{a}.md"
                rendered += 1
            assert "grafana/runbooks/HalfOpen" not in got, f"{rel}: a runbook_url kept the repo path"
            unquote = re.compile(r'(runbook_url: )"([^"\s]+)"$', re.M)  # YAML may quote a URL
            assert unquote.sub(r"\1\2", got.replace(base + "/", "grafana/runbooks/")) == unquote.sub(r"\1\2", orig), \
                f"{rel}: differs beyond runbook_url"
        assert rendered == 4 * len(names)
        promtool = subprocess.run([common.PROMTOOL, "check", "rules", os.path.join(d, "alerts/halfopen.rules.yml")],
                                  capture_output=True, text=True, timeout=60)
        assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    cp = subprocess.run([sys.executable, gen, "--runbook-base-url", "http://x/{{ bad }}", "--check"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 2 and "runbook-base-url" in cp.stderr, (cp.returncode, cp.stderr)


def t_runbook_base_kustomize():
    """deploy/kubernetes (both the root and the podmonitor overlay) takes the
    runbook base from components/runbooks: the default keeps the repo path,
    a set base reaches every runbook_url of the PrometheusRule, and the
    ConfigMap that carries it is not deployed."""
    if not shutil.which("kubectl"):
        raise AssertionError("kubectl not installed (scripts/deps.sh test installs kubernetes-client)")
    names = [a["alert"] for a in alerting_rules(load_rules())]
    comp = os.path.join("deploy", "kubernetes", "components", "runbooks", "kustomization.yaml")
    with tempfile.TemporaryDirectory() as d:
        for top in ("deploy", "grafana"):
            shutil.copytree(os.path.join(common.ROOT, top), os.path.join(d, top))
        for base in ("grafana/runbooks", "https://runbooks.test/on-call/halfopen"):
            path = os.path.join(d, comp)
            text = open(path, encoding="utf-8").read()
            text = re.sub(r"runbook-base-url=\S+", "runbook-base-url=" + base, text)
            open(path, "w", encoding="utf-8").write(text)
            for k in ("deploy/kubernetes", "deploy/kubernetes/overlays/podmonitor"):
                cp = subprocess.run(["kubectl", "kustomize", os.path.join(d, k)], capture_output=True, text=True,
                                    timeout=120)
                assert cp.returncode == 0, cp.stderr[-800:]
                rule = cp.stdout[cp.stdout.index("kind: PrometheusRule"):]
                rule = rule[:rule.find("\n---")] if "\n---" in rule else rule
                urls = re.findall(r"runbook_url: (\S+)", rule)
                assert urls == [f"{base}/{a}.md" for a in names], (k, base, urls)
                assert "halfopen-runbooks" not in cp.stdout, f"{k}: the local-config ConfigMap is deployed"


def t_prometheusrule_equivalent():
    pr = load_yaml(os.path.join(GRAFANA, "alerts", "halfopen.prometheusrule.yaml"))
    assert pr["apiVersion"] == "monitoring.coreos.com/v1" and pr["kind"] == "PrometheusRule"
    assert pr["metadata"]["name"]
    assert pr["spec"] == load_rules(), "PrometheusRule spec differs from grafana/alerts/halfopen.rules.yml"


def t_configmaps():
    for path in common.dashboard_files():
        uid = os.path.splitext(os.path.basename(path))[0]
        cm_path = os.path.join(GRAFANA, "kubernetes", uid + ".configmap.yaml")
        cm = load_yaml(cm_path)
        assert cm["kind"] == "ConfigMap" and cm["apiVersion"] == "v1", cm_path
        assert cm["metadata"]["labels"].get("grafana_dashboard") == "1", f"{cm_path}: label grafana_dashboard: \"1\""
        assert cm["data"] == {uid + ".json": open(path, encoding="utf-8").read()}, f"{cm_path}: data differs"
        assert len(json.dumps(cm)) < 900_000, f"{cm_path}: too large for a ConfigMap"


def t_grafana_alerts():
    doc = load_rules()
    prov = load_yaml(os.path.join(GRAFANA, "provisioning", "alerting", "halfopen-alerts.yaml"))
    # Grafana's provisioning wants numbers here, Kubernetes wants strings
    # for label values: 1 and "1" are different things.
    assert prov["apiVersion"] == 1 and prov["groups"][0]["orgId"] == 1, prov["apiVersion"]
    assert isinstance(prov["groups"][0]["interval"], str), prov["groups"][0]["interval"]
    rules = [r for g in prov["groups"] for r in g["rules"]]
    by_title = {r["title"]: r for r in rules}
    src = {r["alert"]: r for r in alerting_rules(doc)}
    assert set(by_title) == set(src), f"Grafana rules {sorted(by_title)} vs {sorted(src)}"
    uids = [r["uid"] for r in rules]
    assert len(set(uids)) == len(uids) and all(len(u) <= 40 for u in uids), uids
    recs = set(recording_rules(doc))
    for name, g in by_title.items():
        s = src[name]
        assert g["for"] == s["for"] and isinstance(g["for"], str), name
        assert g["isPaused"] is False, name
        assert g["labels"] == s["labels"], name
        assert all("$" not in v for v in g["labels"].values()), f"{name}: '$' in labels is interpolated by Grafana"
        assert set(g["annotations"]) == set(s["annotations"]), name
        for k, v in g["annotations"].items():
            assert "${" not in v, f"{name}: '${{' in annotations is interpolated by Grafana"
            assert re.sub(r"\$values\.B\.Value", "$value", v) == s["annotations"][k], f"{name}.{k}"
        refs = {d["refId"]: d for d in g["data"]}
        assert g["condition"] in refs, name
        expr = refs["A"]["model"]["expr"]
        assert not (metric_names(expr) & recs), f"{name}: Grafana rule still uses recording rules: {expr}"
        assert metric_names(expr) <= documented_metrics() | common.PROMETHEUS_SERIES, name
        assert g["noDataState"] == "OK" and g["execErrState"], name
    kcm = load_yaml(os.path.join(GRAFANA, "kubernetes", "halfopen-grafana-alerts.configmap.yaml"))
    assert kcm["metadata"]["labels"].get("grafana_alert") == "1"


# ------------------------------------------------------------------ dashboards

def t_dashboard(path):
    d = common.load_dashboard(path)
    uid = os.path.splitext(os.path.basename(path))[0]
    problems = []
    if d.get("uid") != uid:
        problems.append(f"uid {d.get('uid')!r} must be fixed and equal the file name {uid!r}")
    if len(uid) > 40:
        problems.append("uid longer than 40 characters")
    if not d.get("title") or not d.get("description"):
        problems.append("dashboard title/description missing")
    if not d.get("tags") or "halfopen" not in d["tags"]:
        problems.append("tags must include 'halfopen'")
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 39:
        problems.append(f"schemaVersion {d.get('schemaVersion')} < 39")
    if "__inputs" in d or "__requires" in d:
        problems.append("export-for-sharing artifacts (__inputs/__requires) present")
    if d.get("id") not in (None,):
        problems.append("dashboard id must be null/absent (provisioning assigns it)")

    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no datasource variable of type datasource/prometheus")
    wanted = {"job", "instance"} | ({"tcp_service"} if uid in SERVICE_DASHBOARDS else set())
    for name in wanted:
        v = variables.get(name)
        if not v or v.get("type") != "query":
            problems.append(f"variable ${name} missing")
        elif v.get("datasource") != DS_REF:
            problems.append(f"variable ${name} does not use the datasource variable")
    for v in variables.values():
        if v.get("type") == "query":
            sel, label = common.label_values_query(common.variable_query(v))
            if not label:
                problems.append(f"variable ${v['name']}: query is not label_values(...)")
            elif metric_names(sel or "") - documented_metrics():
                problems.append(f"variable ${v['name']}: selector names undocumented metrics")
            for var in common.grafana_variables(sel or ""):
                if var not in variables:
                    problems.append(f"variable ${v['name']}: uses undefined variable ${var}")

    # Panels.
    panels = common.all_panels(d)
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append(f"panel ids not unique: {ids}")
    grid = {}
    known_metrics = documented_metrics() | set(recording_rules(load_rules())) | common.PROMETHEUS_SERIES
    for p in panels:
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("type") == "row":
            problems.append(f"{where}: rows are not used (every panel must carry a unit)")
            continue
        if not p.get("title"):
            problems.append(f"{where}: no title")
        if not (p.get("description") or "").strip():
            problems.append(f"{where}: no description")
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not unit:
            problems.append(f"{where}: no unit")
        if p.get("datasource") != DS_REF:
            problems.append(f"{where}: datasource {p.get('datasource')} is not the $datasource variable")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"{where}: no query")
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)) or None in refs:
            problems.append(f"{where}: refIds not unique: {refs}")
        for t in targets:
            if t.get("datasource") != DS_REF:
                problems.append(f"{where} {t.get('refId')}: target datasource is not $datasource")
            expr = t.get("expr", "")
            if not expr.strip():
                problems.append(f"{where} {t.get('refId')}: empty expr")
            for var in common.grafana_variables(expr):
                if var not in variables and var not in common.GRAFANA_BUILTINS:
                    problems.append(f"{where}: expr uses undefined variable ${var}")
            unknown = metric_names(expr) - known_metrics
            if unknown:
                problems.append(f"{where}: metrics not exposed by the exporter: {sorted(unknown)}")
            if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
                problems.append(f"{where}: unbalanced brackets in {expr!r}")
            if uid in SERVICE_DASHBOARDS and metric_names(expr) & SERVICE_METRICS and 'tcp_service=~"$tcp_service"' not in expr:
                problems.append(f"{where}: per-service query ignores $tcp_service")
            if metric_names(expr) - {"ALERTS"} and 'instance=~"$instance"' not in expr:
                problems.append(f"{where}: query ignores $instance")
        gp = p.get("gridPos") or {}
        if not all(isinstance(gp.get(k), int) for k in ("x", "y", "w", "h")) or gp["x"] + gp["w"] > 24:
            problems.append(f"{where}: bad gridPos {gp}")
        else:
            for x in range(gp["x"], gp["x"] + gp["w"]):
                for y in range(gp["y"], gp["y"] + gp["h"]):
                    if (x, y) in grid:
                        problems.append(f"{where}: overlaps panel {grid[(x, y)]}")
                        break
                    grid[(x, y)] = p.get("id")
                else:
                    continue
                break
    # No hard-coded datasource anywhere.
    text = json.dumps(d)
    for m in re.finditer(r'"uid":\s*"([^"]*)"', text):
        if m.group(1) not in ("${datasource}", uid):
            problems.append(f"hard-coded uid {m.group(1)!r}")
    assert not problems, "\n  " + "\n  ".join(problems)


def t_dashboard_set():
    uids = {os.path.splitext(os.path.basename(p))[0] for p in common.dashboard_files()}
    assert uids == EXPECTED_DASHBOARDS, uids


def t_metric_name_lexer():
    # The metric-name check is only as good as its lexer.
    cases = {
        'sum by (tcp_service) (rate(halfopen_collections_total{job=~"$job"}[$__rate_interval]))':
            {"halfopen_collections_total"},
        'count(up{job=~"a"} == 0) or vector(0)': {"up"},
        'time() - halfopen_last_collection_timestamp_seconds > clamp_min(10 * x_interval, 120)':
            {"halfopen_last_collection_timestamp_seconds", "x_interval"},
        'a / on (job) group_left (version) b offset 5m': {"a", "b"},
        'level:metric:ratio > 1e3 and inf > 0x1F': {"level:metric:ratio"},
        'ALERTS{alertname=~"HalfOpen.*", alertstate="firing"}': {"ALERTS"},
    }
    for expr, want in cases.items():
        got = metric_names(expr)
        assert got == want, f"{expr!r}: {got} != {want}"


def main():
    r = Runner()
    r.check("metric name lexer", t_metric_name_lexer)
    r.check("promtool check rules", t_promtool_check)
    r.check("promtool test rules", t_promtool_test)
    r.check("every alert and recording rule has unit tests", t_every_alert_tested)
    r.check("unit tests catch threshold/for mutations", t_mutations_caught)
    r.check("alert conventions", t_alert_conventions)
    r.check("recording rule conventions", t_recording_conventions)
    r.check("rules use documented metrics", t_rules_use_documented_metrics)
    r.check("every family the exporter renders is in docs/metrics.md, and no other", t_families_documented)
    r.check("... and that check fails without a family's row", t_families_check_fails)
    r.check("one runbook per alert", t_runbooks)
    r.check("derived files up to date (generate.py --check)", t_generated_up_to_date)
    r.check("runbook base URL is a setting of generate.py", t_runbook_base_url)
    r.check("runbook base URL is a setting of the kustomize rendering", t_runbook_base_kustomize)
    r.check("PrometheusRule equals the rules file", t_prometheusrule_equivalent)
    r.check("dashboard ConfigMaps", t_configmaps)
    r.check("Grafana-managed alerts match the rules", t_grafana_alerts)
    r.check("dashboard set", t_dashboard_set)
    for path in common.dashboard_files():
        r.check(f"dashboard structure {os.path.basename(path)}", t_dashboard, path)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
