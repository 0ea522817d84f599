"""`lostcard collector watchlist`, `collector policy publish|status` and the updates in `collector
stats` and the report (docs/SYNC.md "Updates"): what is published is checked first, a refused
policy reaches no terminal (one line, exit 2, nothing published), and the watchlist is the
report's skimming-ring analysis, chosen most terminals first, then most recent."""

import json
import subprocess
import sys

import pytest

from lostcard import protocol
from lostcard.collector import updates
from lostcard_cpython import paths, publish, report
from lostcard_cpython.collector_store import open_store
from lostcard_cpython.fleet_secret import fingerprint
from test_report import NOW, SECRET, Page, build_db

GOOD = str(paths.FIXTURES / "policies" / "acquirer-42-stolen.json")
STOLEN = ["rc_stolen", "card_compromised", 95, "reported_stolen", "p", "stolen, pick up"]


def lostcard(*args, cwd):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def world(tmp_path, new_db):
    """The report's database (a skimming ring of one card at two terminals), as served."""
    db = new_db()
    build_db(db)
    store = open_store(db)
    store.fleet_fingerprint(claim=fingerprint(SECRET))
    store.close()
    (tmp_path / "fleet.secret").write_text(SECRET.hex())
    return {"db": db, "tmp": tmp_path, "secret": str(tmp_path / "fleet.secret")}


def _newest(db):
    store = open_store(db, readonly=True)
    try:
        newest = store.newest_versions()
        return newest, {kind: store.published(kind, v) for kind, v in newest.items() if v}
    finally:
        store.close()


def _policy(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_each_bad_policy_is_refused_with_its_reason_and_nothing_is_published(world):
    tmp = world["tmp"]
    big = {"name": "big", "response_codes": {a + b: STOLEN[:5] + ["x" * 60] for a in "ABCDEF"
                                             for b in "0123456789"}}
    cases = [
        (_policy(tmp, "a.json", "{not json"), "is not JSON"),
        (_policy(tmp, "b.json", b"\xff\xfe".decode("latin-1")), "is not JSON"),
        (_policy(tmp, "c.json", [1, 2]), "overrides must be an object"),
        (_policy(tmp, "d.json", {"response_codes": {}}), "need a name"),
        (_policy(tmp, "e.json", {"name": "x", "rules": {}}), "may only set name and"),
        (_policy(tmp, "f.json", {"name": "x", "response_codes": {"4": STOLEN}}),
         "two upper-case letters or digits"),
        (_policy(tmp, "g.json", {"name": "x", "response_codes": {"43": STOLEN[:2] + [101]
                                                                  + STOLEN[3:]}}),
         "points must be 0..100"),
        # each entry well formed, the whole policy not: a retaining code not flagged p
        (_policy(tmp, "h.json", {"name": "x", "response_codes": {"43": STOLEN[:4] + [""]
                                                                  + STOLEN[5:]}}),
         "leads to retain_card but is not flagged p"),
        (_policy(tmp, "i.json", big), "at most 4096 reach a terminal"),
        (_policy(tmp, "j.json", " " * 70000), "a file of more than 65536 bytes"),
        (str(tmp / "absent.json"), "No such file"),
    ]
    for path, reason in cases:
        proc = lostcard("collector", "policy", "publish", "--db", world["db"], "--file", path,
                        cwd=tmp)
        assert proc.returncode == 2 and proc.stdout == "", (path, proc.stderr)
        assert proc.stderr.count("\n") == 1 and reason in proc.stderr, (path, proc.stderr)
    assert _newest(world["db"])[0] == {protocol.POLICY: 0, protocol.WATCHLIST: 0}


def test_a_checked_policy_is_published_once_as_the_next_version(world):
    proc = lostcard("collector", "policy", "publish", "--db", world["db"], "--file", GOOD,
                    cwd=world["tmp"])
    assert proc.returncode == 0 and "published policy version 1" in proc.stdout, proc.stderr
    body = _newest(world["db"])[1][protocol.POLICY]
    with open(GOOD, encoding="utf-8") as f:
        assert json.loads(body) == json.load(f) and len(body) <= updates.MAX_POLICY
    again = lostcard("collector", "policy", "publish", "--db", world["db"], "--file", GOOD,
                     cwd=world["tmp"])
    assert again.returncode == 0 and "unchanged from policy version 1" in again.stdout
    assert _newest(world["db"])[0][protocol.POLICY] == 1


def test_a_database_no_collector_served_is_not_made_by_publishing(tmp_path):
    proc = lostcard("collector", "policy", "publish", "--db", "absent.db", "--file", GOOD,
                    cwd=tmp_path)
    assert proc.returncode == 2 and "no collector database" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_watchlist_is_the_skimming_ring_and_publishes_once(world):
    args = ("collector", "watchlist", "--db", world["db"], "--fleet-secret-file",
            world["secret"])
    shown = lostcard(*args, cwd=world["tmp"])
    ring = Page(report.render(world["db"], SECRET, now=NOW)).rows("skimming")
    assert shown.returncode == 0 and len(ring) == 1, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:4] == ["token", "last4", "brand", "terminals"]
    assert lines[1].split()[:4] == [ring[0]["Card token"], ring[0]["Last 4"], ring[0]["Brand"],
                                    ring[0]["Terminals"]]
    assert "1 card declined as compromised at 2 or more terminals" in lines[2]
    assert _newest(world["db"])[0][protocol.WATCHLIST] == 0  # shown, not published

    published = lostcard(*args, "--publish", cwd=world["tmp"])
    assert "published watchlist version 1 (16 bytes)" in published.stdout, published.stderr
    body = _newest(world["db"])[1][protocol.WATCHLIST]
    assert body[:4].hex() == ring[0]["Card token"].rstrip("…") and body[15] == 2
    again = lostcard(*args, "--publish", cwd=world["tmp"])
    assert "unchanged from watchlist version 1: nothing published" in again.stdout
    wider = lostcard(*args, "--publish", "--min-terminals", "1", cwd=world["tmp"])
    assert "published watchlist version 2 (32 bytes)" in wider.stdout
    assert len(wider.stdout.splitlines()) == 5


