"""The state x timer matrix: one real socket per (TCP state, pending timer)
the kernel can produce, what the exporter must make of it, and the
combinations the kernel cannot produce. The single source of
tests/matrix/run.py (which builds each socket and checks the exporter
against `ss -tnoi`) and of the table in docs/metrics.md (gen_doc.py).

Each case:
  name      short id; its port pair and its services are named after it
  state     as `ss` prints it
  timer     as `ss` prints it: off, on (retransmit / loss probe), keepalive
            (keepalive, or the FIN-WAIT-2 timer sharing sk_timer), persist
            (zero-window probe), timewait
  subject   which end is checked: "client" (outbound service) or "server"
            (inbound service)
  how       how run.py makes it (for the doc)
  classes   the exporter's classes of the subject (metric suffixes)
  unanswered  what halfopen_longest_unanswered_seconds / unanswered_ms
            derive from: "lastack" (ss lastack), "seen" (the exporter's
            first sighting: the kernel stamp is unset), "" (0: not hanging)
  retrans   the subject's ss timer count is >= 1 (unanswered retransmits or
            probes out) when True, 0 when False, unchecked when None
  before    what the exporter reported before issue 11 was fixed (the same
            test against the old binary), when it was wrong
  hang_from when the hang began: the case's event (default), or "lastack"
            (CLOSING: the peer's FIN acknowledged nothing of ours but reset
            the retransmit count)
"""

HANGING = ("retransmitting", "keepalive_probing")
PATH_CASES = ("pathidle", "kaslow")  # services with path_idle_timeout: 2s

CASES = [
    dict(name="synsent", state="SYN-SENT", timer="on", subject="client",
         how="connect() to a port whose SYNs an INPUT DROP rule eats",
         classes=["retransmitting"], unanswered="seen", retrans=True,
         before="longest_unanswered / unanswered_ms = time since boot minus 5 min (639 s for a 3 s old connect)"),
    dict(name="synrecv", state="SYN-RECV", timer="on", subject="server",
         how="the server's SYN-ACKs dropped on the way in: a request socket, no tcp_info",
         classes=["retransmitting"], unanswered="seen", retrans=True,
         before="longest_unanswered / unanswered_ms 0: a hanging socket without any age"),
    dict(name="estab", state="ESTAB", timer="off", subject="client",
         how="an idle connection, traffic within stale_after",
         classes=["established"], unanswered="", retrans=False),
    dict(name="stale", state="ESTAB", timer="off", subject="client",
         how="an idle connection, silent for longer than stale_after (2 s)",
         classes=["established", "stale"], unanswered="", retrans=False),
    dict(name="rto", state="ESTAB", timer="on", subject="client",
         how="the client writes, the server's ACKs are dropped",
         classes=["established", "retransmitting"], unanswered="lastack", retrans=True),
    dict(name="tlp", state="ESTAB", timer="on", subject="client",
         how="as rto, on a route with rto_min 15s: loss probe sent, RTO not yet expired",
         classes=["established"], unanswered="", retrans=False),
    dict(name="keepalive", state="ESTAB", timer="keepalive", subject="client",
         how="SO_KEEPALIVE, idle 60 s before the first probe",
         classes=["established", "keepalive"], unanswered="", retrans=False),
    dict(name="pathidle", state="ESTAB", timer="off", subject="client",
         how="an idle connection silent both ways for longer than its path_idle_timeout (2 s)",
         classes=["established", "idle_past_path_timeout"], unanswered="", retrans=False,
         before="the family did not exist (issue 19)"),
    dict(name="kaslow", state="ESTAB", timer="keepalive", subject="client",
         how="SO_KEEPALIVE idle 60 s, path_idle_timeout 2 s: idle read back from the timer, then silent past the path",
         classes=["established", "keepalive", "keepalive_slower_than_path", "idle_past_path_timeout"],
         unanswered="", retrans=False, before="the path families did not exist (issue 19)"),
    dict(name="kaprobe", state="ESTAB", timer="keepalive", subject="client",
         how="SO_KEEPALIVE idle 1 s, interval 1 s; the server's answers dropped",
         classes=["established", "keepalive", "keepalive_probing"], unanswered="lastack", retrans=True),
    dict(name="zerowin", state="ESTAB", timer="persist", subject="client",
         how="the server never reads (SO_RCVBUF 4096), the client fills the window",
         classes=["established", "zero_window"], unanswered="", retrans=None),
    dict(name="fw1rto", state="FIN-WAIT-1", timer="on", subject="client",
         how="shutdown(SHUT_WR) while the server's ACKs are dropped",
         classes=["retransmitting"], unanswered="lastack", retrans=True),
    dict(name="fw1zw", state="FIN-WAIT-1", timer="persist", subject="client",
         how="the client fills a zero window, then shutdown(SHUT_WR): the FIN waits behind the data",
         classes=["zero_window"], unanswered="", retrans=None),
    dict(name="fw2", state="FIN-WAIT-2", timer="off", subject="client",
         how="shutdown(SHUT_WR), the server ACKs the FIN and keeps its end open",
         classes=[], unanswered="", retrans=False),
    dict(name="fw2orphan", state="FIN-WAIT-2", timer="keepalive", subject="client",
         how="as fw2 but close() with TCP_LINGER2 120 s: an orphan on the FIN-WAIT-2 timer (sk_timer)",
         classes=[], unanswered="", retrans=False),
    dict(name="fw2tw", state="FIN-WAIT-2", timer="timewait", subject="client",
         how="as fw2 but close() with the default tcp_fin_timeout: a timewait minisocket in FIN-WAIT-2",
         classes=[], unanswered="", retrans=False),
    dict(name="closewait", state="CLOSE-WAIT", timer="off", subject="client",
         how="the server closes, the client never does",
         classes=["close_wait"], unanswered="", retrans=False),
    dict(name="cwka", state="CLOSE-WAIT", timer="keepalive", subject="client",
         how="as closewait, with SO_KEEPALIVE",
         classes=["close_wait"], unanswered="", retrans=False),
    dict(name="cwrto", state="CLOSE-WAIT", timer="on", subject="client",
         how="as closewait, then the client writes while the server's ACKs are dropped",
         classes=["close_wait", "retransmitting"], unanswered="lastack", retrans=True),
    dict(name="lastack", state="LAST-ACK", timer="on", subject="client",
         how="a CLOSE-WAIT client closes while the server's ACKs are dropped",
         classes=["retransmitting"], unanswered="lastack", retrans=True),
    dict(name="closing", state="CLOSING", timer="on", subject="client",
         how="both ends shutdown(SHUT_WR) with both directions dropped, then one FIN of the server let through",
         classes=["retransmitting"], unanswered="lastack", retrans=True, hang_from="lastack"),
    dict(name="timewait", state="TIME-WAIT", timer="timewait", subject="client",
         how="the client closes first, the server closes",
         classes=[], unanswered="", retrans=False),
    dict(name="orphan", state="FIN-WAIT-1", timer="on", subject="server",
         how="a server on a port below the ephemeral range, its ACKs from the client dropped, killed "
             "before any collection saw it listen; counted with unmatched: count",
         classes=["retransmitting"], unanswered="lastack", retrans=True,
         before='counted as unmatched direction="outbound" (the server\'s inbound connection)'),
]

