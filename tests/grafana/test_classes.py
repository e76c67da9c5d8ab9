"""Suite `rules`: the dashboards take their socket classes from collectors/sock_classes.h.

grafana/generator/dashboards.py parses the SOCK_CLASSES X-macro instead of
keeping its own list. Checked here:
- the parse of the real header: every CLASS/SUSPECT line, with its rank;
- the service dashboard's "Socket classes" panel queries exactly the
  halfopen_<field>_sockets family of every class, the overview's "Suspect
  sockets by class" panel exactly the suspect ones, worst rank first;
- mutants of the header (a class added, a class removed, a rank changed)
  change those panels the same way: the list is derived, not copied;
- a legend for a class the header does not have is refused.
Prints `N passed, M failed`.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

sys.path.insert(0, common.GRAFANA)
from generator import dashboards  # noqa: E402

HEADER = os.path.join(common.ROOT, "collectors", "sock_classes.h")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def panel(dash, title):
    for p in dash["panels"]:
        if p.get("title") == title:
            return p
    raise AssertionError("no panel %r" % title)


def families(p):
    return [re.search(r"halfopen_([a-z_]+)_sockets", t["expr"]).group(1) for t in p["targets"]]


def header_lines():
    """(field, rank) per line of the real header, read with a regex of its own:
    CLASS(ID, field, "help") and SUSPECT(ID, field, rank, "help")."""
    with open(HEADER) as f:
        text = f.read()
    return [(field, int(rank) if rank else None) for field, rank in
            re.findall(r"^\s*(?:CLASS|SUSPECT)\(\s*[A-Z_]+,\s*([a-z_]+),\s*(?:(\d+),)?", text, re.M)]


def panels_with(classes):
    saved = dashboards.SOCK_CLASSES
    dashboards.SOCK_CLASSES = classes
    try:
        return (families(panel(dashboards.service(), "Socket classes")),
                families(panel(dashboards.overview(), "Suspect sockets by class")))
    finally:
        dashboards.SOCK_CLASSES = saved


def t_parse_real_header():
    want = header_lines()
    got = dashboards.SOCK_CLASSES
    check(len(want) >= 7, "header regex found only %r" % want)
    check(got == want, "dashboards.py parsed %r, the header declares %r" % (got, want))


def t_panels_follow_header():
    classes = dashboards.SOCK_CLASSES
    all_p, susp_p = panels_with(classes)
    check(sorted(all_p) == sorted(f for f, _ in classes), "Socket classes panel: %r" % all_p)
    want = [f for f, r in sorted((c for c in classes if c[1] is not None), key=lambda c: c[1])]
    check(susp_p == want, "suspect panel %r, want %r (worst first)" % (susp_p, want))


def t_mutants_follow():
    text = open(HEADER).read()
    added = text.replace('CLASS(ESTABLISHED, established,',
                         'CLASS(SYN_FLOOD, syn_flood, "x") \\\n\tCLASS(ESTABLISHED, established,')
    cls = dashboards.parse_sock_classes(added)
    all_p, _ = panels_with(cls)
    check("syn_flood" in all_p, "an added class is not in the panel: %r" % all_p)
    removed = re.sub(r"SUSPECT\(ZERO_WINDOW, zero_window, 2,", "CLASS(ZERO_WINDOW, zero_window,", text)
    cls = dashboards.parse_sock_classes(removed)
    _, susp_p = panels_with(cls)
    check("zero_window" not in susp_p, "a class no longer suspect is still in the suspect panel")
    reranked = text.replace("SUSPECT(CLOSE_WAIT, close_wait, 4,", "SUSPECT(CLOSE_WAIT, close_wait, 0,") \
                   .replace("SUSPECT(RETRANSMITTING, retransmitting, 0,",
                            "SUSPECT(RETRANSMITTING, retransmitting, 4,")
    _, susp_p = panels_with(dashboards.parse_sock_classes(reranked))
    check(susp_p[0] == "close_wait" and susp_p[-1] == "retransmitting", "ranks ignored: %r" % susp_p)


def t_unknown_legend_refused():
    saved = dict(dashboards.CLASS_LEGEND)
    dashboards.CLASS_LEGEND["no_such_class"] = "x"
    try:
        dashboards.service()
    except ValueError as e:
        check("no_such_class" in str(e), str(e))
        return
    finally:
        dashboards.CLASS_LEGEND.clear()
        dashboards.CLASS_LEGEND.update(saved)
    raise AssertionError("a legend for an unknown class was accepted")


def main():
    r = common.Runner()
    for name, fn in [("parse of sock_classes.h", t_parse_real_header),
                     ("panels follow the header", t_panels_follow_header),
                     ("header mutants change the panels", t_mutants_follow),
                     ("legend of an unknown class refused", t_unknown_legend_refused)]:
        r.check(name, fn)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
