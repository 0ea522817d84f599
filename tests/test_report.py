"""The acquirer's HTML report, on a collector database filled the way the real collector fills
it: fixture events classified, built into records, sealed by each terminal's key and ingested.

The incidents are arranged so that every section has something to list and something to leave
out; text from terminals is hostile (an operator id and a device id carry markup).
"""

import copy
import re
from collections import Counter
from html.parser import HTMLParser

from lostcard import keys, record, sealing
from lostcard.decision import classify
from lostcard_cpython import crypto, report, scenarios
from lostcard_cpython.collector import Collector
from lostcard_cpython.collector_store import SqliteStore

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


def build_db(path, plan=PLAN):
    """A collector database holding the plan's incidents, one quarantined record and GAPS;
    returns the decisions made, in the plan's order."""
    collector = Collector(SqliteStore(str(path)), SECRET)
    batches, decisions = {}, []
    for device, event in _events(plan):
        decision = classify(event)
        decisions.append(decision)
        if device not in batches:
            chain = keys.first_chain(crypto, keys.device_root(crypto, SECRET, device))
            batches[device] = (sealing.Sealer(crypto, device, 0, chain), [])
        sealer, items = batches[device]
        seq = len(items) + 1
        items.append((seq, sealer.seal(record.build(event, decision, device, 0, crypto,
                                                    TOKEN_KEY), seq)))
    for device, (sealer, items) in batches.items():
        if device == "T-SHOP-1":  # a record damaged on the way: quarantined, not stored
            items.append((len(items) + 1, items[0][1][:-1] + bytes([items[0][1][-1] ^ 1])))
        acked, quarantined = collector.ingest(device, 3, items, GAPS.get(device, [0, 0, 0, 0]))
        assert (acked, quarantined) == (len(items), int(device == "T-SHOP-1"))
    collector.store.close()
    return decisions


class Page(HTMLParser):
    """Each section's text and tables (rows of cell texts, entities decoded), and all tags."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.sections, self.tags = {}, Counter()
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
    causes = Counter(d["cause"] for d in decisions)
    assert {r["Cause"]: int(r["Incidents"]) for r in page.rows("summary", 1)} == causes
    assert {r["Action"]: int(r["Incidents"]) for r in page.rows("summary", 2)} \
        == Counter(d["action"] for d in decisions)
    assert [r["Terminal"] for r in page.rows("summary", 3)] == ["T-SHOP-1"]  # quarantine
    assert [list(r.values()) for r in page.rows("summary", 4)] == [["T-SHOP-3", "0", "1", "4",
                                                                    "2"]]

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
    assert set(re.findall(r"(\w+) ×", faults[0]["Subcauses"])) == {"reader_fault",
                                                                    "tamper_detected"}

    operators = page.rows("operator-errors")
    assert [(r["Operator"], r["Operator errors"]) for r in operators] == [(HOSTILE, "2")]
    assert operators[0]["Terminals"] == "T-SHOP-1, T-SHOP-2"
    assert set(re.findall(r"(\w+) ×", operators[0]["Subcauses"])) == {"wrong_txn_type",
                                                                       "forced_fallback"}

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
    assert seen == ("T-SHOP-1 at 2026-11-25 09:46 (reported_lost); "
                    "T-SHOP-2 at 2026-11-26 15:46 (cloned_stripe)")
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


def test_the_collector_report_command_writes_the_page(tmp_path):
    import subprocess
    import sys

    build_db(tmp_path / "c.db")
    (tmp_path / "fleet.secret").write_text(SECRET.hex())
    out = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "report",
                           "--db", str(tmp_path / "c.db"), "--fleet-secret-file",
                           str(tmp_path / "fleet.secret"), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    for sid, _ in report.SECTIONS:
        assert 'id="%s"' % sid in page
    missing = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "report",
                              "--db", str(tmp_path / "absent.db"), "--fleet-secret-file",
                              str(tmp_path / "fleet.secret")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "no collector database" in missing.stderr
