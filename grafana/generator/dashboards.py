"""The Grafana dashboards, as code. grafana/generate.py writes them to
grafana/dashboards/*.json; edit here, not the JSON.

Conventions (checked by tests/grafana/test_rules.py):
- every panel and every query use the `datasource` variable;
- every panel has a title, a description and a unit;
- panel ids are unique in a dashboard, uids are fixed;
- queries use only metrics the exporter exposes (docs/metrics.md), the
  recording rules of grafana/alerts/halfopen.rules.yml, `up` and `ALERTS`.
"""

import os
import re

DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
TAGS = ["halfopen", "tcp", "prometheus"]

# Label matchers of the template variables.
EXP = 'job=~"$job", instance=~"$instance"'
SVC = 'job=~"$job", instance=~"$instance", tcp_service=~"$tcp_service", direction=~"$direction"'

SOCK_CLASSES_H = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                              "collectors", "sock_classes.h")


def parse_sock_classes(text):
    """The socket classes of sock_classes.h's SOCK_CLASSES X-macro, in declaration
    order: [(field, rank)], rank None for a CLASS line, the severity rank for SUSPECT.
    The exporter's families are halfopen_<field>_sockets."""
    m = re.search(r"#define SOCK_CLASSES\(CLASS, SUSPECT\)((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        raise ValueError("sock_classes.h: no SOCK_CLASSES(CLASS, SUSPECT) X-macro")
    out = [(field, int(rank) if kind == "SUSPECT" else None) for kind, field, rank in
           re.findall(r"\b(CLASS|SUSPECT)\(\s*[A-Z_]+\s*,\s*([a-z_]+)\s*,\s*(?:(\d+)\s*,)?",
                      m.group(1))]
    if not out:
        raise ValueError("sock_classes.h: SOCK_CLASSES declares no class")
    return out


with open(SOCK_CLASSES_H) as _f:
    SOCK_CLASSES = parse_sock_classes(_f.read())

# How panels name a class: its field with spaces, but for these.
CLASS_LEGEND = {"keepalive": "with keepalive", "close_wait": "CLOSE_WAIT"}


def class_legend(field):
    unknown = set(CLASS_LEGEND) - {f for f, _ in SOCK_CLASSES}
    if unknown:
        raise ValueError("CLASS_LEGEND names classes sock_classes.h does not have: %s"
                         % ", ".join(sorted(unknown)))
    return CLASS_LEGEND.get(field, field.replace("_", " "))


def all_classes():
    """Every class: the plain ones, then the suspect ones, each in declaration order."""
    return ([f for f, rank in SOCK_CLASSES if rank is None]
            + [f for f, rank in SOCK_CLASSES if rank is not None])


def suspect_classes():
    """The suspect classes, worst first (their rank: the /sockets page's order)."""
    return [f for f, rank in sorted((c for c in SOCK_CLASSES if c[1] is not None),
                                    key=lambda c: c[1])]


BY_SVC = "instance, tcp_service, direction"
LEGEND_SVC = "{{instance}} {{tcp_service}} ({{direction}})"


# ---------------------------------------------------------------- builders

def _datasource_var():
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "regex": "",
        "hide": 0,
        "current": {},
        "options": [],
        "refresh": 1,
        "description": "Prometheus data source that scrapes halfopen_exporter.",
    }


def _query_var(name, label, query, description, multi=True, include_all=True):
    v = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": query,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "hide": 0,
        "multi": multi,
        "includeAll": include_all,
        "current": {},
        "options": [],
        "description": description,
    }
    if include_all:
        v["allValue"] = ".+"
    return v


def _variables(service=False, service_single=False):
    vs = [
        _datasource_var(),
        _query_var("job", "Job", "label_values(halfopen_build_info, job)",
                   "Prometheus job(s) scraping halfopen_exporter."),
        _query_var("instance", "Node", 'label_values(halfopen_build_info{job=~"$job"}, instance)',
                   "Exporter instance(s): one per node."),
    ]
    if service:
        single = service_single
        vs.append(_query_var(
            "tcp_service", "Service",
            'label_values(halfopen_established_sockets{job=~"$job", instance=~"$instance"}, tcp_service)',
            "Configured service(s) (tcp_service label).", multi=not single, include_all=not single))
        vs.append(_query_var(
            "direction", "Direction",
            'label_values(halfopen_established_sockets{job=~"$job", instance=~"$instance", tcp_service=~"$tcp_service"}, direction)',
            "inbound: this node is the server; outbound: this node is the client."))
    return {"list": vs}


def _target(expr, legend="", ref="A", instant=False, table=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend, "range": not instant,
         "instant": instant, "editorMode": "code"}
    if table:
        t["format"] = "table"
    return t


