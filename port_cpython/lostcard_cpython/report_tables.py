"""Every table of the report, once, for the page and for the exports alike: each cell holds what
an export keeps (codes, numbers, ISO 8601 times) and what the page shows (report_labels' words),
so a table on the page and its export cannot drift apart.
"""

from collections import namedtuple

from lostcard.vocab import ACTIONS, CAUSES

from . import report_analysis as analysis
from . import report_labels as labels
from .report_analysis import HOUR, utc

Column = namedtuple("Column", "key header numeric")
Table = namedtuple("Table", "name title columns rows")
Cell = namedtuple("Cell", "data text")  # data for the exports, text for people


def iso(t):
    return None if t is None else utc(t, "%Y-%m-%dT%H:%M:%SZ")


def period(window):
    """A period for people: "2026-11-25 09:46 – 2026-11-29 13:46 UTC"."""
    return "%s – %s UTC" % (utc(window[0]), utc(window[1])) if window else "none"


def _period(window):
    """A period as an ISO 8601 interval for the exports ("start/end"), as text for people."""
    return Cell("%s/%s" % (iso(window[0]), iso(window[1])) if window else None, period(window))


def _token(token):
    return Cell(token, token + "…")  # the page says the token goes on; the exports keep hex


def _time(t, fmt="%Y-%m-%d %H:%M"):
    return Cell(iso(t), utc(t, fmt))


def _coded(code, word):
    return Cell(code, word(code))


def _tally(pairs, word=str, empty=""):
    return Cell(", ".join("%s ×%d" % (v, n) for v, n in pairs),
                ", ".join("%s ×%d" % (word(v), n) for v, n in pairs) or empty)


def _table(name, title, columns, rows):
    """`columns`: (key, header) pairs, a key ending in "!" for a numeric column."""
    return Table(name, title, [Column(key.rstrip("!"), header, key.endswith("!"))
                               for key, header in columns], rows)


def _in_order(found, order):
    return [c for c in order if c in found] + sorted(set(found) - set(order))


def summary(current, previous, quarantine, gaps):
    """The summary section's tables: figures, by cause, by action, quarantine, gaps."""
    figures = [(Cell(code, label), label, _period(value), _period(before))
               if code == "period" else (Cell(code, label), label, value, before)
               for code, label, value, before
               in analysis.summary_figures(current, previous, quarantine, gaps)]
    now, before = (analysis.tally(i["cause"] for i in p.incidents) for p in (current, previous))
    now, before = dict(now), dict(before)
    total = len(current.incidents)
    by_cause = [(_coded(c, labels.cause), labels.CAUSE_ZH.get(c, ""), now.get(c, 0),
                 Cell(round(100 * now[c] / total), "%.0f%%" % (100 * now[c] / total)),
                 before.get(c, 0))
                for c in _in_order(now, CAUSES)] if total else []
    now, before = (dict(analysis.tally(i["action"] for i in p.incidents))
                   for p in (current, previous))
    by_action = [(_coded(a, labels.action), now.get(a, 0), before.get(a, 0))
                 for a in _in_order(now, ACTIONS)] if total else []
    previous_column = "Previous period"
    return [
        _table("summary", "Summary", (("figure", "Figure"), ("label", "Label"),
                                      ("value!", "Value"), ("previous!", previous_column)),
               figures),
        _table("by_cause", "By cause", (("cause", "Cause"), ("cause_zh", "中文"),
                                        ("incidents!", "Incidents"), ("share_pct!", "Share"),
                                        ("previous!", previous_column)), by_cause),
        _table("by_action", "By action", (("action", "Action"), ("incidents!", "Incidents"),
                                          ("previous!", previous_column)), by_action),
        _table("quarantine", "Quarantined records", (("terminal", "Terminal"),
                                                     ("reason", "Reason"),
                                                     ("records!", "Records")), quarantine),
        # every terminal reports its gaps, most report nothing lost
        _table("gaps", "Known gaps reported by terminals", (
            ("terminal", "Terminal"), ("evicted_lane_1!", "Evicted, lane 1 (urgent)"),
            ("evicted_lane_2!", "Evicted, lane 2"),
            ("evicted_lane_3!", "Evicted, lane 3 (routine)"), ("corrupt!", "Corrupt"),
            ("lost_to_restore!", "Lost to a restore older than the retention window")),
            [g for g in gaps if any(g[1:])]),
    ]


