"""The acquirer's incident report: one self-contained HTML page from the collector's database
(report_data opens the incidents, report_analysis finds what to list; this module draws it).

Inline CSS, the chart as inline SVG drawn here, no script and nothing fetched (a Content Security
Policy says so to the browser too), so the page can be mailed or archived and opened offline.
Columns give cause, subcause, action and card token; the facts that are not columns (operator id,
network state, firmware) come from opening each sealed record with the fleet secret. Every text
from the database came from a terminal and is escaped: a stolen terminal can seal anything.
"""

import html
import time
from collections import Counter
from pathlib import Path

from lostcard.vocab import ACTIONS, CAUSES

from . import report_analysis as analysis
from . import report_data
from .report_analysis import HOUR, utc

ZH = {"card_data_error": "银行卡信息错误", "card_compromised": "银行卡被非法复制或克隆",
      "network_fault": "网络连接问题", "device_fault": "软件或硬件故障",
      "operator_error": "操作员误操作", "undetermined": ""}
COLOURS = {"card_data_error": "#4e79a7", "card_compromised": "#e15759", "network_fault": "#f28e2b",
           "device_fault": "#76b7b2", "operator_error": "#b07aa1", "undetermined": "#9d9d9d"}
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


def _summary(incidents, quarantine, gaps):
    by_cause = Counter(i["cause"] for i in incidents)
    by_action = Counter(i["action"] for i in incidents)
    total = len(incidents)
    body = _table(("Figure", "Value"), analysis.summary_figures(incidents, quarantine, gaps),
                  numeric=(1,))
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
    size, start, bins, counts = analysis.over_time(dated)
    fmt, tick, unit = ("%Y-%m-%d %H:00", "%m-%d %H:00", "hour") if size == HOUR \
        else ("%Y-%m-%d", "%Y-%m-%d", "day")
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
                             % (x, y, bar, h, COLOURS[cause], utc(start_t, fmt), cause, n))
    for n in range(0, bins, -(-bins // 6)):  # x axis: at most six labelled bins
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                     % (left + (n + 0.5) * step, top + height + 18, utc(start + n * size, tick)))
    for n, cause in enumerate(causes):  # legend
        y = top + n * 22
        parts.append('<rect class="key" x="630" y="%d" width="14" height="14" fill="%s"/>'
                     '<text x="650" y="%d">%s</text>' % (y, COLOURS[cause], y + 12, cause))
    parts.append("</svg>")
    rows = [[utc(t, fmt)] + [counts[t][c] for c in causes] for t in sorted(counts)]
    return "".join(parts) + "<details><summary>Counts per %s</summary>%s</details>" % (
        unit, _table(["%s (UTC)" % unit.capitalize()] + causes, rows,
                     numeric=range(1, len(causes) + 1)))


def _device_faults(incidents):
    rows = analysis.repeated_device_faults(incidents)
    return _table(("Terminal", "Device faults", "Subcauses", "Firmware", "Last (UTC)"), rows,
                  numeric=(1,)) if rows else NONE


def _operator_errors(incidents):
    rows, anonymous = analysis.repeated_operator_errors(incidents)
    body = _table(("Operator", "Operator errors", "Subcauses", "Terminals", "Last (UTC)"), rows,
                  numeric=(1,)) if rows else NONE
    if anonymous:
        body += "<p>%d operator errors carry no operator id.</p>" % anonymous
    return body


def _network(incidents):
    rows = analysis.network_hot_spots(incidents)
    return _table(("Terminal", "Network faults", "Subcauses", "Busiest hour (UTC)",
                   "In that hour", "Link state reported"), rows, numeric=(1, 4)) if rows else NONE


def _skimming(incidents):
    rows = analysis.cards_at_several_terminals(incidents)
    return _table(("Card token", "Last 4", "Brand", "Terminals", "Incidents (terminal at UTC "
                   "time, subcause)"), rows, numeric=(3,)) if rows else NONE


SECTIONS = (("summary", "Summary"), ("chart", "Incidents by cause over time"),
            ("device-faults", "Device faults: terminals to repair"),
            ("operator-errors", "Operator errors: operators to train"),
            ("network", "Network hot spots"), ("skimming", "Possible skimming ring"))


def render(db_path, fleet_secret, now=None):
    """The report on the collector database at `db_path` as one HTML page (a str)."""
    now = int(time.time() if now is None else now)
    incidents, quarantine, gaps = report_data.load(db_path, fleet_secret, now)
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
            "</body></html>\n" % (CSS, utc(now), warn, nav, sections))


def write(db_path, fleet_secret, out_path, now=None):
    """Write the report on the collector database at `db_path` to `out_path` (UTF-8 HTML)."""
    Path(out_path).write_text(render(db_path, fleet_secret, now), encoding="utf-8")