def _thresholds(*steps):
    """steps: (value_or_None, color) ..."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


GREEN = (None, "green")


def _panel(pid, ptype, title, description, unit, targets, pos, thresholds=None, options=None,
           custom=None, overrides=None, extra=None, decimals=None, minv=None, maxv=None,
           mappings=None, transformations=None, links=None):
    defaults = {"unit": unit, "thresholds": thresholds or _thresholds(GREEN)}
    if ptype not in ("table",):
        defaults["color"] = {"mode": "palette-classic" if ptype == "timeseries" else "thresholds"}
    if decimals is not None:
        defaults["decimals"] = decimals
    if minv is not None:
        defaults["min"] = minv
    if maxv is not None:
        defaults["max"] = maxv
    if mappings:
        defaults["mappings"] = mappings
    if custom:
        defaults["custom"] = custom
    if links:
        defaults["links"] = links
    p = {
        "id": pid,
        "type": ptype,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": pos[0], "y": pos[1], "w": pos[2], "h": pos[3]},
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "targets": [dict(t, refId=t.get("refId") or chr(65 + i)) for i, t in enumerate(targets)],
    }
    if transformations:
        p["transformations"] = transformations
    if extra:
        p.update(extra)
    return p


def _stat(pid, title, description, unit, expr, pos, thresholds=None, decimals=None, mappings=None):
    return _panel(pid, "stat", title, description, unit, [_target(expr, instant=False)], pos,
                  thresholds=thresholds, decimals=decimals, mappings=mappings,
                  options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "colorMode": "background", "graphMode": "area", "textMode": "value",
                           "justifyMode": "auto", "orientation": "auto"})


def _timeseries(pid, title, description, unit, targets, pos, thresholds=None, threshold_style=None,
                stack=False, minv=None, maxv=None):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "axisSoftMin": 0,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"},
              "thresholdsStyle": {"mode": threshold_style or "off"}}
    return _panel(pid, "timeseries", title, description, unit, targets, pos, thresholds=thresholds,
                  custom=custom, minv=minv, maxv=maxv,
                  options={"legend": {"displayMode": "table", "placement": "right",
                                      "calcs": ["lastNotNull", "max"], "showLegend": True},
                           "tooltip": {"mode": "multi", "sort": "desc"}})


def _table(pid, title, description, unit, targets, pos, overrides=None, organize=None, links=None,
           sort_by=None):
    transformations = [{"id": "merge", "options": {}}]
    if organize:
        transformations.append({"id": "organize", "options": organize})
    opts = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}}
    if sort_by:
        opts["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return _panel(pid, "table", title, description, unit, targets, pos, overrides=overrides,
                  transformations=transformations, options=opts,
                  custom={"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
                  links=links)


def _col_override(name, display, unit, thresholds=None, color_cells=False):
    props = [{"id": "displayName", "value": display}, {"id": "unit", "value": unit}]
    if thresholds:
        props.append({"id": "thresholds", "value": thresholds})
    if color_cells:
        props.append({"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}})
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def _dashboard(uid, title, description, panels, templating, links_title):
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {uid}"
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [{"title": links_title, "type": "dashboards", "tags": ["halfopen"], "asDropdown": True,
                   "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
                   "tooltip": "", "url": ""}],
        "templating": templating,
        "panels": panels,
    }


SERVICE_LINK = [{
    "title": "Drill down: ${__data.fields.tcp_service} on ${__data.fields.instance}",
    "url": "/d/halfopen-service/half-open-tcp-service?${datasource:queryparam}&${job:queryparam}"
           "&var-instance=${__data.fields.instance}&var-tcp_service=${__data.fields.tcp_service}"
           "&var-direction=${__data.fields.direction}&${__url_time_range}",
}]

RED_AT = lambda v: _thresholds(GREEN, (v, "red"))  # noqa: E731
ORANGE_AT = lambda v: _thresholds(GREEN, (v, "orange"))  # noqa: E731
KEEPALIVE_COVERAGE_THRESHOLDS = _thresholds((None, "orange"), (0.5, "yellow"), (0.9, "green"))

def _label_column(name, display):
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "displayName", "value": display}, {"id": "unit", "value": "none"}]}


LABEL_COLUMNS = [_label_column("instance", "Node"), _label_column("tcp_service", "Service"),
                 _label_column("direction", "Direction")]

ALERTS_TABLE_COLUMNS = {
    "excludeByName": {"Time": True, "Value": True},
    "indexByName": {"alertname": 0, "severity": 1, "instance": 2, "tcp_service": 3, "direction": 4},
    "renameByName": {"alertname": "Alert", "severity": "Severity", "instance": "Node",
                     "tcp_service": "Service", "direction": "Direction"},
}


# ---------------------------------------------------------------- what connection tracking forgot

def _conntrack_timeseries(pid, what, by, legend, pos):
    """halfopen_conntrack_forgotten_sockets (--collector.conntrack), grouped by `by`."""
    return _timeseries(pid, f"Forgotten by connection tracking, by {what}",
                       f"Per {what}, ESTABLISHED sockets whose NATed (or strictly tracked) conntrack entry is gone "
                       "(halfopen_conntrack_forgotten_sockets; needs --collector.conntrack): nothing was sent on "
                       "them yet, and the next request will hang. HalfOpenConntrackForgotten fires when some stay "
                       "for 2 minutes.",
                       "short", [_target(f"sum by ({by}) (halfopen_conntrack_forgotten_sockets{{{SVC}}})", legend)],
                       pos)


# ---------------------------------------------------------------- the path's idle timeout

def _path_timeseries(pid, by, legend, pos):
    """Both path_idle_timeout families, grouped by `by`."""
    return _timeseries(pid, "Idle past the path's timeout / keepalive slower than the path",
                       "ESTABLISHED sockets silent in both directions for longer than the service's "
                       "path_idle_timeout with no faster keepalive (halfopen_idle_past_path_timeout_sockets): the "
                       "NAT or load balancer has likely forgotten them and the next request will hang; and sockets "
                       "whose keepalive idle time is at least the path's timeout "
                       "(halfopen_keepalive_slower_than_path_sockets). Both 0 unless path_idle_timeout is set. "
                       "Outbound ones fire HalfOpenIdlePastPathTimeout and HalfOpenKeepaliveSlowerThanPath; an "
                       "inbound socket kept alive by its client's keepalive reads silent (docs/metrics.md).",
                       "short", [
                           _target(f"sum by ({by}) (halfopen_idle_past_path_timeout_sockets{{{SVC}}})",
                                   legend + " idle past path", "A"),
                           _target(f"sum by ({by}) (halfopen_keepalive_slower_than_path_sockets{{{SVC}}})",
                                   legend + " keepalive slower", "B"),
                       ], pos)


# ---------------------------------------------------------------- enforce (keepalive retrofit)
# Services with `enforce` (docs/remediation.md#enforce). The per-service enforce families exist only
# for services that enforce; the pass families (passes, pass errors, last pass, dry run) once per
# exporter, without tcp_service. A service without enforce shows "No data" here.

DRY_RUN_MAPPING = [{"type": "value", "options": {
    "0": {"text": "off: enforce sets options", "color": "green", "index": 0},
    "1": {"text": "DRY RUN: counts, sets nothing", "color": "orange", "index": 1}}}]
ENFORCE_ERRORS_15M = (
    "(sum(increase(halfopen_enforce_errors_total{{{s}}}[15m])) or vector(0))"
    " + (sum(increase(halfopen_enforce_pass_errors_total{{{e}}}[15m])) or vector(0))")


def _enforce_dry_run_stat(pid, pos):
    return _stat(pid, "Enforce: dry run",
                 "Whether enforce runs under --remediation.dry-run on the selected exporters "
                 "(halfopen_enforce_dry_run, worst case): then the enforced counts are what would have been set, "
                 "and no socket got an option. No data: no service has enforce.",
                 "none", f"max(halfopen_enforce_dry_run{{{EXP}}})", pos,
                 thresholds=_thresholds(GREEN, (1, "orange")), decimals=0, mappings=DRY_RUN_MAPPING)


def _enforce_errors_stat(pid, pos):
    return _stat(pid, "Enforce errors (15m)",
                 "Failed bpf_getsockopt/bpf_setsockopt calls on the selected services plus failed enforce passes "
                 "of the selected exporters over 15 minutes (halfopen_enforce_errors_total, "
                 "halfopen_enforce_pass_errors_total). HalfOpenEnforceErrors fires on any.",
                 "short", ENFORCE_ERRORS_15M.format(s=SVC, e=EXP), pos, thresholds=RED_AT(1), decimals=0)


def _enforce_visited_stat(pid, whose, pos):
    return _stat(pid, "Enforce: visited sockets",
                 f"ESTABLISHED sockets of {whose} the last enforce pass visited (halfopen_enforce_matched_sockets).",
                 "short", f"sum(halfopen_enforce_matched_sockets{{{SVC}}})", pos, decimals=0)


def _enforced_rate_timeseries(pid, by, legend, pos):
    return _timeseries(pid, "Enforce: sockets given an option",
                       "Sockets given keepalive or a user timeout by enforce, per second, by option "
                       "(rate of halfopen_enforced_sockets_total; each socket counts once, in a dry run the ones "
                       "that would have been). A steady rate is new connections being protected; none while "
                       "coverage stays low means every socket already chose its own options or enforce fails.",
                       "ops", [_target(f"sum by ({by}, option) (rate(halfopen_enforced_sockets_total{{{SVC}}}"
                                       f"[$__rate_interval]))", legend + " {{option}}")], pos)


# ---------------------------------------------------------------- overview

def overview():
    S = SVC
    p = []
    p.append(_stat(1, "Hanging sockets",
                   "Retransmitting plus keepalive-probing sockets across the selected nodes and services: "
                   "requests on them are hanging now because the peer acknowledges nothing.",
                   "short", f"sum(instance_tcp_service:halfopen_hanging_sockets:sum{{{S}}})",
                   (0, 0, 4, 4), thresholds=RED_AT(1), decimals=0))
    p.append(_stat(2, "Longest hang",
                   "The oldest hang: over all retransmitting and keepalive-probing sockets, the longest time a "
                   "request or probe has waited unanswered, as the exporter saw it (halfopen_longest_hanging_seconds). "
                   "HalfOpenPoolHanging fires above 60 s for 2 minutes.",
                   "s", f"max(halfopen_longest_hanging_seconds{{{S}}})",
                   (4, 0, 4, 4), thresholds=_thresholds(GREEN, (10, "orange"), (60, "red"))))
    p.append(_stat(3, "Stale share",
                   "Stale ESTABLISHED sockets (nothing received, not even an ACK, for stale_after) over all "
                   "ESTABLISHED sockets of the selection: idle or half-open, unverifiable without keepalive.",
                   "percentunit",
                   f"sum(halfopen_stale_sockets{{{S}}}) / sum(halfopen_established_sockets{{{S}}})",
                   (8, 0, 4, 4), thresholds=_thresholds(GREEN, (0.2, "orange"), (0.5, "red"))))
    p.append(_stat(4, "Keepalive coverage",
                   "Share of ESTABLISHED sockets with TCP keepalive on. Low coverage means a vanished peer "
                   "leaves connections half-open until a request hangs on them.",
                   "percentunit",
                   f"sum(halfopen_keepalive_sockets{{{S}}}) / sum(halfopen_established_sockets{{{S}}})",
                   (12, 0, 4, 4), thresholds=KEEPALIVE_COVERAGE_THRESHOLDS))
    p.append(_stat(5, "CLOSE_WAIT sockets",
                   "Sockets whose peer closed but whose application never did. A count that keeps growing is "
                   "a connection leak.",
                   "short", f"sum(halfopen_close_wait_sockets{{{S}}})", (16, 0, 4, 4),
                   thresholds=ORANGE_AT(10), decimals=0))
    p.append(_stat(6, "Zero-window sockets",
                   "Sockets probing a peer that advertises a zero receive window: the peer stopped reading.",
                   "short", f"sum(halfopen_zero_window_sockets{{{S}}})", (20, 0, 4, 4),
                   thresholds=ORANGE_AT(1), decimals=0))

    p.append(_timeseries(7, "Suspect sockets by class",
                         "Sockets of the selection by suspect class. Retransmitting and keepalive-probing: hanging "
                         "now. Stale: ESTABLISHED but silent for stale_after. Zero window: the peer stopped reading. "
                         "CLOSE_WAIT: the application does not close.",
                         "short", [
                             _target(f"sum(halfopen_{c}_sockets{{{S}}})", class_legend(c), chr(ord("A") + i))
                             for i, c in enumerate(suspect_classes())
                         ], (0, 4, 12, 8)))
    p.append(_table(8, "Firing half-open alerts",
                    "Alerts of the halfopen rules (grafana/alerts/halfopen.rules.yml) firing now for the selected "
                    "jobs and nodes, from Prometheus's ALERTS series. Empty is good.",
                    "none", [_target(
                        'sum by (alertname, severity, instance, tcp_service, direction) '
                        '(ALERTS{alertname=~"HalfOpen.*", alertstate="firing", job=~"$job", instance=~"$instance"})',
                        instant=True, table=True)],
                    (12, 4, 12, 8), organize=ALERTS_TABLE_COLUMNS))

    p.append(_timeseries(9, "Longest hang by service",
                         "Per node and service, the longest time a request or probe on a retransmitting or "
                         "keepalive-probing socket has waited unanswered (halfopen_longest_hanging_seconds). The red "
                         "line is the 60 s alert threshold.",
                         "s", [_target(f"max by ({BY_SVC}) (halfopen_longest_hanging_seconds{{{S}}})",
                                       LEGEND_SVC)], (0, 12, 12, 8),
                         thresholds=RED_AT(60), threshold_style="line"))
    p.append(_timeseries(10, "Hanging sockets by service",
                         "Per node and service, retransmitting plus keepalive-probing sockets "
                         "(recording rule instance_tcp_service:halfopen_hanging_sockets:sum).",
                         "short", [_target(f"sum by ({BY_SVC}) (instance_tcp_service:halfopen_hanging_sockets:sum{{{S}}})",
                                           LEGEND_SVC)], (12, 12, 12, 8)))
    p.append(_timeseries(11, "Stale share by service",
                         "Per node and service, stale over ESTABLISHED sockets (recording rule "
                         "instance_tcp_service:halfopen_stale_sockets:ratio). HalfOpenStaleConnections fires above "
                         "50% for 15 minutes. No line: the service has no ESTABLISHED socket.",
                         "percentunit", [_target(f"max by ({BY_SVC}) (instance_tcp_service:halfopen_stale_sockets:ratio{{{S}}})",
                                                 LEGEND_SVC)], (0, 20, 12, 8),
                         thresholds=RED_AT(0.5), threshold_style="line", minv=0, maxv=1))
    p.append(_timeseries(12, "Keepalive coverage by service",
                         "Per node and service, ESTABLISHED sockets with keepalive over all ESTABLISHED sockets "
                         "(recording rule instance_tcp_service:halfopen_keepalive_sockets:ratio). "
                         "HalfOpenKeepaliveMissing fires below 50% for 1 hour.",
                         "percentunit", [_target(f"min by ({BY_SVC}) (instance_tcp_service:halfopen_keepalive_sockets:ratio{{{S}}})",
                                                 LEGEND_SVC)], (12, 20, 12, 8),
                         thresholds=_thresholds((None, "red"), (0.5, "green")), threshold_style="line",
                         minv=0, maxv=1))
    p.append(_timeseries(13, "CLOSE_WAIT sockets by service",
                         "Per node and service, sockets in CLOSE_WAIT. HalfOpenCloseWaitLeak fires when more than "
                         "10 keep growing for 30 minutes.",
                         "short", [_target(f"sum by ({BY_SVC}) (halfopen_close_wait_sockets{{{S}}})", LEGEND_SVC)],
                         (0, 28, 12, 8)))
    p.append(_timeseries(14, "Zero-window sockets by service",
                         "Per node and service, sockets probing a zero receive window. HalfOpenZeroWindow fires "
                         "when some stay for 10 minutes.",
                         "short", [_target(f"sum by ({BY_SVC}) (halfopen_zero_window_sockets{{{S}}})", LEGEND_SVC)],
                         (12, 28, 12, 8)))

    cols = [
        ("A", f"sum by ({BY_SVC}) (halfopen_established_sockets{{{S}}})", "Established", "short", None),
        ("B", f"max by ({BY_SVC}) (instance_tcp_service:halfopen_stale_sockets:ratio{{{S}}})", "Stale share",
         "percentunit", _thresholds(GREEN, (0.2, "orange"), (0.5, "red"))),
        ("C", f"min by ({BY_SVC}) (instance_tcp_service:halfopen_keepalive_sockets:ratio{{{S}}})",
         "Keepalive coverage", "percentunit", KEEPALIVE_COVERAGE_THRESHOLDS),
        ("D", f"sum by ({BY_SVC}) (instance_tcp_service:halfopen_hanging_sockets:sum{{{S}}})", "Hanging", "short",
         RED_AT(1)),
        ("E", f"max by ({BY_SVC}) (halfopen_longest_hanging_seconds{{{S}}})", "Longest hang", "s",
         _thresholds(GREEN, (10, "orange"), (60, "red"))),
        ("F", f"sum by ({BY_SVC}) (halfopen_close_wait_sockets{{{S}}})", "CLOSE_WAIT", "short", ORANGE_AT(10)),
        ("G", f"sum by ({BY_SVC}) (halfopen_zero_window_sockets{{{S}}})", "Zero window", "short", ORANGE_AT(1)),
    ]
    p.append(_table(15, "Services",
                    "Current state of every selected service on every selected node. Click a service to open the "
                    "per-service drill-down.",
                    "short", [_target(e, ref=r, instant=True, table=True) for r, e, _, _, _ in cols],
                    (0, 36, 24, 10),
                    overrides=LABEL_COLUMNS + [_col_override(f"Value #{r}", d, u, th, color_cells=th is not None)
                                               for r, _, d, u, th in cols],
                    organize={"excludeByName": {"Time": True},
                              "indexByName": {"instance": 0, "tcp_service": 1, "direction": 2}},
                    links=SERVICE_LINK, sort_by="Hanging"))
    p.append(_timeseries(16, "Established sockets by service",
                         "Per node and service, ESTABLISHED sockets: the denominator of the stale share and of the "
                         "keepalive coverage.",
                         "short", [_target(f"sum by ({BY_SVC}) (halfopen_established_sockets{{{S}}})", LEGEND_SVC)],
                         (0, 46, 24, 8)))
    # Enforce (keepalive retrofit), compact: the drill-down has the detail.
    p.append(_enforced_rate_timeseries(17, BY_SVC, LEGEND_SVC, (0, 54, 12, 8)))
    p.append(_enforce_errors_stat(18, (12, 54, 4, 4)))
    p.append(_stat(19, "Enforce reverts (1h)",
                   "Sockets whose application cleared an option enforce had set, over the last hour "
                   "(halfopen_enforce_reverted_total). Enforce leaves them as the application wants; a steady count "
                   "is an application that turns keepalive off on purpose (docs/remediation.md).",
                   "short", f"sum(increase(halfopen_enforce_reverted_total{{{S}}}[1h])) or vector(0)",
                   (16, 54, 4, 4), thresholds=ORANGE_AT(1), decimals=0))
    p.append(_enforce_dry_run_stat(20, (20, 54, 4, 4)))
    p.append(_stat(21, "Enforce: own choice",
                   "ESTABLISHED sockets of enforcing services, at the last pass, whose application had chosen "
                   "keepalive with its own idle time, or a user timeout (halfopen_enforce_own_choice_sockets, "
                   "both options): enforce keeps their values. Keepalive left at the sysctl's idle is no choice.",
                   "short", f"sum(halfopen_enforce_own_choice_sockets{{{S}}})", (12, 58, 4, 4), decimals=0))
    p.append(_enforce_visited_stat(22, "enforcing services", (16, 58, 4, 4)))
    p.append(_stat(23, "Enforce pass / interval",
                   "The slowest enforce pass of the last collection over the collection interval, worst exporter "
                   "(halfopen_enforce_last_pass_seconds / halfopen_collection_interval_seconds). The pass runs "
                   "after each collection: near 100% it delays the next one.",
                   "percentunit",
                   f"max(halfopen_enforce_last_pass_seconds{{{EXP}}} / halfopen_collection_interval_seconds{{{EXP}}})",
                   (20, 58, 4, 4), thresholds=_thresholds(GREEN, (0.25, "orange"), (0.5, "red"))))
    p.append(_path_timeseries(24, BY_SVC, LEGEND_SVC, (0, 62, 24, 8)))
    # What connection tracking forgot (--collector.conntrack).
    p.append(_conntrack_timeseries(25, "service", BY_SVC, LEGEND_SVC, (0, 70, 24, 8)))
    return _dashboard(
        "halfopen-overview", "Half-open TCP / Overview",
        "Half-open TCP connections across nodes and services: hanging (retransmitting, keepalive-probing) sockets, "
        "stale share, keepalive coverage, CLOSE_WAIT and zero-window sockets, and the keepalive retrofit (enforce). "
        "Data: halfopen_exporter and the recording rules in grafana/alerts/halfopen.rules.yml.",
        p, _variables(service=True), "Half-open TCP")


# ---------------------------------------------------------------- service

def service():
    S = SVC
    BY_NODE = "instance, direction"
    LEGEND_NODE = "{{instance}} ({{direction}})"
    p = []
    p.append(_stat(1, "Established", "ESTABLISHED sockets of the service on the selected nodes.", "short",
                   f"sum(halfopen_established_sockets{{{S}}})", (0, 0, 4, 4), decimals=0))
    p.append(_stat(2, "Hanging sockets",
                   "Retransmitting plus keepalive-probing sockets of the service: requests on them hang now.",
                   "short", f"sum(instance_tcp_service:halfopen_hanging_sockets:sum{{{S}}})", (4, 0, 4, 4),
                   thresholds=RED_AT(1), decimals=0))
    p.append(_stat(3, "Longest hang",
                   "Longest time a request or probe on a retransmitting or keepalive-probing socket of the service "
                   "has waited unanswered (halfopen_longest_hanging_seconds).",
                   "s", f"max(halfopen_longest_hanging_seconds{{{S}}})", (8, 0, 4, 4),
                   thresholds=_thresholds(GREEN, (10, "orange"), (60, "red"))))
    p.append(_stat(4, "Stale share", "Stale over ESTABLISHED sockets of the service.", "percentunit",
                   f"sum(halfopen_stale_sockets{{{S}}}) / sum(halfopen_established_sockets{{{S}}})", (12, 0, 4, 4),
                   thresholds=_thresholds(GREEN, (0.2, "orange"), (0.5, "red"))))
    p.append(_stat(5, "Keepalive coverage", "ESTABLISHED sockets with keepalive over all ESTABLISHED sockets.",
                   "percentunit",
                   f"sum(halfopen_keepalive_sockets{{{S}}}) / sum(halfopen_established_sockets{{{S}}})",
                   (16, 0, 4, 4), thresholds=KEEPALIVE_COVERAGE_THRESHOLDS))
    p.append(_stat(6, "CLOSE_WAIT", "Sockets of the service in CLOSE_WAIT.", "short",
                   f"sum(halfopen_close_wait_sockets{{{S}}})", (20, 0, 4, 4), thresholds=ORANGE_AT(10), decimals=0))

    p.append(_timeseries(7, "Socket classes",
                         "All classes of the service's sockets over time, summed over the selected nodes. Stale, "
                         "keepalive and hanging are subsets of established (hanging may also include closing "
                         "states).",
                         "short", [
                             _target(f"sum by (direction) (halfopen_{c}_sockets{{{S}}})",
                                     class_legend(c) + " {{direction}}", chr(ord("A") + i))
                             for i, c in enumerate(all_classes())
                         ], (0, 4, 24, 9)))
    p.append(_timeseries(8, "Longest hang by node",
                         "Per node, the age of the oldest hang on this service (halfopen_longest_hanging_seconds). "
                         "The red line is the 60 s HalfOpenPoolHanging threshold.",
                         "s", [_target(f"max by ({BY_NODE}) (halfopen_longest_hanging_seconds{{{S}}})", LEGEND_NODE)],
                         (0, 13, 12, 8), thresholds=RED_AT(60), threshold_style="line"))
    p.append(_timeseries(9, "Hanging sockets by node",
                         "Per node, retransmitting plus keepalive-probing sockets of this service.",
                         "short", [_target(f"sum by ({BY_NODE}) (instance_tcp_service:halfopen_hanging_sockets:sum{{{S}}})",
                                           LEGEND_NODE)], (12, 13, 12, 8)))
    p.append(_timeseries(10, "Stale share by node",
                         "Per node, stale over ESTABLISHED sockets of this service. The red line is the 50% "
                         "HalfOpenStaleConnections threshold.",
                         "percentunit", [_target(f"max by ({BY_NODE}) (instance_tcp_service:halfopen_stale_sockets:ratio{{{S}}})",
                                                 LEGEND_NODE)], (0, 21, 12, 8),
                         thresholds=RED_AT(0.5), threshold_style="line", minv=0, maxv=1))
    p.append(_timeseries(11, "Keepalive coverage by node",
                         "Per node, ESTABLISHED sockets of this service with keepalive on. The red zone is below the "
                         "50% HalfOpenKeepaliveMissing threshold.",
                         "percentunit", [_target(f"min by ({BY_NODE}) (instance_tcp_service:halfopen_keepalive_sockets:ratio{{{S}}})",
                                                 LEGEND_NODE)], (12, 21, 12, 8),
                         thresholds=_thresholds((None, "red"), (0.5, "green")), threshold_style="line",
                         minv=0, maxv=1))
    p.append(_timeseries(12, "CLOSE_WAIT by node",
                         "Per node, sockets of this service in CLOSE_WAIT; steady growth is a leak.",
                         "short", [_target(f"sum by ({BY_NODE}) (halfopen_close_wait_sockets{{{S}}})", LEGEND_NODE)],
                         (0, 29, 12, 8)))
    p.append(_timeseries(13, "Zero-window by node",
                         "Per node, sockets of this service probing a zero receive window: the peer stopped reading.",
                         "short", [_target(f"sum by ({BY_NODE}) (halfopen_zero_window_sockets{{{S}}})", LEGEND_NODE)],
                         (12, 29, 12, 8)))
    cols = [
        ("A", f"sum by ({BY_SVC}) (halfopen_established_sockets{{{S}}})", "Established", "short", None),
        ("B", f"sum by ({BY_SVC}) (halfopen_keepalive_sockets{{{S}}})", "With keepalive", "short", None),
        ("C", f"sum by ({BY_SVC}) (halfopen_stale_sockets{{{S}}})", "Stale", "short", None),
        ("D", f"sum by ({BY_SVC}) (halfopen_retransmitting_sockets{{{S}}})", "Retransmitting", "short", RED_AT(1)),
        ("E", f"sum by ({BY_SVC}) (halfopen_keepalive_probing_sockets{{{S}}})", "Keepalive probing", "short",
         ORANGE_AT(1)),
        ("F", f"max by ({BY_SVC}) (halfopen_longest_hanging_seconds{{{S}}})", "Longest hang", "s",
         _thresholds(GREEN, (10, "orange"), (60, "red"))),
        ("G", f"sum by ({BY_SVC}) (halfopen_close_wait_sockets{{{S}}})", "CLOSE_WAIT", "short", None),
        ("H", f"sum by ({BY_SVC}) (halfopen_zero_window_sockets{{{S}}})", "Zero window", "short", None),
    ]
    p.append(_table(14, "Nodes",
                    "Current counts of this service on each selected node.",
                    "short", [_target(e, ref=r, instant=True, table=True) for r, e, _, _, _ in cols],
                    (0, 37, 24, 8),
                    overrides=LABEL_COLUMNS + [_col_override(f"Value #{r}", d, u, th, color_cells=th is not None)
                                               for r, _, d, u, th in cols],
                    organize={"excludeByName": {"Time": True},
                              "indexByName": {"instance": 0, "tcp_service": 1, "direction": 2}},
                    sort_by="Retransmitting"))
    BY_POD = "instance, namespace, pod, direction"
    pod_cols = [
        ("A", f"sum by ({BY_POD}) (halfopen_established_sockets{{{S}}})", "Established", "short", None),
        ("B", f"sum by ({BY_POD}) (halfopen_stale_sockets{{{S}}})", "Stale", "short", None),
        ("C", f"sum by ({BY_POD}) (halfopen_keepalive_sockets{{{S}}})", "With keepalive", "short", None),
        ("D", f"sum by ({BY_POD}) (instance_tcp_service:halfopen_hanging_sockets:sum{{{S}}})", "Hanging", "short",
         RED_AT(1)),
        ("E", f"max by ({BY_POD}) (halfopen_longest_hanging_seconds{{{S}}})", "Longest hang", "s",
         _thresholds(GREEN, (10, "orange"), (60, "red"))),
        ("F", f"sum by ({BY_POD}) (halfopen_close_wait_sockets{{{S}}})", "CLOSE_WAIT", "short", None),
    ]
    p.append(_table(16, "Pods",
                    "This service per node and pod owning the sockets (namespace and pod labels exist when the "
                    "exporter runs with --collector.pod-labels; otherwise one row per node).",
                    "short", [_target(e, ref=r, instant=True, table=True) for r, e, _, _, _ in pod_cols],
                    (0, 51, 24, 8),
                    overrides=LABEL_COLUMNS + [_label_column("namespace", "Namespace"), _label_column("pod", "Pod")]
                    + [_col_override(f"Value #{r}", d, u, th, color_cells=th is not None)
                       for r, _, d, u, th in pod_cols],
                    organize={"excludeByName": {"Time": True},
                              "indexByName": {"instance": 0, "namespace": 1, "pod": 2, "direction": 3}},
                    sort_by="Hanging"))
    p.append(_table(15, "Firing alerts for this service",
                    "HalfOpen* alerts firing now for this service on the selected nodes.",
                    "none", [_target(
                        'sum by (alertname, severity, instance, tcp_service, direction) '
                        '(ALERTS{alertname=~"HalfOpen.*", alertstate="firing", ' + S + '})',
                        instant=True, table=True)],
                    (0, 45, 24, 6), organize=ALERTS_TABLE_COLUMNS))
    # Enforce (keepalive retrofit): is it working on this service, and what does it cost.
    p.append(_enforce_dry_run_stat(17, (0, 59, 4, 4)))
    p.append(_enforce_errors_stat(18, (4, 59, 4, 4)))
    p.append(_enforce_visited_stat(19, "the service", (8, 59, 4, 4)))
    p.append(_stat(20, "Keepalive by own choice",
                   "Share of the visited sockets whose application had turned keepalive on with its own idle time "
                   "(halfopen_enforce_own_choice_sockets{option=\"keepalive\"} / halfopen_enforce_matched_sockets): "
                   "the coverage the service would have without enforce. Compare with Keepalive coverage at the top, "
                   "what the kernel reports now.",
                   "percentunit",
                   f'sum(halfopen_enforce_own_choice_sockets{{{S}, option="keepalive"}}) '
                   f"/ sum(halfopen_enforce_matched_sockets{{{S}}})",
                   (12, 59, 4, 4), thresholds=KEEPALIVE_COVERAGE_THRESHOLDS))
    p.append(_stat(21, "Slowest enforce pass",
                   "Duration of the slowest enforce pass of the last collection, worst exporter "
                   "(halfopen_enforce_last_pass_seconds).",
                   "s", f"max(halfopen_enforce_last_pass_seconds{{{EXP}}})", (16, 59, 8, 4)))
    p.append(_enforced_rate_timeseries(22, BY_NODE, LEGEND_NODE, (0, 63, 12, 8)))
    p.append(_timeseries(23, "Enforce: keepalive coverage before / after",
                         "Per node: \"before\" is the share of visited sockets whose application turned keepalive on "
                         "with its own idle time (halfopen_enforce_own_choice_sockets{option=\"keepalive\"} / "
                         "halfopen_enforce_matched_sockets); \"after\" is the keepalive coverage the kernel reports "
                         "(halfopen_keepalive_sockets / halfopen_established_sockets). The gap is what enforce adds. "
                         "After well below 100%: sockets reverted by their application, errors, or a dry run. The red "
                         "zone is below the 50% HalfOpenKeepaliveMissing threshold.",
                         "percentunit", [
                             _target(f'sum by ({BY_NODE}) (halfopen_enforce_own_choice_sockets{{{S}, option="keepalive"}}) '
                                     f"/ sum by ({BY_NODE}) (halfopen_enforce_matched_sockets{{{S}}})",
                                     LEGEND_NODE + " before (own choice)", "A"),
                             _target(f"sum by ({BY_NODE}) (halfopen_keepalive_sockets{{{S}}}) "
                                     f"/ sum by ({BY_NODE}) (halfopen_established_sockets{{{S}}})",
                                     LEGEND_NODE + " after (armed now)", "B"),
                         ], (12, 63, 12, 8), thresholds=_thresholds((None, "red"), (0.5, "green")),
                         threshold_style="line", minv=0, maxv=1))
    p.append(_timeseries(24, "Enforce: sockets that chose their own options",
                         "Per node and option, ESTABLISHED sockets of the service whose application had set keepalive "
                         "with its own idle time, or a user timeout, at the last pass (halfopen_enforce_own_choice_sockets): enforce "
                         "keeps their values. Next to them, all sockets the pass visited "
                         "(halfopen_enforce_matched_sockets).",
                         "short", [
                             _target(f"sum by ({BY_NODE}, option) (halfopen_enforce_own_choice_sockets{{{S}}})",
                                     LEGEND_NODE + " own {{option}}", "A"),
                             _target(f"sum by ({BY_NODE}) (halfopen_enforce_matched_sockets{{{S}}})",
                                     LEGEND_NODE + " visited", "B"),
                         ], (0, 71, 12, 8)))
    p.append(_timeseries(25, "Enforce: reverts and errors (15m)",
                         "Per node and option over 15 minutes: sockets whose application cleared what enforce set "
                         "(halfopen_enforce_reverted_total; left alone, see docs/remediation.md) and failed "
                         "bpf_getsockopt/bpf_setsockopt calls (halfopen_enforce_errors_total); per node, failed enforce "
                         "passes (halfopen_enforce_pass_errors_total). Errors fire HalfOpenEnforceErrors.",
                         "short", [
                             _target(f"sum by ({BY_NODE}, option) (increase(halfopen_enforce_reverted_total{{{S}}}[15m]))",
                                     LEGEND_NODE + " reverted {{option}}", "A"),
                             _target(f"sum by ({BY_NODE}, option) (increase(halfopen_enforce_errors_total{{{S}}}[15m]))",
                                     LEGEND_NODE + " errors {{option}}", "B"),
                             _target(f"sum by (instance) (increase(halfopen_enforce_pass_errors_total{{{EXP}}}[15m]))",
                                     "{{instance}} pass errors", "C"),
                         ], (12, 71, 12, 8)))
    p.append(_timeseries(26, "Enforce: pass duration vs collection interval",
                         "Per node, the slowest enforce pass of the last collection (halfopen_enforce_last_pass_seconds) "
                         "next to the collection interval (halfopen_collection_interval_seconds). The pass runs after "
                         "each collection, once per network namespace: when it nears the interval, collections fall "
                         "behind (halfopen_collection_overruns_total counts them).",
                         "s", [
                             _target(f"max by (instance) (halfopen_enforce_last_pass_seconds{{{EXP}}})",
                                     "{{instance}} enforce pass", "A"),
                             _target(f"max by (instance) (halfopen_collection_interval_seconds{{{EXP}}})",
                                     "{{instance}} interval", "B"),
                         ], (0, 79, 24, 8)))
    p.append(_path_timeseries(27, BY_NODE, LEGEND_NODE, (0, 87, 24, 8)))
    p.append(_conntrack_timeseries(28, "node", BY_NODE, LEGEND_NODE, (0, 95, 24, 8)))
    return _dashboard(
        "halfopen-service", "Half-open TCP / Service",
        "One service (tcp_service) in detail: every socket class over time and per node, the age of the oldest "
        "hang, stale share and keepalive coverage, CLOSE_WAIT and zero window, its firing alerts, and what the keepalive "
        "retrofit (enforce) does to it.",
        p, _variables(service=True, service_single=True), "Half-open TCP")


# ---------------------------------------------------------------- exporter

def exporter():
    E = EXP
    BY_I = "instance"
    p = []
    p.append(_stat(1, "Exporters up", "Scrape targets of the selected jobs that answered the last scrape.",
                   "short", f"sum(up{{{E}}})", (0, 0, 4, 4), decimals=0))
    p.append(_stat(2, "Exporters down",
                   "Scrape targets of the selected jobs whose last scrape failed (HalfOpenExporterDown after 5 "
                   "minutes).",
                   "short", f"count(up{{{E}}} == 0) or vector(0)", (4, 0, 4, 4), thresholds=RED_AT(1), decimals=0))
    p.append(_stat(3, "Worst duration / interval",
                   "Highest collection duration over collection interval among the selected exporters "
                   "(above 100%: collections cannot keep up).",
                   "percentunit", f"max(instance:halfopen_collection_duration:ratio{{{E}}})", (8, 0, 4, 4),
                   thresholds=_thresholds(GREEN, (0.5, "orange"), (1, "red"))))
    p.append(_stat(4, "Failed collections",
                   "Share of collections that failed over the last 5 minutes, worst exporter.",
                   "percentunit", f"max(instance:halfopen_collection_errors:ratio_rate5m{{{E}}})", (12, 0, 4, 4),
                   thresholds=_thresholds(GREEN, (0.01, "orange"), (0.1, "red"))))
    p.append(_stat(5, "Oldest data",
                   "Time since the last successful collection, worst exporter: the age of the counts served.",
                   "s", f"max(time() - halfopen_last_collection_timestamp_seconds{{{E}}})", (16, 0, 4, 4),
                   thresholds=_thresholds(GREEN, (60, "orange"), (120, "red"))))
    p.append(_stat(6, "Config reload failing",
                   "Exporters whose last configuration load or reload failed (they keep the previous config).",
                   "short", f"count(halfopen_config_last_reload_successful{{{E}}} == 0) or vector(0)",
                   (20, 0, 4, 4), thresholds=RED_AT(1), decimals=0))

    p.append(_timeseries(7, "Collection duration vs interval",
                         "Wall time of the last successful collection, next to the configured collection interval. "
                         "A duration that reaches the interval means the exporter cannot keep up.",
                         "s", [
                             _target(f"max by ({BY_I}) (halfopen_collection_duration_seconds{{{E}}})",
                                     "{{instance}} duration", "A"),
                             _target(f"max by ({BY_I}) (halfopen_collection_interval_seconds{{{E}}})",
                                     "{{instance}} interval", "B"),
                         ], (0, 4, 12, 8)))
    p.append(_timeseries(8, "Collection duration / interval",
                         "Collection duration as a share of the interval (recording rule "
                         "instance:halfopen_collection_duration:ratio). HalfOpenExporterCollectionsSlow fires above "
                         "100% for 15 minutes.",
                         "percentunit", [_target(f"max by ({BY_I}) (instance:halfopen_collection_duration:ratio{{{E}}})",
                                                 "{{instance}}")], (12, 4, 12, 8),
                         thresholds=RED_AT(1), threshold_style="line"))
    p.append(_timeseries(9, "Collections and errors",
                         "Collections attempted and collections failed per second.",
                         "ops", [
                             _target(f"sum by ({BY_I}) (rate(halfopen_collections_total{{{E}}}[$__rate_interval]))",
                                     "{{instance}} collections", "A"),
                             _target(f"sum by ({BY_I}) (rate(halfopen_collection_errors_total{{{E}}}[$__rate_interval]))",
                                     "{{instance}} errors", "B"),
                         ], (0, 12, 12, 8)))
    p.append(_timeseries(10, "Failed collection share",
                         "Share of collections that failed over 5 minutes (recording rule "
                         "instance:halfopen_collection_errors:ratio_rate5m). HalfOpenExporterCollectionsFailing fires "
                         "above 10% for 15 minutes.",
                         "percentunit", [_target(f"max by ({BY_I}) (instance:halfopen_collection_errors:ratio_rate5m{{{E}}})",
                                                 "{{instance}}")], (12, 12, 12, 8),
                         thresholds=RED_AT(0.1), threshold_style="line"))
    p.append(_timeseries(11, "Sockets seen",
                         "Sockets in connected states seen by the last successful collection, per node: the load the "
                         "exporter classifies.",
                         "short", [_target(f"max by ({BY_I}) (halfopen_collection_sockets{{{E}}})", "{{instance}}")],
                         (0, 20, 12, 8)))
    p.append(_timeseries(12, "Age of the served data",
                         "Seconds since the last successful collection. HalfOpenExporterCollectionsStalled fires when "
                         "it exceeds 10 intervals (at least 2 minutes) for 5 minutes.",
                         "s", [_target(f"max by ({BY_I}) (time() - halfopen_last_collection_timestamp_seconds{{{E}}})",
                                       "{{instance}}")], (12, 20, 12, 8)))
    p.append(_timeseries(13, "Exporter CPU",
                         "CPU used by the exporter process (1.0 = one full core).",
                         "percentunit", [_target(f"sum by ({BY_I}) (rate(process_cpu_seconds_total{{{E}}}[$__rate_interval]))",
                                                 "{{instance}}")], (0, 28, 8, 8)))
    p.append(_timeseries(14, "Exporter memory",
                         "Resident memory of the exporter process.",
                         "bytes", [_target(f"max by ({BY_I}) (process_resident_memory_bytes{{{E}}})", "{{instance}}")],
                         (8, 28, 8, 8)))
    p.append(_timeseries(15, "Exporter file descriptors",
                         "Open file descriptors of the exporter process over its limit.",
                         "percentunit", [_target(f"max by ({BY_I}) (process_open_fds{{{E}}} / process_max_fds{{{E}}})",
                                                 "{{instance}}")], (16, 28, 8, 8)))
    p.append(_table(16, "Exporters",
                    "Every selected exporter: version, revision, process start and last configuration load.",
                    "none", [
                        _target(f"max by (instance, version, revision) (halfopen_build_info{{{E}}})", ref="A",
                                instant=True, table=True),
                        _target(f"max by (instance) (process_start_time_seconds{{{E}}}) * 1000", ref="B",
                                instant=True, table=True),
                        _target(f"max by (instance) (halfopen_config_last_reload_success_timestamp_seconds{{{E}}}) * 1000",
                                ref="C", instant=True, table=True),
                        _target(f"max by (instance) (halfopen_config_last_reload_successful{{{E}}})", ref="D",
                                instant=True, table=True),
                    ], (0, 36, 24, 7),
                    overrides=[
                        _col_override("Value #B", "Started", "dateTimeAsIso"),
                        _col_override("Value #C", "Last good config load", "dateTimeAsIso"),
                        _col_override("Value #D", "Last reload ok", "bool_yes_no",
                                      _thresholds((None, "red"), (1, "green")), color_cells=True),
                    ],
                    organize={"excludeByName": {"Time": True, "Value #A": True},
                              "indexByName": {"instance": 0, "version": 1, "revision": 2},
                              "renameByName": {"instance": "Node", "version": "Version", "revision": "Revision"}}))
    return _dashboard(
        "halfopen-exporter", "Half-open TCP / Exporter health",
        "Health of halfopen_exporter itself: scrape status, collection duration against the interval, failed "
        "collections, sockets seen, data age, configuration reloads and process resources.",
        p, _variables(service=False), "Half-open TCP")


DASHBOARDS = {
    "halfopen-overview": overview,
    "halfopen-service": service,
    "halfopen-exporter": exporter,
}
