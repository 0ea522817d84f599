"""The acquirer's HTML report, on a collector database filled the way the real collector fills
it: fixture events classified, built into records, sealed by each terminal's key and ingested.

The incidents are arranged so that every section has something to list and something to leave
out; text from terminals is hostile (an operator id and a device id carry markup).
"""

import copy
import csv
import json
import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lostcard import record, sealing
from lostcard.decision import classify
from lostcard.vocab import ACTIONS, CAUSES
from lostcard_cpython import crypto, report, scenarios
from lostcard_cpython import collector as collector_module
from lostcard_cpython import report_analysis as analysis
from lostcard_cpython import report_export, report_tables
from lostcard_cpython import report_labels as labels
from lostcard_cpython.collector import Collector
from lostcard_cpython.collector_store import SqliteStore, open_store
from lostcard.collector.fleet import device_root, first_chain

SECRET = bytes(range(7, 39))
TOKEN_KEY = b"\x33" * 32
BASE = 1795600000  # 2026-11-25 09:46 UTC, where the fixture events' clocks are
NOW = BASE + 10 * 86400
HOSTILE = "<script>alert(1)</script>"
EVIL_DEVICE = 'T-<i>&"9'  # a device id is printable ASCII: markup fits
STOLEN_PAN = "4111111111111111"
SECTION_IDS = [sid for sid, _ in report.SECTIONS]
NONE = "None in this period."

# (terminal, fixture scenario, hours after BASE or None to keep its clock, operator id or None)
PLAN = [
    # one stolen card declined on two terminals: a possible skimming ring
    ("T-SHOP-1", "chip-host-41-lost", 0, None),
    ("T-SHOP-2", "conflict-chip-card-swiped-healthy-reader", 30, None),
    # a compromised card seen once: no ring
    ("T-SHOP-1", "chip-host-07-fraud-pickup", 5, None),
    # device faults: twice on one terminal, once each on two others
    (EVIL_DEVICE, "conflict-reader-fault-chip-card-swiped", 2, None),
    (EVIL_DEVICE, "tamper-detected-terminal-decline", 50, None),
    ("T-SHOP-2", "config-invalid-host-58", 3, None),
    ("T-SHOP-3", "conflict-rtc-reset-not-yet-effective", None, None),  # its RTC reads 2000
    # operator errors: twice by one operator (on two terminals), once by another
    ("T-SHOP-1", "host-57-refund", 4, HOSTILE),
    ("T-SHOP-2", "conflict-forced-fallback-mode-05", 28, HOSTILE),
    ("T-SHOP-1", "training-mode-terminal-decline", 6, "op-07"),
    # network faults: three in one hour and one later on T-SHOP-3, one on T-SHOP-1
    ("T-SHOP-3", "host-68-late-response", 70, None),
    ("T-SHOP-3", "host-91-issuer-inoperative", 70.2, None),
    ("T-SHOP-3", "z3-network-down", 70.5, None),
    ("T-SHOP-3", "host-96-system-malfunction", 100, None),
    ("T-SHOP-1", "contactless-host-91", 8, None),
    ("T-SHOP-3", "keyed-luhn-fail-visa", 9, None),
    ("T-SHOP-3", "bare-05-do-not-honour", 10, None),
]
GAPS = {"T-SHOP-3": [0, 1, 4, 2]}  # evicted in lanes 1, 2, 3, and corrupt


def _events(plan):
    by_name = {s["name"]: s for s in scenarios.load()}
    out = []
    for device, name, hours, operator in plan:
        event = copy.deepcopy(by_name[name]["event"])
        if hours is not None:
            event["time"] = BASE + int(hours * 3600)
        if operator is not None:
            event["operator"]["id"] = operator
        out.append((device, event))
    return out