# (state, timer, why the kernel cannot produce it, or why it is not built)
NOT_PRODUCED = [
    ("SYN-SENT", "off / keepalive / persist",
     "never: a SYN-SENT socket always has the SYN retransmit timer armed"),
    ("SYN-RECV", "off / keepalive / persist",
     "never for request sockets (SYN-ACK timer only); a Fast Open child in SYN-RECV behaves as ESTAB (not built: needs TFO cookies)"),
    ("ESTAB", "timewait", "never"),
    ("FIN-WAIT-1", "off / keepalive",
     "never: the FIN is unacknowledged, so the retransmit or persist timer is armed"),
    ("FIN-WAIT-2", "on / persist",
     "never: everything we sent is acknowledged, nothing to retransmit or probe"),
    ("CLOSE-WAIT", "persist", "reachable (peer's zero window while we still send); not built: same class path as ESTAB persist"),
    ("LAST-ACK", "off / keepalive", "never: the FIN is unacknowledged"),
    ("LAST-ACK", "persist", "reachable (FIN behind data on a zero window); not built: same as FIN-WAIT-1 persist"),
    ("CLOSING", "off / keepalive / persist", "never: our FIN is unacknowledged, the retransmit timer runs"),
    ("TIME-WAIT", "anything but timewait", "never: a timewait minisocket has only its own timer"),
]


def services_config(ports, orphan_port):
    """The exporter config: per case an outbound service on the case's
    server port (client end) and an inbound one (server end); unmatched
    counted so the orphan case has somewhere to go."""
    lines = ["defaults: {stale_after: 1h, unmatched: count, listening_ports: false}", "services:"]
    for c in CASES:
        if c["name"] == "orphan":
            continue
        st = "2s" if c["name"] == "stale" else "1h"
        # path_idle_timeout only where judged: every other case, silent or
        # not, must read 0 in both path families.
        if c["name"] in PATH_CASES:
            st += ", path_idle_timeout: 2s"
        p = ports[c["name"]]
        lines.append("  - {name: %s-c, direction: outbound, ports: [%d], stale_after: %s}" % (c["name"], p, st))
        lines.append("  - {name: %s-s, direction: inbound, ports: [%d], stale_after: %s}" % (c["name"], p, st))
    return "\n".join(lines) + "\n"


def service_of(case):
    if case["name"] == "orphan":
        return ("unmatched", "inbound")
    return (case["name"] + ("-c" if case["subject"] == "client" else "-s"),
            "outbound" if case["subject"] == "client" else "inbound")
