"""The acquirer's incident report: one self-contained HTML page from the collector's database
(report_data opens the incidents, report_analysis finds what to list, report_tables words every
table once; this module draws the page, report_export writes it or the tables as csv or json).

Inline CSS, the chart as inline SVG drawn here, no script and nothing fetched (a Content Security
Policy says so to the browser too), so the page can be mailed or archived and opened offline.
Columns give cause, subcause, action and card token; the facts that are not columns (operator id,
network state, firmware) come from opening each sealed record with the fleet secret. Every text
from the database came from a terminal and is escaped: a stolen terminal can seal anything.
Chinese is marked lang="zh" and set in a CJK font stack: with no CJK font named, a browser may
pick one without the glyphs and draw boxes.
"""

import html
import re
import time

from lostcard.errors import LostcardError

from . import report_analysis as analysis
from . import report_data, report_export
from . import report_labels as labels
from . import report_tables as tables
from .collector_store import without_password
from .report_analysis import HOUR, utc

COLOURS = {"card_data_error": "#4e79a7", "card_compromised": "#e15759", "network_fault": "#f28e2b",
           "device_fault": "#76b7b2", "operator_error": "#b07aa1", "undetermined": "#9d9d9d"}
NONE = '<p class="none">None in this period.</p>'
LISTED = 50  # a terminal's latest incidents on the page; the exports hold them all
CJK = '"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC",' \
      '"Noto Sans SC","WenQuanYi Micro Hei"'
CSS = """
body{font:15px/1.45 system-ui,"Segoe UI",Roboto,"Helvetica Neue",Arial,%s,sans-serif;
margin:2em auto;max-width:60em;padding:0 1em;color:#222}
:lang(zh){font-family:%s,sans-serif}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
.todo{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
.alert{background:#fdecea;border:2px solid #d93025;color:#8c1d18;padding:.5em 1em}
.alert h2{border:0;margin:.2em 0;color:#d93025}
.none{font-style:italic}svg{max-width:100%%;height:auto}svg text{font-size:12px}
""" % (CJK, CJK)

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
    "updates": "A terminal behind on its policy or watchlist decides without what the fleet "
               "has learnt: check its link and that it syncs (it fetches an update after an "
               "acknowledged upload, or at its hourly check-in). A refused update is kept out "
               "by the terminal, which runs its last good one: publish a corrected version.",
    "terminals": "Open a terminal from any table to see its incidents; compare each with the "
                 "previous period: a terminal whose incidents rise is where to look first.",
}


CHINESE = re.compile("[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+")


def _text(value):
    """Escaped text for the page, its Chinese marked lang="zh" (the escapes are ASCII)."""
    return CHINESE.sub(lambda m: '<span lang="zh">%s</span>' % m.group(0),
                       html.escape(str(value)))


def anchor(device):
    """The id of a terminal's part of the page: its id is printable ASCII from the terminal,
    in hex so that no id can break out of the attribute or clash with a section's."""
    return "t-" + device.encode().hex()


def _cell(value, column):
    text = "—" if value is None else value.text if isinstance(value, tables.Cell) else value
    if column.key == "terminal" and value is not None:
        return '<a href="#%s">%s</a>' % (anchor(value), _text(text))
    return _text(text)


def _html_table(table, rows=None, skip=()):
    """A table, each cell escaped here: no cell carries markup but a terminal's link."""
    columns = [(n, c) for n, c in enumerate(table.columns) if c.key not in skip]
    head = "".join("<th>%s</th>" % _text(c.header) for _, c in columns)
    body = "".join(
        "<tr>%s</tr>" % "".join('<td%s>%s</td>' % (' class="n"' if c.numeric else "",
                                                    _cell(row[n], c)) for n, c in columns)
        for row in (table.rows if rows is None else rows))
    return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, body)


def _or_none(table):
    return _html_table(table) if table.rows else NONE


def _section(sid, title, body):
    return ('<section id="%s"><h2>%s</h2>%s<p class="todo"><strong>What to do.</strong> %s</p>'
            "</section>" % (sid, _text(title), body, _text(TODO[sid])))


def _summary(figures, by_cause, by_action, quarantine, gaps):
    return (_html_table(figures, skip=("label",))  # the figure's cell shows its label
            + "".join("<h3>%s</h3>%s" % (_text(t.title), _or_none(t))
                      for t in (by_cause, by_action, quarantine, gaps)))