def sealed_batches(plan):
    """({terminal: [(seq, record sealed under SECRET)]}, the decisions in the plan's order)."""
    batches, decisions = {}, []
    for device, event in _events(plan):
        decision = classify(event)
        decisions.append(decision)
        if device not in batches:
            chain = first_chain(crypto, device_root(crypto, SECRET, device))
            batches[device] = (sealing.Sealer(crypto, device, 0, chain), [])
        sealer, items = batches[device]
        seq = len(items) + 1
        items.append((seq, sealer.seal(record.build(event, decision, device, 0, crypto,
                                                    TOKEN_KEY), seq)))
    return {device: items for device, (_, items) in batches.items()}, decisions


def build_db(path, plan=PLAN):
    """A collector database holding the plan's incidents, one quarantined record and GAPS;
    returns the decisions made, in the plan's order."""
    collector = Collector(open_store(str(path)), SECRET)
    batches, decisions = sealed_batches(plan)
    for device, items in batches.items():
        if device == "T-SHOP-1":  # a record sent again under another seq: quarantined
            items.append((len(items) + 1, items[0][1]))
        acked, quarantined = collector.ingest(device, 0, 3, items, GAPS.get(device, [0, 0, 0, 0]))
        assert (acked, quarantined) == (len(items), int(device == "T-SHOP-1"))
    collector.store.close()
    return decisions


class Page(HTMLParser):
    """Each section's text and tables (rows of cell texts, entities decoded), and all tags."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.sections, self.tags, self.text = {}, Counter(), ""
        self.section = self.cell = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        if tag == "section":
            self.section = self.sections.setdefault(dict(attrs)["id"], {"text": "", "tables": []})
        elif tag == "table":
            self.section["tables"].append([])
        elif tag == "tr":
            self.section["tables"][-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.section["tables"][-1][-1].append(self.cell)
            self.cell = None
        elif tag == "section":
            self.section = None

    def handle_data(self, data):
        self.text += data
        if self.section is not None:
            self.section["text"] += data
        if self.cell is not None:
            self.cell += data

    def rows(self, sid, table=0):
        """A section's table as dicts keyed by its header."""
        head, *body = self.sections[sid]["tables"][table]
        return [dict(zip(head, row)) for row in body]


def _render(tmp_path, secret=SECRET):
    db = tmp_path / "collector.db"
    decisions = build_db(db)
    out = tmp_path / "report.html"
    report.write(db, secret, out, now=NOW)
    return out.read_text(encoding="utf-8"), decisions


def _no_remote_resources(text):
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z]+:)?//""", text, re.I)
    assert "@import" not in text and not re.search(r"url\s*\(", text, re.I)
    assert not re.search(r"<(?:script|link|iframe|object|embed|img)\b", text, re.I)