def test_the_watchlist_keeps_most_terminals_then_most_recent_up_to_its_cap():
    def incidents(token, terminals, t):
        return [{"cause": "card_compromised", "token": token, "device": "T-%d" % d, "time": t,
                 "last4": "1111", "brand": "visa", "subcause": "x", "opened": True}
                for d in range(terminals)]

    many = []
    for n in range(updates.MAX_ENTRIES + 10):
        many += incidents((n << 8).to_bytes(16, "big"), 2, 1000 + n)
    many += incidents(b"\xff" * 16, 3, 5)  # most terminals, oldest
    many += incidents(b"\xee" * 16, 1, 99999)  # one terminal: below --min-terminals 2
    unopened = incidents(b"\xdd" * 16, 5, 7)
    for i in unopened:
        i["opened"] = False
    cards = publish.watchlist(many + unopened, 2)
    assert len(cards) == updates.MAX_ENTRIES
    assert cards[0][0] == b"\xff" * 16 and cards[0][3] == 3
    assert cards[1][4] == 1000 + updates.MAX_ENTRIES + 9  # then the most recent
    kept = {c[0] for c in cards}
    assert (5 << 8).to_bytes(16, "big") not in kept and b"\xee" * 16 not in kept
    body = publish.watchlist_body(cards)
    assert len(body) == 16 * updates.MAX_ENTRIES
    assert protocol.HEADER_LEN + len(body) <= 65536
    entries = [body[i:i + 16] for i in range(0, len(body), 16)]
    assert entries == sorted(entries) and len(set(e[:15] for e in entries)) == len(entries)
    with pytest.raises(ValueError, match="share their first 15 bytes"):
        updates.watchlist_body([(b"\x01" * 15 + b"\x00", 2), (b"\x01" * 15 + b"\x01", 2)])
    assert updates.watchlist_body([(b"\x02" * 16, 300), (b"\x01" * 16, 0)]) == \
        b"\x01" * 15 + b"\x01" + b"\x02" * 15 + b"\xff"  # terminals capped to 1..255


def test_status_stats_and_the_report_show_terminals_behind_and_refusals(world):
    store = open_store(world["db"])
    store.publish(protocol.POLICY, b'{"name":"p"}')
    store.publish(protocol.WATCHLIST, b"")
    store.publish(protocol.WATCHLIST, b"\x01" * 16)
    store.record_updates("T-SHOP-1", 0, [1, 1, [protocol.WATCHLIST, 2, "entries not sorted"]])
    store.record_updates("T-SHOP-2", 0, [1, 2, None])
    store.record_updates("T-SHOP-3", 0, [0, 2, None])
    store.close()
    status = lostcard("collector", "policy", "status", "--db", world["db"], cwd=world["tmp"])
    lines = status.stdout.splitlines()
    assert status.returncode == 0 and lines[0] == (
        "newest: policy version 1, watchlist version 2; terminals behind: policy 1, watchlist 1")
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["T-SHOP-1"].split()[1:4] == ["1", "1", "watchlist"]
    assert "watchlist version 2 at " in rows["T-SHOP-1"] and "entries not sorted" in \
        rows["T-SHOP-1"]
    assert rows["T-SHOP-2"].split()[1:4] == ["1", "2", "-"]
    assert rows["T-SHOP-3"].split()[1:4] == ["0", "2", "policy"]
    found = json.loads(lostcard("collector", "policy", "status", "--db", world["db"], "--format",
                                "json", cwd=world["tmp"]).stdout)
    assert found["behind"] == {"policy": 1, "watchlist": 1}

    stats = json.loads(lostcard("collector", "stats", "--db", world["db"],
                                cwd=world["tmp"]).stdout)["updates"]
    assert stats["newest"] == {"policy": 1, "watchlist": 2}
    assert stats["behind"] == {"policy": 1, "watchlist": 1}
    assert [(r["terminal"], r["kind"], r["version"], r["reason"]) for r in stats["refusals"]] \
        == [("T-SHOP-1", "watchlist", 2, "entries not sorted")]
    table = lostcard("collector", "stats", "--db", world["db"], "--format", "table",
                     cwd=world["tmp"]).stdout
    assert "terminals behind: policy 1, watchlist 1" in table
    assert "refused by T-SHOP-1: watchlist version 2" in table

    page = Page(report.render(world["db"], SECRET, now=NOW))
    assert [(r["Update"], r["Newest version (0: none)"], r["Terminals running it"],
             r["Terminals behind"]) for r in page.rows("updates", 0)] == [
        ("policy", "1", "2", "1"), ("watchlist", "2", "2", "1")]
    behind = {r["Terminal"]: r for r in page.rows("updates", 1)}
    assert sorted(behind) == ["T-SHOP-1", "T-SHOP-3"]
    assert behind["T-SHOP-1"]["Watchlist version"] == "1 of 2"
    assert behind["T-SHOP-1"]["Last refusal"] == "watchlist version 2: entries not sorted"
    assert behind["T-SHOP-3"]["Behind on"] == "policy" and behind["T-SHOP-3"]["Last refusal"] \
        == "—"
