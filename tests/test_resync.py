"""A collector restored from an older copy of its database, against real terminal queues
(docs/SYNC.md, "Restore"): the terminal sees the collector's high-water below what it was
acknowledged, sends again what its retention window still holds (stored once), and counts
what it no longer holds; the collector stores the count and `collector stats` and the report
show it. Terminals and collectors of the previous release keep working with these.
"""

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing

import httpx
import pytest

from lostcard import cbor, protocol, record, sealing
from lostcard.collector import fleet
from lostcard.collector.fleet import device_root, first_chain
from lostcard.decision import classify
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard_cpython import crypto, scenarios
from lostcard_cpython.collector_store import open_store
from lostcard_cpython.local_collector import LocalCollector
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.transport import HttpTransport

SECRET = bytes(range(60, 92))
ITEMS = scenarios.load()


@pytest.fixture
def env(tmp_path):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    collector = LocalCollector(tmp_path / "collector.db", secret).start()
    yield {"collector": collector, "db": str(tmp_path / "collector.db"), "tmp": tmp_path,
           "secret": str(secret)}
    collector.stop()


def _queue(tmp_path, device_id, budget=65536):
    path = str(tmp_path / device_id)
    if not os.path.exists(path):
        Queue.provision(DirStorage(path), first_chain(crypto, device_root(crypto, SECRET,
                                                                          device_id)),
                        device_id=device_id, ack_key=fleet.ack_key(crypto, SECRET, device_id))
    return Queue(DirStorage(path), lambda e, c: sealing.Sealer(crypto, device_id, e, c),
                 rotate_bytes=600, budget_bytes=budget)


def _append(q, n, lane=3, start=0):
    """`n` incidents in `lane` (None: their priority's, as a terminal does)."""
    seqs = []
    for item in (ITEMS * 10)[start:start + n]:
        d = classify(item["event"])
        r = record.build(item["event"], d, q.device_id, 0, crypto, b"t" * 32)
        seqs.append(q.append(r, lane or d["priority"]))
    return seqs


def _sync(q, url):
    up = Uploader(q, HttpTransport(url, timeout=5), crypto, os.urandom, q.device_id, q.ack_key,
                  batch_bytes=700, max_batch=700)
    return up.run(lambda s: None, lambda a, b: 0.0, max_failures=3)


def _stored(db, device):
    with closing(sqlite3.connect(db)) as con:  # closed: _restore replaces the file
        return [row[0] for row in con.execute(
            "SELECT seq FROM incidents WHERE device = ? ORDER BY seq", (device,))]


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _backup(db, out):
    """A copy of the live database: `collector backup`, while the collector serves."""
    _cli("collector", "backup", "--db", db, "--out", out)


def _restore(env, copy):
    """`collector restore` with the collector stopped, then the collector started again."""
    env["collector"].stop()
    said = _cli("collector", "restore", "--db", env["db"], "--from", copy)
    assert "restored" in said and "replaced is" in said
    env["collector"].start()


def _stats(db):
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "stats",
                           "--db", db, "--format", "json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_restore_older_than_the_last_ack_is_filled_again_from_the_window(env):
    q = _queue(env["tmp"], "T-RESTORE-1")
    url = env["collector"].url
    early = _append(q, 8)
    _sync(q, url)
    copy = str(env["tmp"] / "mid-day.db")
    _backup(env["db"], copy)  # mid-day
    late = _append(q, 8)
    _sync(q, url)
    assert _stored(env["db"], q.device_id) == early + late
    _restore(env, copy)
    assert _stored(env["db"], q.device_id) == early  # the afternoon is gone from the collector
    newest = _append(q, 1)  # the next incident's sync shows the collector behind
    _sync(q, url)
    stored = _stored(env["db"], q.device_id)
    assert stored == early + late + newest  # each once, nothing lost
    assert q.gaps() == [0, 0, 0, 0, 0]
    assert _stats(env["db"])["known_gaps"]["lost_to_restore"] == 0


def test_what_the_window_no_longer_holds_is_counted_and_shown(env):
    q = _queue(env["tmp"], "T-RESTORE-2", budget=4000)
    url = env["collector"].url
    copy = str(env["tmp"] / "empty.db")
    _backup(env["db"], copy)  # before this terminal's first sync
    seqs = _append(q, 12)
    _sync(q, url)
    seqs += _append(q, 30)  # pushes the oldest acknowledged records out of the budget
    _sync(q, url)
    assert q.state[11][4] > 0  # acknowledged records of lane 3 evicted
    held = [s for s in seqs if s >= q.rows[3][0]]
    _restore(env, copy)
    _sync(q, url)  # nothing pending: only a new record shows the collector behind
    newest = _append(q, 1)
    _sync(q, url)
    assert _stored(env["db"], q.device_id) == held + newest  # the window, once
    gaps = q.gaps()
    missing = len(seqs) - len(held)  # evicted before their upload, or acknowledged then evicted
    lost = gaps[4]
    assert gaps[2] > 0 and lost > 0 and lost == missing - gaps[2]  # exact: one lane's numbers
    stats = _stats(env["db"])
    assert stats["known_gaps"]["lost_to_restore"] == lost
    store = open_store(env["db"], readonly=True)  # what the report reads
    try:
        gaps = store.report_snapshot()[2]
    finally:
        store.close()
    assert [g[5] for g in gaps if g[0] == q.device_id] == [lost]