def test_each_section_lists_what_the_acquirer_must_act_on(tmp_path):
    text, decisions = _render(tmp_path)
    page = Page(text)
    assert list(page.sections) == SECTION_IDS
    for sid in SECTION_IDS:
        assert page.sections[sid]["tables"] and "What to do." in page.sections[sid]["text"]

    figures = {r["Figure"]: r["Value"] for r in page.rows("summary")}
    assert figures["Incidents"] == str(len(PLAN))
    assert figures["Terminals"] == "4"
    assert figures["Period (terminal clocks)"] == "2026-11-25 09:46 – 2026-11-29 13:46 UTC"
    assert figures["Incidents whose terminal clock is not trusted"] == "1"
    assert figures["Quarantined records"] == "1"
    assert figures["Records evicted by terminals before upload (lanes 1–3)"] == "5"
    assert figures["Corrupt records found by terminals"] == "2"
    assert figures["Records that did not open with this fleet secret"] == "0"
    causes = Counter(labels.cause(d["cause"]) for d in decisions)
    assert {r["Cause"]: int(r["Incidents"]) for r in page.rows("summary", 1)} == causes
    assert {r["Action"]: int(r["Incidents"]) for r in page.rows("summary", 2)} \
        == Counter(labels.action(d["action"]) for d in decisions)
    assert [r["Terminal"] for r in page.rows("summary", 3)] == ["T-SHOP-1"]  # quarantine
    assert [list(r.values()) for r in page.rows("summary", 4)] == [["T-SHOP-3", "0", "1", "4",
                                                                    "2", "0"]]

    # the chart: one bar per day and cause, the untrusted clock left out, a legend per cause
    svg = re.search(r"<svg.*?</svg>", text, re.S).group(0)
    assert "<title" in svg
    charted = {((BASE + int(h * 3600)) // 86400, d["cause"])
               for (_, _, h, _), d in zip(PLAN, decisions) if h is not None}
    assert len(re.findall(r'<rect class="bar"', svg)) == len(charted)
    assert len(re.findall(r'<rect class="key"', svg)) == len(causes)
    assert [r["Day (UTC)"] for r in page.rows("chart")] == ["2026-11-%d" % d
                                                           for d in range(25, 30)]

    faults = page.rows("device-faults")
    assert [(r["Terminal"], r["Device faults"]) for r in faults] == [(EVIL_DEVICE, "2")]
    assert set(re.findall(r"(\w[\w ]*) ×", faults[0]["Subcauses"])) == {"Reader fault",
                                                                         "Tamper detected"}

    operators = page.rows("operator-errors")
    assert [(r["Operator"], r["Operator errors"]) for r in operators] == [(HOSTILE, "2")]
    assert operators[0]["Terminals"] == "T-SHOP-1, T-SHOP-2"
    assert set(re.findall(r"(\w[\w ]*) ×", operators[0]["Subcauses"])) == {
        "Wrong transaction type", "Forced fallback"}

    network = page.rows("network")
    assert [(r["Terminal"], r["Network faults"]) for r in network] == [("T-SHOP-3", "4"),
                                                                       ("T-SHOP-1", "1")]
    assert (network[0]["Busiest hour (UTC)"], network[0]["In that hour"]) == (
        "2026-11-28 07:46 – 08:46", "3")

    ring = page.rows("skimming")
    token = crypto.hmac_sha256(TOKEN_KEY, STOLEN_PAN.encode())[:record.TOKEN_LEN]
    assert [(r["Card token"], r["Last 4"], r["Terminals"]) for r in ring] \
        == [(token.hex()[:8] + "…", "1111", "2")]
    seen = ring[0]["Incidents (terminal at UTC time, subcause)"]
    assert seen == ("T-SHOP-1 at 2026-11-25 09:46 (Reported lost); "
                    "T-SHOP-2 at 2026-11-26 15:46 (Cloned stripe)")
    # no card number, no whole token
    assert STOLEN_PAN not in text and token.hex() not in text
    _no_remote_resources(text)


def test_hostile_text_from_terminals_is_escaped(tmp_path):
    text, _ = _render(tmp_path)
    assert HOSTILE not in text and EVIL_DEVICE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "T-&lt;i&gt;&amp;&quot;9" in text
    tags = Page(text).tags
    assert "script" not in tags and "i" not in tags


def test_an_empty_database_gives_a_page_of_none(tmp_path):
    SqliteStore(str(tmp_path / "empty.db")).close()
    text = report.render(tmp_path / "empty.db", SECRET, now=NOW)
    page = Page(text)
    assert list(page.sections) == SECTION_IDS
    assert {r["Figure"]: r["Value"] for r in page.rows("summary")}["Incidents"] == "0"
    for sid in SECTION_IDS:
        assert NONE in page.sections[sid]["text"], sid
    assert "<svg" not in text
    _no_remote_resources(text)


def test_records_the_secret_does_not_open_are_flagged(tmp_path):
    text, _ = _render(tmp_path, secret=b"\x00" * 32)
    page = Page(text)
    figures = {r["Figure"]: r["Value"] for r in page.rows("summary")}
    assert figures["Records that did not open with this fleet secret"] == str(len(PLAN))
    assert "did not open with this fleet secret" in text.split("<section")[0]  # the warning
    assert NONE in page.sections["operator-errors"]["text"]  # operator ids are sealed facts



def test_a_span_under_two_days_is_charted_per_hour(tmp_path):
    build_db(tmp_path / "short.db", PLAN[:3])  # 0, 30 and 5 hours in
    page = Page(report.render(tmp_path / "short.db", SECRET, now=NOW))
    assert [r["Hour (UTC)"] for r in page.rows("chart")] == ["2026-11-25 09:00",
                                                            "2026-11-25 14:00",
                                                            "2026-11-26 15:00"]


def _command(tmp_path, *args, plan=PLAN, secret=SECRET, **run):
    """`lostcard collector report` on a database of `plan`, in tmp_path: (process, stderr lines).
    `run`: more for subprocess.run."""
    if not (tmp_path / "c.db").exists():
        build_db(tmp_path / "c.db", plan)
    (tmp_path / "fleet.secret").write_text(secret.hex())
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "report",
                           "--db", "c.db", "--fleet-secret-file", "fleet.secret", *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, **run)
    return proc, proc.stderr.splitlines()