def over_time(incidents):
    """The chart's counts per hour or day and cause: (table, bin size, first bin, bins, counts,
    causes drawn), or None when no incident has a trusted time."""
    dated = [i for i in incidents if i["time"] is not None]
    if not dated:
        return None
    size, start, bins, counts = analysis.over_time(dated)
    fmt, unit = ("%Y-%m-%d %H:00", "hour") if size == HOUR else ("%Y-%m-%d", "day")
    causes = [c for c in CAUSES if any(c in b for b in counts.values())]
    table = _table("over_time", "Counts per %s" % unit,
                   [(unit, "%s (UTC)" % unit.capitalize())]
                   + [(c + "!", labels.cause(c)) for c in causes],
                   [[_time(t, fmt)] + [counts[t][c] for c in causes] for t in sorted(counts)])
    return table, size, start, bins, counts, causes


def findings(incidents):
    """The tables of what to act on: (table, operator errors without an operator id)."""
    operators, anonymous = analysis.repeated_operator_errors(incidents)
    subcauses = lambda pairs: _tally(pairs, labels.subcause)
    return [
        _table("device_faults", "Device faults: terminals to repair", (
            ("terminal", "Terminal"), ("device_faults!", "Device faults"),
            ("subcauses", "Subcauses"), ("firmware", "Firmware"), ("last", "Last (UTC)")),
            [(d, n, subcauses(s), Cell(", ".join(f), ", ".join(f) or "not reported"), _time(t))
             for d, n, s, f, t in analysis.repeated_device_faults(incidents)]),
        _table("operator_errors", "Operator errors: operators to train", (
            ("operator", "Operator"), ("operator_errors!", "Operator errors"),
            ("subcauses", "Subcauses"), ("terminals", "Terminals"), ("last", "Last (UTC)")),
            [(o, n, subcauses(s), ", ".join(d), _time(t)) for o, n, s, d, t in operators]),
        _table("network_hot_spots", "Network hot spots", (
            ("terminal", "Terminal"), ("network_faults!", "Network faults"),
            ("subcauses", "Subcauses"), ("busiest_hour", "Busiest hour (UTC)"),
            ("in_that_hour!", "In that hour"), ("link_states", "Link state reported")),
            [(d, n, subcauses(s),
              Cell(iso(t), "%s – %s" % (utc(t), utc(t + HOUR, "%H:%M")) if t else utc(None)),
              c, _tally(states, empty="not reported"))
             for d, n, s, t, c, states in analysis.network_hot_spots(incidents)]),
        _table("skimming", "Possible skimming ring", (
            ("card_token", "Card token"), ("last4", "Last 4"), ("brand", "Brand"),
            ("terminals!", "Terminals"),
            ("incidents", "Incidents (terminal at UTC time, subcause)")),
            [(_token(token), last4, brand, n, Cell(
                "; ".join("%s %s %s" % (d, iso(t) or "-", s) for d, t, s in seen),
                "; ".join("%s at %s (%s)" % (d, utc(t), labels.subcause(s)) for d, t, s in seen)))
             for token, last4, brand, n, seen in analysis.cards_at_several_terminals(incidents)]),
    ], anonymous