def _chart(chart):
    if chart is None:
        return NONE
    table, size, start, bins, counts, causes = chart
    fmt, tick, unit = ("%Y-%m-%d %H:00", "%m-%d %H:00", "hour") if size == HOUR \
        else ("%Y-%m-%d", "%Y-%m-%d", "day")
    peak = max(sum(b.values()) for b in counts.values())
    left, top, width, height = 50, 20, 560, 200
    step = width / bins
    bar = max(step * 0.8, 1)
    parts = ['<svg viewBox="0 0 800 270" role="img" aria-labelledby="chart-title chart-desc">'
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
                             % (x, y, bar, h, COLOURS[cause], utc(start_t, fmt),
                                html.escape(labels.cause(cause)), n))
    for n in range(0, bins, -(-bins // 6)):  # x axis: at most six labelled bins
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                     % (left + (n + 0.5) * step, top + height + 18, utc(start + n * size, tick)))
    for n, cause in enumerate(causes):  # legend: the cause in English, then in Chinese
        y = top + n * 32
        parts.append('<rect class="key" x="630" y="%d" width="14" height="14" fill="%s"/>'
                     '<text x="650" y="%d">%s</text><text x="650" y="%d" lang="zh">%s</text>'
                     % (y, COLOURS[cause], y + 12, html.escape(labels.cause(cause)), y + 27,
                        html.escape(labels.CAUSE_ZH.get(cause, ""))))
    parts.append("</svg>")
    return "".join(parts) + "<details><summary>%s</summary>%s</details>" % (
        _text(table.title), _html_table(table))


def _operator_errors(table, anonymous):
    body = _or_none(table)
    if anonymous:
        body += "<p>%d operator errors carry no operator id.</p>" % anonymous
    return body


def _terminals(index, incidents):
    """The index of terminals, then one part per terminal that every table links to."""
    if not index.rows:
        return NONE
    mine = {}
    for row in incidents.rows:
        mine.setdefault(row[0], []).append(row)
    parts = [_html_table(index)]
    for device, n, before, causes, alarms, _, held, lost in index.rows:
        listed = mine.get(device, [])[-LISTED:]
        parts.append(
            '<article id="%s"><h3>Terminal %s</h3><p>%s, %d in the previous period%s.'
            '%s%s%s</p>%s</article>'
            % (anchor(device), _text(device), _count(n, "incident"), before,
               ": " + _text(causes.text) if n else "",
               " <strong>Tampering detected: %s.</strong>" % _count(alarms, "incident")
               if alarms else "",
               " %s quarantined." % _count(held, "record") if held else "",
               " %s lost before upload." % _count(lost, "record") if lost else "",
               ("<p>The latest %d of %d; the csv and json exports hold all.</p>"
                % (LISTED, n) if n > LISTED else "")
               + (_html_table(incidents, listed, skip=("terminal",)) if listed else "")))
    return "".join(parts)


def _count(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _alert(table, total):
    """The red box above everything: each line says what is wrong and what to do."""
    lines = []
    for kind, device, n in table.rows:
        if kind.data == "tamper_detected":
            lines.append('Terminal <a href="#%s">%s</a> detected tampering (%s): take it out '
                         "of service now and check it for a skimmer."
                         % (anchor(device), _text(device), _count(n, "incident")))
        elif kind.data == "not_opened":
            lines.append("%d of %d incidents did not open with this fleet secret: their "
                         "operator, firmware and link facts are missing below. Is it the "
                         "collector's fleet secret?" % (n, total))
        else:
            lines.append("%s quarantined for failing authentication: the collector's secret "
                         "differs from the terminals'? Check that it runs with the fleet secret "
                         "they were provisioned with (Quarantined records names them); "
                         "otherwise the records were damaged or forged." % _count(n, "record"))
    if not lines:
        return ""
    return ('<div class="alert" role="alert"><h2>Alert</h2><ul>%s</ul></div>'
            % "".join("<li>%s</li>" % line for line in lines))


def alert_lines(table, total):
    """The alerts in one line each, for the command to say why it exits 1."""
    said = {"tamper_detected": lambda device, n: "terminal %s detected tampering" % device,
            "not_opened": lambda device, n: "%d of %d incidents did not open with this fleet "
                                            "secret" % (n, total),
            "not_authenticated": lambda device, n: "%s quarantined for failing authentication "
                                                   "(the collector's secret differs from the "
                                                   "terminals'?)" % _count(n, "record")}
    return [said[kind.data](device, n) for kind, device, n in table.rows]


SECTIONS = (("summary", "Summary"), ("chart", "Incidents by cause over time"),
            ("device-faults", "Device faults: terminals to repair"),
            ("operator-errors", "Operator errors: operators to train"),
            ("network", "Network hot spots"), ("skimming", "Possible skimming ring"),
            ("updates", "Terminals behind on policy or watchlist"), ("terminals", "Terminals"))


def build(db_path, fleet_secret, now=None, since=None, until=None, terminals=None):
    """The report's parts: {"meta", "tables" (every table, in the page's order), "chart",
    "anonymous", "total"}. `since`, `until`: unix times, [since, until); `terminals`: ids."""
    now = int(time.time() if now is None else now)
    if since is not None and until is not None and since >= until:
        raise LostcardError("--since must be before --until")
    incidents, quarantine, gaps, updates = report_data.load(db_path, fleet_secret, now)
    if terminals:
        known = {i["device"] for i in incidents} | {q[0] for q in quarantine} | {
            g[0] for g in gaps} | {t["terminal"] for t in updates["terminals"]}
        for device in terminals:
            if device not in known:
                raise LostcardError("no terminal %r in %s" % (device, without_password(db_path)))
        chosen = set(terminals)
        incidents = [i for i in incidents if i["device"] in chosen]
        quarantine = [q for q in quarantine if q[0] in chosen]
        gaps = [g for g in gaps if g[0] in chosen]
        updates["terminals"] = [t for t in updates["terminals"] if t["terminal"] in chosen]
    current, previous, left_out = analysis.periods(incidents, since, until, now)
    chart = tables.over_time(current.incidents)
    found, anonymous = tables.findings(current.incidents)
    every = (tables.summary(current, previous, quarantine, gaps)
             + ([chart[0]] if chart else [])
             + found + tables.terminals(current, previous, quarantine, gaps)
             + tables.updates(updates) + [tables.alerts(current.incidents, quarantine)])
    return {"meta": {"generated": now, "period": current.window,
                     "previous_period": previous.window,
                     "terminals": sorted(set(terminals)) if terminals else None,
                     "left_out": left_out},
            "tables": {t.name: t for t in every}, "chart": chart, "anonymous": anonymous,
            "total": len(current.incidents)}


def _page(report):
    t, meta = report["tables"], report["meta"]
    scope = "<p>Period %s; previous period %s. Terminals: %s.%s</p>" % (
        tables.period(meta["period"]), tables.period(meta["previous_period"]),
        _text(", ".join(meta["terminals"])) if meta["terminals"] else "all",
        " Left out: %s whose terminal clock is not trusted, which no time filter can place."
        % _count(meta["left_out"], "incident") if meta["left_out"] else "")
    nav = " · ".join('<a href="#%s">%s</a>' % (sid, _text(title)) for sid, title in SECTIONS)
    bodies = {"summary": _summary(t["summary"], t["by_cause"], t["by_action"], t["quarantine"],
                                  t["gaps"]),
              "chart": _chart(report["chart"]),
              "device-faults": _or_none(t["device_faults"]),
              "operator-errors": _operator_errors(t["operator_errors"], report["anonymous"]),
              "network": _or_none(t["network_hot_spots"]), "skimming": _or_none(t["skimming"]),
              "updates": _html_table(t["published"]) + _or_none(t["updates"]),
              "terminals": _terminals(t["terminals"], t["incidents"])}
    sections = "".join(_section(sid, title, bodies[sid]) for sid, title in SECTIONS)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            # nothing may load or run, whatever a record holds
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            'style-src \'unsafe-inline\'">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Lost-card incidents: acquirer report</title><style>%s</style></head><body>"
            "<h1>Lost-card incidents: acquirer report</h1><p>Generated %s UTC from the "
            "collector's database. Times are the terminals' clocks, in UTC.</p>%s%s<nav>%s</nav>"
            "%s</body></html>\n" % (CSS, utc(meta["generated"]), scope,
                                    _alert(t["alerts"], report["total"]), nav, sections))


def render(db_path, fleet_secret, now=None, since=None, until=None, terminals=None):
    """The report on the collector database at `db_path` as one HTML page (a str)."""
    return _page(build(db_path, fleet_secret, now, since, until, terminals))


def write(db_path, fleet_secret, out_path, now=None, fmt="html", since=None, until=None,
          terminals=None, secret_path=None):
    """Write the report on the collector database at `db_path` to `out_path`: the page
    (html), one file of every table (json) or a directory of them (csv; report_export),
    never over the database or the fleet secret's file `secret_path`. Returns its alerts, one
    line each: a reason for the command to exit 1."""
    keep = [("the collector database", str(db_path) + end) for end in ("", "-wal", "-shm")]
    report_export.check_out(out_path, fmt, keep + (
        [("the fleet secret file", secret_path)] if secret_path else []))
    report = build(db_path, fleet_secret, now, since, until, terminals)
    if fmt == "html":
        report_export.write_text(out_path, _page(report))
    elif fmt == "json":
        report_export.write_text(out_path, report_export.json_text(
            report["meta"], report["tables"].values()))
    else:
        report_export.write_csv(out_path, report["tables"].values())
    return alert_lines(report["tables"]["alerts"], report["total"])