def test_the_collector_report_command_writes_the_page(tmp_path):
    calm = [row for row in PLAN if not row[1].startswith("tamper")]
    proc, err = _command(tmp_path, "--out", "report.html", plan=calm)
    assert proc.returncode == 0 and err == ["report written to report.html"], proc.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for sid, _ in report.SECTIONS:
        assert 'id="%s"' % sid in page
    assert 'class="alert"' not in page
    missing = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "report",
                              "--db", str(tmp_path / "absent.db"), "--fleet-secret-file",
                              str(tmp_path / "fleet.secret")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "no collector database" in missing.stderr


def _alert(text):
    """The alert box's lines, which must come before the first section."""
    top = text.split("<section")[0]
    box = re.search(r'<div class="alert" role="alert">(.*?)</div>', top, re.S)
    return [Page(item).text for item in re.findall(r"<li>(.*?)</li>", box.group(1))] if box \
        else []


def test_a_tampered_terminal_raises_the_alert_and_exit_1(tmp_path):
    proc, err = _command(tmp_path)
    assert proc.returncode == 1 and len(err) == 1 and "Traceback" not in proc.stderr
    assert err[0] == ("lostcard: report written to report.html, with alerts: terminal %s "
                      "detected tampering" % EVIL_DEVICE)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert _alert(text) == ["Terminal %s detected tampering (1 incident): take it out of "
                            "service now and check it for a skimmer." % EVIL_DEVICE]
    # the alert links to the terminal's part of the page
    target = re.search(r'<div class="alert".*?href="#([^"]+)"', text, re.S).group(1)
    assert 'id="%s"' % target in text and target == report.anchor(EVIL_DEVICE)
    assert "T-&lt;i&gt;&amp;&quot;9" in text.split("<section")[0]


