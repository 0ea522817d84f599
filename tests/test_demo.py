"""`lostcard demo`, the README's first command: a terminal's day on both ports, and its check.

The demo runs the real thing (terminal processes of the chosen port, a collector on loopback,
an outage, a power cut mid-append) and checks itself; these tests hold it to that check, and
show that the check fails when the collector lacks an incident.
"""

import re
import sqlite3
import subprocess
import sys

import pytest


def demo(*args):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "demo"] + list(args),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("port", ["cpython", "mpy"])
def test_a_day_passes_its_own_check_and_a_second_run_resumes(tmp_path, port):
    state = str(tmp_path / "state")
    first = demo("--state", state, "--port", port)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    out = first.stdout
    assert "(fresh)" in out and "OUTAGE" in out and "link back" in out
    assert re.search(r"POWER CUT at T-DEMO-02 in the middle of an append", out)
    assert "recovered: 21 queued, 1 torn append set aside, nothing lost" in out
    for cause in ("card_data_error", "card_compromised", "network_fault", "device_fault",
                  "operator_error"):
        assert cause + " " in out
    assert "check 1, decisions agree with their labels: yes" in out
    assert out.count("collector holds 34, each once: yes") == 2  # the ring's clone at each
    assert "T-DEMO-03: queued 33, collector holds 33, each once: yes" in out
    # the loop: the ring becomes the watchlist, every terminal fetches it, and the third
    # terminal decides the ringed card on it, offline
    assert "1 card declined as compromised at 2 or more terminals: watchlist version 1" in out
    assert "check 3, every terminal runs watchlist version 1: yes" in out
    assert re.search(r"T-DEMO-03 ring 2 +card_compromised call_acquirer", out)
    assert "decided card_compromised offline on the watchlist's evidence: yes" in out
    assert "synced 63 of 63 incidents" in out and "\r" not in out  # no bar off a terminal
    assert "T-DEMO-03 declines 3 more" in out  # after the check: a backlog for `queue`, `sync`
    assert out.rstrip().endswith("demo passed its final check")
    page = (tmp_path / "state" / "report.html").read_text(encoding="utf-8")
    assert "Possible skimming ring" in page and "T-DEMO-02" in page
    # what holds keys or incidents is its owner's alone (docs/SECURITY.md)
    for name in ("fleet.secret", "collector.db", "T-DEMO-01"):  # and all within
        assert (tmp_path / "state" / name).stat().st_mode & 0o077 == 0, name

    again = demo("--state", state, "--port", port)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert "resuming round 2" in again.stdout
    # the first day's backlog of 3 at T-DEMO-03 synced with the second day's
    assert again.stdout.count("collector holds 68, each once: yes") == 2
    assert "T-DEMO-03: queued 70, collector holds 70, each once: yes" in again.stdout
    # the third terminal's decline of the ringed card was the watchlist's own echo: no sighting
    assert "watchlist version 1 (unchanged)" in again.stdout
    assert "check 3, every terminal runs watchlist version 1: yes" in again.stdout

    clean = demo("--state", state, "--port", port, "--fresh")
    assert clean.returncode == 0 and "(fresh)" in clean.stdout
    assert clean.stdout.count("collector holds 34, each once: yes") == 2


def test_the_check_fails_when_the_collector_lacks_an_incident(tmp_path):
    state = tmp_path / "state"
    assert demo("--state", str(state)).returncode == 0
    with sqlite3.connect(state / "collector.db") as db:
        db.execute("DELETE FROM incidents WHERE device = 'T-DEMO-03' AND seq = (SELECT seq FROM "
                   "incidents WHERE device = 'T-DEMO-03' ORDER BY seq LIMIT 1 OFFSET 4)")
    proc = demo("--state", str(state))
    assert proc.returncode == 1
    assert "check 2, T-DEMO-03: queued 70, collector holds 69, each once: NO" in proc.stdout
    assert proc.stdout.rstrip().endswith("demo FAILED its final check")


def test_check_3_fails_for_a_terminal_behind_or_a_decision_without_the_watchlist(tmp_path):
    from io import StringIO

    from lostcard_cpython.demo import Day

    day = Day(StringIO(), str(tmp_path), "cpython")
    day.version = 1
    lines = [(t, {"n": n, "cause": e["cause"], "action": e["action"], "subcause": e["subcause"],
                  "rules": ["watchlist_hit"]})
             for n, (t, e) in enumerate(zip(("T-DEMO-01", "T-DEMO-02", "T-DEMO-03"),
                                            (item["expect"] for item in day.ring)))]
    current = {t: {"watchlist_version": 1} for t in ("T-DEMO-01", "T-DEMO-02", "T-DEMO-03")}
    day.ring_decided = lines
    assert day.ring_check(current)
    assert not day.ring_check(dict(current, **{"T-DEMO-02": {"watchlist_version": 0}}))
    lines[-1][1]["rules"] = ["rc_do_not_honour"]
    assert not day.ring_check(current)
    lines[-1][1].update(rules=["watchlist_hit"], cause="undetermined")
    assert not day.ring_check(current)
    assert "NO, ring declines [2]" in day.out.getvalue()
