"""The acquirer's incident report: one self-contained HTML page from the collector's database.

Inline CSS, the chart as inline SVG drawn here, no script and nothing fetched (a Content Security
Policy says so to the browser too), so the page can be mailed or archived and opened offline.
Columns give cause, subcause, action and card token; the facts that are not columns (operator id,
network state, firmware) come from opening each sealed record with the fleet secret. Every text
from the database came from a terminal and is escaped: a stolen terminal can seal anything.
"""

import html
import sqlite3
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

from lostcard import policy
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.errors import LostcardError
from lostcard.vocab import ACTIONS, CAUSES

from . import crypto, fastcbor
from .incidents import describe

ZH = {"card_data_error": "银行卡信息错误", "card_compromised": "银行卡被非法复制或克隆",
      "network_fault": "网络连接问题", "device_fault": "软件或硬件故障",
      "operator_error": "操作员误操作", "undetermined": ""}
COLOURS = {"card_data_error": "#4e79a7", "card_compromised": "#e15759", "network_fault": "#f28e2b",
           "device_fault": "#76b7b2", "operator_error": "#b07aa1", "undetermined": "#9d9d9d"}
REPEATED = 2  # a terminal's device faults or an operator's errors from this many on are listed
HOT_SPOTS = 10  # network hot spots listed
TOKEN_SHOWN = 8  # hex digits of a card token shown: enough to tell cards apart in one report
HOUR, DAY = 3600, 86400
NONE = '<p class="none">None in this period.</p>'
CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
.todo{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
.warn{background:#fdecea;border-left:4px solid #d93025;padding:.5em 1em}
.none{font-style:italic}svg{max-width:100%;height:auto}svg text{font:12px sans-serif}
"""
# what each section asks of its readers, in the words of the domain notes
TODO = {
    "summary": "Review these figures periodically to judge how well the measures work "
               "(效果评估). Quarantined records failed to open or check at the collector: a "
               "terminal with many may be faulty or tampered with, so service it. Records a "
               "terminal evicted or found corrupt before upload are lost evidence: a full queue "
               "means the terminal was offline too long, so check its link and sync it more often.",
    "chart": "Watch for a cause that rises: a run of network faults is a link or host outage, a "
             "run of compromised cards a skimming or cloning wave, card data errors mostly need "
             "the data verified with the cardholder (核实信息). Incidents whose terminal clock "
             "cannot be trusted are counted in the summary, not drawn.",
    "device-faults": "Send each terminal listed for professional repair (专业维修) or replace it "
                     "(更换设备): reader and clock faults are hardware; outdated firmware and "
                     "configuration errors need a software update (软件更新); a terminal that "
                     "detected tampering must leave service at once and be checked for a skimmer.",
    "operator-errors": "Train and supervise these operators (培训和监督): wrong transaction types, "
                       "forced fallback and repeated retries need clear, standardised procedures "
                       "(明确流程); correct the mistake at once and apologise to the cardholder "
                       "(即时纠正).",
    "network": "Check the link and the host with the network team for these terminals and hours "
               "(检查网络连接): restart the terminal, and update its drivers and firmware "
               "(更新驱动程序). A false \"lost card\" here is a data-sync error, not the card.",
    "skimming": "The same card declined as compromised on several terminals: report it to the "
                "issuer and the police at once (及时报警), monitor and stop its transactions "
                "(监控可疑交易), and inspect the terminals listed, where a skimmer may be fitted. "
                "Keep chip first: no needless magstripe fallback.",
}


def _opener(fleet_secret):
    fleet = FleetKeys(crypto, fleet_secret)  # one for all records: its ratchet is reused

    def open_facts(device, sealed):
        try:
            return describe(record_check.open_sealed(crypto, fleet, sealed, fastcbor.decode,
                                                     device))
        except LostcardError:
            return None
    return open_facts


def _load(db_path, fleet_secret, now):
    """The database's incidents (dicts, facts opened), quarantine and gaps."""
    db = sqlite3.connect(Path(db_path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        db.execute("BEGIN")  # one snapshot, while the collector goes on writing
        rows = db.execute("SELECT device, time, cause, subcause, action, token, last4, "
                          "sealed FROM incidents ORDER BY device, seq").fetchall()
        quarantine = db.execute("SELECT device, reason, COUNT(*) FROM quarantine "
                                "GROUP BY device, reason ORDER BY device, reason").fetchall()
        gaps = db.execute("SELECT device, evicted_1, evicted_2, evicted_3, corrupt FROM gaps "
                          "ORDER BY device").fetchall()
    finally:
        db.close()
    limits = policy.DEFAULT["limits"]
    # a clock that lost power or jumped ahead: its times would stretch the chart by decades
    low, high = limits["plausible_time_min"], min(limits["plausible_time_max"], now + DAY)
    open_facts = _opener(fleet_secret)
    incidents = []
    for device, t, cause, subcause, action, token, last4, sealed in rows:
        described = open_facts(device, sealed)
        facts = described["facts"] if described else {}
        trusted = t is not None and facts.get("clock_ok") is not False and low <= t < high
        incidents.append({"device": device, "time": t if trusted else None,
                          "cause": cause, "subcause": subcause, "action": action,
                          "token": token, "last4": last4, "facts": facts,
                          "brand": (described or {}).get("card", {}).get("brand"),
                          "opened": described is not None})
    return incidents, quarantine, gaps


def _utc(t, fmt="%Y-%m-%d %H:%M"):
    if t is None:
        return "clock not trusted"
    return datetime.fromtimestamp(t, timezone.utc).strftime(fmt)


def _table(headers, rows, numeric=()):
    """A table of plain texts, each escaped here: no cell carries markup."""
    head = "".join("<th>%s</th>" % html.escape(h) for h in headers)
    body = "".join(
        "<tr>%s</tr>" % "".join('<td%s>%s</td>' % (' class="n"' if i in numeric else "",
                                                    html.escape(str(cell)))
                                for i, cell in enumerate(row))
        for row in rows)
    return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, body)


def _section(sid, title, body):
    return ('<section id="%s"><h2>%s</h2>%s<p class="todo"><strong>What to do.</strong> %s</p>'
            "</section>" % (sid, html.escape(title), body, html.escape(TODO[sid])))


def _tally(values):
    return ", ".join("%s ×%d" % (v, n) for v, n in Counter(values).most_common())


def _span(incidents):
    times = [i["time"] for i in incidents if i["time"] is not None]
    return (min(times), max(times)) if times else (None, None)


def _summary(incidents, quarantine, gaps):
    by_cause = Counter(i["cause"] for i in incidents)
    by_action = Counter(i["action"] for i in incidents)
    first, last = _span(incidents)
    total = len(incidents)
    period = "%s – %s UTC" % (_utc(first), _utc(last)) if first is not None else "none"
    figures = [
        ("Incidents", total), ("Terminals", len({i["device"] for i in incidents})),
        ("Period (terminal clocks)", period),
        ("Incidents whose terminal clock is not trusted",
         sum(1 for i in incidents if i["time"] is None)),
        ("Quarantined records", sum(n for _, _, n in quarantine)),
        ("Records evicted by terminals before upload (lanes 1–3)",
         sum(sum(g[1:4]) for g in gaps)),
        ("Corrupt records found by terminals", sum(g[4] for g in gaps)),
        ("Records that did not open with this fleet secret",
         sum(1 for i in incidents if not i["opened"])),
    ]
    body = _table(("Figure", "Value"), figures, numeric=(1,))
    known = [c for c in CAUSES if c in by_cause] + sorted(set(by_cause) - set(CAUSES))
    body += "<h3>By cause</h3>" + (_table(
        ("Cause", "中文", "Incidents", "Share"),
        [(c, ZH.get(c, ""), by_cause[c], "%.0f%%" % (100 * by_cause[c] / total))
         for c in known], numeric=(2, 3)) if total else NONE)
    known = [a for a in ACTIONS if a in by_action] + sorted(set(by_action) - set(ACTIONS))
    body += "<h3>By action</h3>" + (_table(("Action", "Incidents"),
                                           [(a, by_action[a]) for a in known], numeric=(1,))
                                    if total else NONE)
    body += "<h3>Quarantined records</h3>" + (
        _table(("Terminal", "Reason", "Records"), quarantine, numeric=(2,)) if quarantine else NONE)
    lossy = [g for g in gaps if any(g[1:])]  # every terminal reports, most report nothing lost
    body += "<h3>Known gaps reported by terminals</h3>" + (
        _table(("Terminal", "Evicted, lane 1 (urgent)", "Evicted, lane 2", "Evicted, lane 3 "
                "(routine)", "Corrupt"), lossy, numeric=(1, 2, 3, 4)) if lossy else NONE)
    return body


def _chart(incidents):
    dated = [i for i in incidents if i["time"] is not None]
    if not dated:
        return NONE
    first, last = _span(dated)
    size, fmt, tick, unit = (HOUR, "%Y-%m-%d %H:00", "%m-%d %H:00", "hour") \
        if last - first < 2 * DAY else (DAY, "%Y-%m-%d", "%Y-%m-%d", "day")
    counts = defaultdict(Counter)  # bin start -> cause -> incidents
    for i in dated:
        counts[i["time"] - i["time"] % size][i["cause"]] += 1
    start = first - first % size
    bins = (last - last % size - start) // size + 1
    causes = [c for c in CAUSES if any(c in b for b in counts.values())]
    peak = max(sum(b.values()) for b in counts.values())
    left, top, width, height = 50, 20, 560, 200
    step = width / bins
    bar = max(step * 0.8, 1)
    parts = ['<svg viewBox="0 0 780 270" role="img" aria-labelledby="chart-title chart-desc">'
             '<title id="chart-title">Incidents by cause over time</title>'
             '<desc id="chart-desc">Stacked bars, one per %s (UTC), of incidents by cause.'
             '</desc>' % unit,
             '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>'
             % (left, top + height, left + width, top + height)]
    for value in sorted({0, peak // 2, peak}):  # y axis ticks
        y = top + height - height * value / peak
        parts.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>'
                     '<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                     % (left - 6, y + 4, value, left, y, left + width, y))
    for start_t in sorted(counts):
        x = left + (start_t - start) // size * step + (step - bar) / 2
        y = top + height
        for cause in causes:
            n = counts[start_t][cause]
            if n:
                h = height * n / peak
                y -= h
                parts.append('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                             'fill="%s"><title>%s: %s %d</title></rect>'
                             % (x, y, bar, h, COLOURS[cause], _utc(start_t, fmt), cause, n))
    for n in range(0, bins, -(-bins // 6)):  # x axis: at most six labelled bins
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                     % (left + (n + 0.5) * step, top + height + 18, _utc(start + n * size, tick)))
    for n, cause in enumerate(causes):  # legend
        y = top + n * 22
        parts.append('<rect class="key" x="630" y="%d" width="14" height="14" fill="%s"/>'
                     '<text x="650" y="%d">%s</text>' % (y, COLOURS[cause], y + 12, cause))
    parts.append("</svg>")
    rows = [[_utc(t, fmt)] + [counts[t][c] for c in causes] for t in sorted(counts)]
    return "".join(parts) + "<details><summary>Counts per %s</summary>%s</details>" % (
        unit, _table(["%s (UTC)" % unit.capitalize()] + causes, rows,
                     numeric=range(1, len(causes) + 1)))


def _device_faults(incidents):
    by_device = defaultdict(list)
    for i in incidents:
        if i["cause"] == "device_fault":
            by_device[i["device"]].append(i)
    rows = [(device, len(found), _tally(i["subcause"] for i in found),
             ", ".join(sorted({i["facts"]["firmware"] for i in found
                               if "firmware" in i["facts"]})) or "not reported",
             _utc(_span(found)[1]))
            for device, found in by_device.items() if len(found) >= REPEATED]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return _table(("Terminal", "Device faults", "Subcauses", "Firmware", "Last (UTC)"), rows,
                  numeric=(1,)) if rows else NONE


def _operator_errors(incidents):
    by_operator = defaultdict(list)
    anonymous = 0
    for i in incidents:
        if i["cause"] == "operator_error":
            if "operator_id" in i["facts"]:
                by_operator[i["facts"]["operator_id"]].append(i)
            else:
                anonymous += 1
    rows = [(operator, len(found), _tally(i["subcause"] for i in found),
             ", ".join(sorted({i["device"] for i in found})), _utc(_span(found)[1]))
            for operator, found in by_operator.items() if len(found) >= REPEATED]
    rows.sort(key=lambda r: (-r[1], r[0]))
    body = _table(("Operator", "Operator errors", "Subcauses", "Terminals", "Last (UTC)"), rows,
                  numeric=(1,)) if rows else NONE
    if anonymous:
        body += "<p>%d operator errors carry no operator id.</p>" % anonymous
    return body


def _network(incidents):
    by_device = defaultdict(list)
    for i in incidents:
        if i["cause"] == "network_fault":
            by_device[i["device"]].append(i)
    rows = []
    for device, found in by_device.items():
        # the busiest hour from any incident on: an outage keeps no clock hours
        times = sorted(i["time"] for i in found if i["time"] is not None)
        windows = [(bisect_left(times, t + HOUR) - n, t) for n, t in enumerate(times)]
        count, start = max(windows, key=lambda w: (w[0], -w[1]), default=(0, None))
        window = "%s – %s" % (_utc(start), _utc(start + HOUR, "%H:%M")) if times else _utc(None)
        rows.append((device, len(found), _tally(i["subcause"] for i in found), window, count,
                     _tally(i["facts"]["network"] for i in found if "network" in i["facts"])
                     or "not reported"))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return _table(("Terminal", "Network faults", "Subcauses", "Busiest hour (UTC)",
                   "In that hour", "Link state reported"), rows[:HOT_SPOTS],
                  numeric=(1, 4)) if rows else NONE


def _skimming(incidents):
    by_card = defaultdict(list)
    for i in incidents:
        if i["cause"] == "card_compromised" and i["token"]:
            by_card[bytes(i["token"])].append(i)
    rows = [(token.hex()[:TOKEN_SHOWN] + "…", found[0]["last4"] or "",
             found[0]["brand"] or "", len({i["device"] for i in found}),
             "; ".join("%s at %s (%s)" % (i["device"], _utc(i["time"]), i["subcause"])
                       for i in sorted(found, key=lambda i: (i["time"] or 0, i["device"]))))
            for token, found in by_card.items() if len({i["device"] for i in found}) > 1]
    rows.sort(key=lambda r: (-r[3], r[0]))
    return _table(("Card token", "Last 4", "Brand", "Terminals", "Incidents (terminal at UTC "
                   "time, subcause)"), rows, numeric=(3,)) if rows else NONE


SECTIONS = (("summary", "Summary"), ("chart", "Incidents by cause over time"),
            ("device-faults", "Device faults: terminals to repair"),
            ("operator-errors", "Operator errors: operators to train"),
            ("network", "Network hot spots"), ("skimming", "Possible skimming ring"))


def render(db_path, fleet_secret, now=None):
    """The report on the collector database at `db_path` as one HTML page (a str)."""
    now = int(time.time() if now is None else now)
    incidents, quarantine, gaps = _load(db_path, fleet_secret, now)
    unopened = sum(1 for i in incidents if not i["opened"])
    warn = ('<p class="warn">%d of %d records did not open with this fleet secret: their '
            'operator, firmware and link facts are missing below.</p>' % (unopened, len(incidents))
            if unopened else "")
    nav = " · ".join('<a href="#%s">%s</a>' % (sid, html.escape(title))
                     for sid, title in SECTIONS)
    bodies = {"summary": _summary(incidents, quarantine, gaps), "chart": _chart(incidents),
              "device-faults": _device_faults(incidents),
              "operator-errors": _operator_errors(incidents), "network": _network(incidents),
              "skimming": _skimming(incidents)}
    sections = "".join(_section(sid, title, bodies[sid]) for sid, title in SECTIONS)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            # nothing may load or run, whatever a record holds
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            'style-src \'unsafe-inline\'">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Lost-card incidents: acquirer report</title><style>%s</style></head><body>"
            "<h1>Lost-card incidents: acquirer report</h1><p>Generated %s UTC from the "
            "collector's database. Times are the terminals' clocks, in UTC.</p>%s<nav>%s</nav>%s"
            "</body></html>\n" % (CSS, _utc(now), warn, nav, sections))


def write(db_path, fleet_secret, out_path, now=None):
    """Write the report on the collector database at `db_path` to `out_path` (UTF-8 HTML)."""
    Path(out_path).write_text(render(db_path, fleet_secret, now), encoding="utf-8")