def test_records_the_secret_does_not_open_raise_the_alert_and_exit_1(tmp_path):
    calm = [row for row in PLAN if not row[1].startswith("tamper")]
    proc, err = _command(tmp_path, "--out", "r.html", plan=calm, secret=b"\x01" * 32)
    assert proc.returncode == 1 and err == [
        "lostcard: report written to r.html, with alerts: %d of %d incidents did not open with "
        "this fleet secret" % (len(calm), len(calm))]
    lines = _alert((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert len(lines) == 1 and lines[0].startswith("%d of %d incidents did not open with this "
                                                   "fleet secret" % (len(calm), len(calm)))


@pytest.mark.parametrize("args, said", [
    (("--since", "2026-13-01"), "--since '2026-13-01' is not a date"),
    (("--until", "yesterday"), "--until 'yesterday' is not a date"),
    (("--since", "2026-11-25T25:00"), "--since '2026-11-25T25:00' is not a date"),
    (("--since", "99999-01-01"), "--since '99999-01-01' is not a date"),
    (("--until", "99999999999999999999"), "--until '99999999999999999999' is not a date"),
    (("--since", "\x1b[2J"), "--since '\\x1b[2J' is not a date"),
    (("--since", "-1"), "--since '-1' is before 1970"),
    (("--since", "1969-12-31"), "--since '1969-12-31' is before 1970"),
    (("--until", "20261325"), "--until '20261325' is not a date"),
    (("--since", "2026-11-27", "--until", "2026-11-26"), "--since must be before --until"),
    (("--terminal", "T-NOWHERE"), "no terminal 'T-NOWHERE' in c.db"),
    (("--format", "csv", "--out", "c.db"), "--out c.db is a file; --format csv writes a "
                                          "directory of tables"),
    (("--out", "."), "--out . is a directory; --format html writes one file"),
    (("--out", "no/such/r.html"), "--out no/such/r.html: no directory "),
])
def test_bad_filters_are_one_line_and_exit_2_with_nothing_written(tmp_path, args, said):
    build_db(tmp_path / "c.db")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc, err = _command(tmp_path, *args)
    assert proc.returncode == 2 and len(err) == 1, proc.stderr
    assert err[0].startswith("lostcard: " + said), err
    # SQLite's own -wal and -shm beside a WAL database it read are the store's business
    after = [p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))]
    assert sorted(after) == before + ["fleet.secret"]


def _figures(page):
    return {r["Figure"]: (r["Value"], r["Previous period"]) for r in page.rows("summary")}


def test_since_until_and_terminal_filter_the_report_with_the_period_before(tmp_path):
    build_db(tmp_path / "c.db")
    times = [(d, BASE + int(h * 3600)) for d, _, h, _ in PLAN if h is not None]
    day = 86400
    start, end = BASE - BASE % day + day, BASE - BASE % day + 3 * day  # 11-26 and 11-27
    page = Page(report.render(tmp_path / "c.db", SECRET, now=NOW, since=start, until=end))
    figures = _figures(page)
    assert figures["Incidents"] == (str(sum(start <= t < end for _, t in times)),
                                    str(sum(start - 2 * day <= t < start for _, t in times)))
    assert figures["Period (terminal clocks)"] == (
        "2026-11-26 00:00 – 2026-11-28 00:00 UTC", "2026-11-24 00:00 – 2026-11-26 00:00 UTC")
    assert "Left out: 1 incident whose terminal clock is not trusted" in page.text
    listed = page.rows("terminals", 1)  # the first terminal's incidents
    assert all("2026-11-26" <= r["Time (UTC)"] < "2026-11-28" for r in listed)

    # the command line: dates, --until's day included, --terminal repeated
    proc, _ = _command(tmp_path, "--since", "2026-11-26", "--until", "2026-11-27", "--terminal",
                       "T-SHOP-3", "--terminal", "T-SHOP-1", "--out", "f.html")
    assert proc.returncode == 0, proc.stderr
    page = Page((tmp_path / "f.html").read_text(encoding="utf-8"))
    chosen = {"T-SHOP-1", "T-SHOP-3"}
    assert _figures(page)["Incidents"] == (
        str(sum(start <= t < end and d in chosen for d, t in times)),
        str(sum(start - 2 * day <= t < start and d in chosen for d, t in times)))
    assert [r["Terminal"] for r in page.rows("terminals")] == ["T-SHOP-1", "T-SHOP-3"]
    assert "Terminals: T-SHOP-1, T-SHOP-3." in page.text

    # a window that reaches past what a date can show still renders
    page = Page(report.render(tmp_path / "c.db", SECRET, now=NOW, since=-10 ** 13,
                              until=10 ** 13))
    assert _figures(page)["Incidents"] == (str(len(times)), "0")

    # --since alone runs to now; the previous period is as long, just before
    page = Page(report.render(tmp_path / "c.db", SECRET, now=NOW, since=NOW - 5 * day))
    assert _figures(page)["Incidents"] == (
        str(sum(t >= NOW - 5 * day for _, t in times)),
        str(sum(NOW - 10 * day - 1 <= t < NOW - 5 * day for _, t in times)))