def test_a_terminal_of_the_previous_release_reads_the_new_reply(env):
    q = _queue(env["tmp"], "T-OLD-1")
    seqs = _append(q, 3)
    items = [[s, sealed] for s, sealed in q.pending(3)]
    digest = protocol.digest(items)
    nonce = os.urandom(16)
    gaps = [0, 0, 0, 0]  # four counts, as it sends them
    body = protocol.encode_batch(crypto, q.ack_key, q.device_id, nonce, 3, items, gaps, digest)
    reply = httpx.post(env["collector"].url + "/v1/batch", content=body,
                       headers={"content-type": "application/cbor"}, timeout=10)
    assert reply.status_code == 200
    got = cbor.decode(reply.content)
    # what protocol 2 terminals check: keys 1 and 2, the ack MAC over a 4-item array
    assert got[1] == seqs[-1] and got[2] == protocol.ack_mac(crypto, q.ack_key, q.device_id,
                                                             nonce, seqs[-1], digest)
    assert got[4] == [0, 0, 0] and got[5] > 1536  # and the new keys, which it ignores
    assert _stored(env["db"], q.device_id) == seqs


def test_a_database_of_the_previous_release_gets_its_high_water_from_its_incidents(env):
    q = _queue(env["tmp"], "T-MIGRATE-1")
    seqs = _append(q, 30, lane=None)
    lanes = {lane: [s for s, _ in q.pending(lane)] for lane in (1, 2, 3)}
    _sync(q, env["collector"].url)
    env["collector"].stop()
    with closing(sqlite3.connect(env["db"], isolation_level=None)) as con:
        con.execute("DROP TABLE lanes")  # as the previous release left it
        con.execute("ALTER TABLE gaps DROP COLUMN lost")
    with pytest.raises(Exception, match="older release"):
        open_store(env["db"], readonly=True)
    store = open_store(env["db"])  # the collector's: brought up to this release
    try:
        assert store.high_water(q.device_id, 0) == [max(lanes[i] + [0]) for i in (1, 2, 3)]
        assert len([1 for i in (1, 2, 3) if lanes[i]]) > 1
        assert store.stats()["known_gaps"]["lost_to_restore"] == 0
    finally:
        store.close()
    env["collector"].start()
    newest = _append(q, 1)
    _sync(q, env["collector"].url)  # no rewind: nothing sent twice
    assert _stored(env["db"], q.device_id) == sorted(seqs + newest)
    assert [s for lane in (1, 2, 3) for s, _ in q.pending(lane)] == []


def _files(tmp):
    return {p: open(os.path.join(tmp, p), "rb").read() for p in sorted(os.listdir(tmp))
            if os.path.isfile(os.path.join(tmp, p)) and not p.endswith(("-wal", "-shm"))}


def test_restore_refuses_a_serving_collector_and_another_fleets_backup(env):
    q = _queue(env["tmp"], "T-RESTORE-3")
    _append(q, 3)
    _sync(q, env["collector"].url)
    copy = str(env["tmp"] / "copy.db")
    _backup(env["db"], copy)
    before = _files(env["tmp"])
    serving = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector",
                              "restore", "--db", env["db"], "--from", copy],
                             capture_output=True, text=True, timeout=60)
    assert serving.returncode == 2 and "stop the collector first" in serving.stderr
    assert len(serving.stderr.strip().splitlines()) == 1
    assert _files(env["tmp"]) == before
    env["collector"].stop()
    other = str(env["tmp"] / "other.db")
    with closing(sqlite3.connect(copy)) as src, closing(sqlite3.connect(other)) as dst:
        src.backup(dst)
    with closing(sqlite3.connect(other, isolation_level=None)) as con:
        con.execute("UPDATE meta SET value = 'feedfeedfeedfeed' WHERE key = "
                    "'fleet_fingerprint'")
    before = _files(env["tmp"])
    foreign = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector",
                              "restore", "--db", env["db"], "--from", other],
                             capture_output=True, text=True, timeout=60)
    assert foreign.returncode == 2 and "another fleet secret" in foreign.stderr
    assert _files(env["tmp"]) == before  # nothing moved, nothing written
    env["collector"].start()