def terminals(current, previous, quarantine, gaps):
    """Each terminal in one row, and every incident in one (by terminal, then time)."""
    rows = [(d, n, before, _tally(causes, labels.cause), alarms, _time(last) if n else None,
             held, lost)
            for d, n, before, causes, alarms, last, held, lost
            in analysis.terminals(current.incidents, previous.incidents, quarantine, gaps)]
    listed = [(i["device"], _time(i["time"]), _coded(i["cause"], labels.cause),
               _coded(i["subcause"], labels.subcause), _coded(i["action"], labels.action),
               i["facts"].get("operator_id"), i["facts"].get("network"),
               i["facts"].get("firmware"),
               _token(analysis.shown(bytes(i["token"]))) if i["token"] else None, i["last4"],
               i["brand"], Cell(i["opened"], "yes" if i["opened"] else "no"))
              for i in sorted(current.incidents, key=lambda i: (i["device"], i["time"] or 0))]
    return [
        _table("terminals", "Terminals", (
            ("terminal", "Terminal"), ("incidents!", "Incidents"),
            ("previous!", "Previous period"), ("causes", "Causes"),
            ("tamper_alarms!", "Tamper alarms"), ("last", "Last (UTC)"),
            ("quarantined!", "Quarantined"), ("lost_before_upload!", "Lost before upload")),
            rows),
        _table("incidents", "Incidents", (
            ("terminal", "Terminal"), ("time", "Time (UTC)"), ("cause", "Cause"),
            ("subcause", "Subcause"), ("action", "Action"), ("operator", "Operator"),
            ("network", "Link"), ("firmware", "Firmware"), ("card_token", "Card token"),
            ("last4", "Last 4"), ("brand", "Brand"), ("opened", "Opened")), listed),
    ]


def updates(status):
    """The updates' tables (publish.status): what is published, with how many terminals run it
    and how many are behind; the terminals behind the newest policy or watchlist, or whose last
    update they refused: the version each runs (and the newest, for people)."""
    newest = status["newest"]
    published = [(kind, version, sum(1 for t in status["terminals"] if t[kind] >= version),
                  status["behind"][kind]) for kind, version in newest.items()]
    rows = [(t["terminal"], Cell(t["policy"], "%d of %d" % (t["policy"], newest["policy"])),
             Cell(t["watchlist"], "%d of %d" % (t["watchlist"], newest["watchlist"])),
             ", ".join(t["behind"]),
             None if not t["refused"] else "%s version %d: %s" % (
                 t["refused"]["kind"], t["refused"]["version"], t["refused"]["reason"]),
             _time(t["refused"]["at"]) if t["refused"] else None, _time(t["seen"]))
            for t in status["terminals"] if t["behind"] or t["refused"]]
    return [_table("published", "Published updates", (
        ("update", "Update"), ("version!", "Newest version (0: none)"),
        ("terminals_on_it!", "Terminals running it"), ("terminals_behind!", "Terminals behind")),
        published), _table("updates", "Terminals behind on policy or watchlist", (
        ("terminal", "Terminal"), ("policy!", "Policy version"),
        ("watchlist!", "Watchlist version"), ("behind", "Behind on"),
        ("last_refusal", "Last refusal"), ("refused_at", "Refused at (UTC)"),
        ("last_seen", "Last seen (UTC)")), rows)]


def alerts(incidents, quarantine):
    """What must not wait: terminals that detected tampering, incidents the secret did not
    open, quarantined records that did not authenticate (a collector given another fleet's
    secret quarantines every record). A table like the others, so that the exports carry it
    too."""
    rows = [(Cell("tamper_detected", "Tampering detected"), device, n)
            for device, n in analysis.tampered(incidents).items()]
    unopened = sum(1 for i in incidents if not i["opened"])
    if unopened:
        rows.append((Cell("not_opened", "Did not open with this fleet secret"), None, unopened))
    failed = analysis.not_authenticated(quarantine)
    if failed:
        rows.append((Cell("not_authenticated", "Quarantined: did not authenticate"), None,
                     failed))
    return _table("alerts", "Alerts", (("alert", "Alert"), ("terminal", "Terminal"),
                                       ("incidents!", "Incidents")), rows)