def test_the_exports_hold_every_table_and_parse(tmp_path):
    proc, _ = _command(tmp_path, "--format", "json", "--out", "r.json")
    assert proc.returncode == 1  # the tampered terminal
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    built = report.build(tmp_path / "c.db", SECRET)["tables"]
    assert list(data["tables"]) == list(built) and "alerts" in built and "incidents" in built
    for name, table in built.items():
        exported = data["tables"][name]
        assert exported["columns"] == [c.key for c in table.columns]
        assert len(exported["rows"]) == len(table.rows), name
    incidents = data["tables"]["incidents"]["rows"]
    assert len(incidents) == len(PLAN)
    assert Counter(r["cause"] for r in incidents) == Counter(
        classify(e)["cause"] for _, e in _events(PLAN))
    assert {r["terminal"] for r in incidents} == {d for d, _, _, _ in PLAN}
    assert data["tables"]["alerts"]["rows"] == [
        {"alert": "tamper_detected", "terminal": EVIL_DEVICE, "incidents": 1}]
    assert data["period"]["start"] == "2026-11-25T09:46:40Z"  # the first incident

    proc, _ = _command(tmp_path, "--format", "csv", "--out", "tables")
    assert proc.returncode == 1
    files = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert files == sorted([name + ".csv" for name in built] + [report_export.MARKER])
    for name, table in built.items():
        with open(tmp_path / "tables" / (name + ".csv"), newline="", encoding="utf-8-sig") as f:
            head, *rows = list(csv.reader(f))
        assert head == [c.key for c in table.columns] and len(rows) == len(table.rows), name
    with open(tmp_path / "tables" / "by_cause.csv", newline="", encoding="utf-8-sig") as f:
        by_cause = {r["cause"]: int(r["incidents"]) for r in csv.DictReader(f)}
    assert by_cause == Counter(classify(e)["cause"] for _, e in _events(PLAN))
    token = crypto.hmac_sha256(TOKEN_KEY, STOLEN_PAN.encode())[:record.TOKEN_LEN].hex()
    for path in [tmp_path / "r.json"] + list((tmp_path / "tables").iterdir()):
        text = path.read_text(encoding="utf-8")
        assert STOLEN_PAN not in text and token not in text, path


SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")


def test_people_read_labels_not_codes(tmp_path):
    text, decisions = _render(tmp_path)
    page = Page(text)
    assert SNAKE.findall(page.text) == []  # no cause, subcause, action or table code shown
    svg = re.search(r"<svg.*?</svg>", text, re.S).group(0)
    legend = re.findall(r'<text x="650" y="\d+"( lang="zh")?>([^<]*)</text>', svg)
    drawn = [c for c in CAUSES if c in {d["cause"] for d in decisions}]
    assert legend == [pair for c in drawn for pair in (("", labels.CAUSE[c]),
                                                       (' lang="zh"', labels.CAUSE_ZH[c]))]
    assert labels.subcause("cvv_mismatch") == "CVV mismatch"
    assert labels.subcause("hotlist_not_updated") == "Hot list not updated"


def test_every_cause_has_the_chinese_name_of_docs_decision(tmp_path):
    with open(Path(__file__).parent.parent / "docs" / "DECISION.md", encoding="utf-8") as f:
        documented = dict(re.findall(r"^\| `(\w+)` \| ([^|`]+?) \|", f.read(), re.M))
    assert set(CAUSES) <= set(documented)
    assert labels.CAUSE_ZH == {c: documented[c] for c in CAUSES}
    assert set(labels.CAUSE) == set(CAUSES) and set(labels.ACTION) == set(ACTIONS)


