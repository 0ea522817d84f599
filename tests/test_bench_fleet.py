"""`lostcard bench fleet`, small: a storm of 50 terminals over 3 s against a real collector ends
with its one line, nothing lost or duplicated, every terminal's backlog in the store; a busy
collector's 429s are waited out, never dropped; and the verdict does see a loss and a duplicate."""

import io
import os
import re
import subprocess
import sys

from lostcard_cpython.bench import fleet, fleet_load
from lostcard_cpython.collector_server import BUSY_ENV
from lostcard_cpython.collector_store import open_store

LINE = re.compile(r"fleet: terminals=(\d+) incidents=(\d+) stored=(\d+) lost=(\d+) "
                  r"duplicated=(\d+) p50_ms=(\d+) p99_ms=(\d+) refused=(\d+)")


def _bench(db, *args, env=None):
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "bench", "fleet",
                           "--terminals", "50", "--window", "3", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    match = LINE.fullmatch(lines[-1])
    assert match, lines[-1]
    return lines, [int(n) for n in match.groups()]


def test_a_small_storm_stores_every_incident_once_and_says_so(tmp_path):
    lines, (terminals, incidents, stored, lost, duplicated, p50, p99, refused) = _bench(
        tmp_path / "f.db", "--incidents-per-terminal", "3")
    assert (terminals, incidents, stored, lost, duplicated) == (50, 150, 150, 0, 0)
    assert p50 <= p99
    for goal in ("lost (acknowledged, not stored)", "duplicated (stored twice)",
                 "acks not covering their batch", "terminals done within 180 s"):
        line = [line for line in lines if line.startswith(goal)]
        assert len(line) == 1 and line[0].endswith(": met)"), line
    store = open_store(str(tmp_path / "f.db"), readonly=True)
    held = store.sequences()
    store.close()
    assert len(held) == 50 and all(sorted(seqs) == [1, 2, 3] for seqs in held.values())


def test_terminals_wait_out_a_busy_collector_and_still_deliver_everything(tmp_path):
    lines, (_, incidents, stored, lost, duplicated, _, _, refused) = _bench(
        tmp_path / "f.db", env={BUSY_ENV: "20"})
    assert (incidents, stored, lost, duplicated) == (250, 250, 0, 0)
    assert refused >= 20  # the collector's first 20 batches were answered 429
    assert [line for line in lines if line.startswith("terminals done")][0].endswith(": met)")


def _verdict(held, acked):
    out = io.StringIO()
    done = {device: 0.1 for device in acked}
    tally = {"latencies": [5.0, 7.0], "acked": acked, "done": done, "errors": {},
             "refused": {429: 0, 503: 0}, "short_acks": 0, "requests": 2}
    fleet._verdict(out, 2, 1, 2, 1, "r", [tally], held, 1.0, "SQLite")
    return out.getvalue().splitlines()


def test_the_verdict_counts_an_acknowledged_record_missing_and_one_stored_twice():
    a, b = fleet_load.device_id("r", 0), fleet_load.device_id("r", 1)
    assert _verdict({a: [1, 2], b: [1, 2]}, {a: 2, b: 2})[-1] == (
        "fleet: terminals=2 incidents=4 stored=4 lost=0 duplicated=0 p50_ms=7 p99_ms=7 "
        "refused=0")
    lines = _verdict({a: [1], b: [1, 2, 2]}, {a: 2, b: 2})
    assert lines[-1].startswith("fleet: terminals=2 incidents=4 stored=3 lost=1 duplicated=1 ")
    assert "(goal 0: NOT met)" in lines[1] and "(goal 0: NOT met)" in lines[2]
    # a record not acknowledged and not stored is still the terminal's: not lost
    assert " lost=0 " in _verdict({a: [1], b: [1, 2]}, {a: 1, b: 2})[-1]