class Lang(HTMLParser):
    """Each text's language: the nearest lang attribute around it."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.texts = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag not in ("meta", "rect", "line", "br"):  # void or self-closed
            self.stack.append(dict(attrs).get("lang") or (self.stack[-1] if self.stack else ""))

    def handle_endtag(self, tag):
        if tag not in ("meta", "rect", "line", "br"):
            self.stack.pop()

    def handle_data(self, data):
        if data.strip():
            self.texts.append((self.stack[-1] if self.stack else "", data))


def test_chinese_is_marked_chinese_and_the_rest_english(tmp_path):
    text, _ = _render(tmp_path)
    assert text.startswith('<!DOCTYPE html><html lang="en">')
    texts = Lang(text).texts
    chinese = [(lang, t) for lang, t in texts if report.CHINESE.search(t)]
    assert len(chinese) > 20 and {lang for lang, _ in chinese} == {"zh"}
    for lang, t in chinese:  # the span holds the Chinese alone
        assert report.CHINESE.fullmatch(t), t
    assert {lang for lang, t in texts if not report.CHINESE.search(t)} == {"en"}
    assert re.search(r":lang\(zh\)\{font-family:[^}]*\"Noto Sans CJK SC\"", text)


def test_every_terminal_link_reaches_its_part_of_the_page(tmp_path):
    text, _ = _render(tmp_path)
    targets = set(re.findall(r'href="#([^"]+)"', text))
    ids = set(re.findall(r' id="([^"]+)"', text))
    assert targets <= ids
    terminals = {d for d, _, _, _ in PLAN}
    assert {report.anchor(d) for d in terminals} <= targets
    page = Page(text)
    for sid, key in (("device-faults", "Terminal"), ("network", "Terminal"),
                     ("terminals", "Terminal")):
        for row in page.rows(sid):
            assert 'href="#%s"' % report.anchor(row[key]) in text
    assert [r["Terminal"] for r in page.rows("terminals")] == sorted(terminals)
    for device in terminals:  # the part names the terminal, escaped
        part = re.search(r'<article id="%s"><h3>Terminal (.*?)</h3>' % report.anchor(device),
                         text).group(1)
        assert Page("<p>%s</p>" % part).text == device


def test_a_csv_cell_is_never_a_formula(tmp_path):
    table = report_tables.Table("t", "T", [report_tables.Column("operator", "Operator", False),
                                            report_tables.Column("n", "N", True)],
                                [("=HYPERLINK(\"http://x\")", -1), ("@SUM(A1)", 2),
                                 ("op-07", 3)])
    report_export.write_csv(tmp_path / "out", [table])
    with open(tmp_path / "out" / "t.csv", newline="", encoding="utf-8-sig") as f:
        assert list(csv.reader(f)) == [["operator", "n"], ["'=HYPERLINK(\"http://x\")", "-1"],
                                       ["'@SUM(A1)", "2"], ["op-07", "3"]]


def test_a_collector_given_another_fleets_secret_warns_and_the_report_alerts(tmp_path, caplog):
    other = b"\x01" * 32  # the collector's; the terminals sealed under SECRET
    collector = Collector(SqliteStore(str(tmp_path / "c.db")), other)
    batches, _ = sealed_batches(PLAN)
    with caplog.at_level("WARNING", "lostcard.collector"):
        for device, items in batches.items():
            assert collector.ingest(device, 0, 3, items, [0, 0, 0, 0]) == (len(items), len(items))
    collector.store.close()
    warned = [r.getMessage() for r in caplog.records if r.name == "lostcard.collector"]
    first = next(iter(batches))
    # (a terminal of another fleet is refused 403 before ingest: test_sync_security; records that
    # do not open inside an authenticated batch point at the terminal itself)
    assert warned == ["terminal %s: records quarantined: %d (authentication failed); its "
                      "requests authenticate, so its flash was altered or its keys are in other "
                      "hands?" % (first, len(batches[first]))]  # one a minute, however many
    proc, err = _command(tmp_path, "--out", "r.html", secret=other)
    assert proc.returncode == 1 and err == [
        "lostcard: report written to r.html, with alerts: %d records quarantined for failing "
        "authentication (the collector's secret differs from the terminals'?)" % len(PLAN)]
    lines = _alert((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert len(lines) == 1 and lines[0].startswith(
        "%d records quarantined for failing authentication: the collector's secret differs "
        "from the terminals'?" % len(PLAN))


def test_a_warning_after_a_minute_counts_the_batches_it_did_not_report(tmp_path, caplog):
    collector = Collector(SqliteStore(str(tmp_path / "c.db")), SECRET)
    batches, _ = sealed_batches(PLAN)
    sealed = batches["T-SHOP-1"][0][1]
    with caplog.at_level("WARNING", "lostcard.collector"):
        for n in range(3):  # the same record again under another seq: quarantined
            if n == 2:  # a minute on
                at, unwarned = collector.warned["batches with quarantined records"]
                collector.warned["batches with quarantined records"] = (
                    at - collector_module.WARN_EVERY, unwarned)
            collector.ingest("T-SHOP-1", 0, 3, [(99, sealed)], [0, 0, 0, 0])
    collector.store.close()
    assert [r.getMessage() for r in caplog.records] == [
        "terminal T-SHOP-1: records quarantined: 1 (sequence number differs from the batch's)",
        "terminal T-SHOP-1: records quarantined: 1 (sequence number differs from the batch's); "
        "1 more batches with quarantined records since the last warning"]


def test_8_digits_are_a_date_not_a_unix_time():
    assert analysis.when("20261125", "--since") == analysis.when("2026-11-25", "--since")
    assert analysis.when("20261125", "--until", end=True) == analysis.when(
        "2026-11-25", "--until", end=True) == BASE - BASE % 86400 + 86400
    assert analysis.when("1795600000", "--since") == BASE  # 10 digits: a unix time


def test_the_exports_hold_codes_iso_times_and_plain_values(tmp_path):
    build_db(tmp_path / "c.db")
    folder = tmp_path / "tables"
    report.write(tmp_path / "c.db", SECRET, folder, now=NOW, fmt="csv")
    for path in folder.glob("*.csv"):  # Excel reads Chinese right only after a byte order mark
        assert path.read_bytes().startswith(b"\xef\xbb\xbf"), path

    def rows(name):
        with open(folder / (name + ".csv"), newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    summary = {r["figure"]: r for r in rows("summary")}
    assert all(re.fullmatch(r"[a-z_]+", code) for code in summary)
    assert summary["incidents"]["label"] == "Incidents"
    assert summary["period"]["value"] == "2026-11-25T09:46:40Z/2026-11-29T13:46:40Z"
    assert summary["period"]["previous"] == "2026-11-21T05:46:40Z/2026-11-25T09:46:40Z"
    assert {r["cause"]: r["cause_zh"] for r in rows("by_cause")}["card_compromised"] == \
        labels.CAUSE_ZH["card_compromised"]
    tokens = [r["card_token"] for r in rows("skimming") + rows("incidents") if r["card_token"]]
    assert tokens and all(re.fullmatch(r"[0-9a-f]{8}", t) for t in tokens)
    assert {r["opened"] for r in rows("incidents")} == {"true"}

    data = json.loads(report_export.json_text(*(lambda b: (b["meta"], b["tables"].values()))(
        report.build(tmp_path / "c.db", SECRET, now=NOW))))
    figures = {r["figure"]: r for r in data["tables"]["summary"]["rows"]}
    assert figures["period"]["value"] == summary["period"]["value"]
    assert {r["opened"] for r in data["tables"]["incidents"]["rows"]} == {True}
    # the page still shows people words: the label, the period with a dash, the token going on
    page = Page(report.render(tmp_path / "c.db", SECRET, now=NOW))
    assert _figures(page)["Period (terminal clocks)"][0] == \
        "2026-11-25 09:46 – 2026-11-29 13:46 UTC"
    assert all(r["Card token"].endswith("…") for r in page.rows("skimming"))
