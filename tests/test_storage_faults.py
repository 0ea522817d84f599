"""Storage faults (issue 14): a damaged database is refused at start, a write-ahead log damaged
after a crash is seen (SQLite cannot see it), a write that fails while serving gets 503 with
nothing acknowledged and health degraded until writes succeed again, and `collector backup`
copies a database that is being written, checked, and refuses what it must."""

import hashlib
import os
import random
import resource
import shutil
import sqlite3
import struct
import subprocess
import sys
import threading
import time

import httpx
import pytest

from lostcard.errors import SyncError
from lostcard_cpython.collector_store import COMMITS_SUFFIX, SqliteStore
from lostcard_cpython.local_collector import free_port
from test_sync import SECRET, _device, _pending, _stored, _uploader

USAGE = 2
BATCHES, PER_BATCH = 30, 10
FILES = ("", "-wal", COMMITS_SUFFIX)  # a database as a crash leaves it (-shm is only an index)


def _row(rng, device, seq):
    return (device, seq, 1700000000 + seq, "card_compromised", "lost", "decline", 1,
            rng.randbytes(32), "1234", "p1", 1700000000, rng.randbytes(150))


def _write(store, rng, batches=BATCHES, first=0):
    """`batches` batches of PER_BATCH incidents, each acknowledged once store_batch returns."""
    for b in range(first, first + batches):
        device = "T-%d" % (b % 3)
        store.store_batch(device, [_row(rng, device, b * PER_BATCH + i)
                                   for i in range(PER_BATCH)], [], None)


def _crashed(tmp_path, rng):
    """A collector's database as a crash after BATCHES acknowledged batches leaves it: the files
    copied while its store is still open (every commit is in them: synchronous=FULL), so its
    write-ahead log is not folded into the database."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    live.mkdir()
    crashed.mkdir()
    store = SqliteStore(str(live / "c.db"))
    store.fleet_fingerprint(claim=_fingerprint())
    _write(store, rng)
    for suffix in FILES:
        shutil.copy(str(live / "c.db") + suffix, str(crashed / "c.db") + suffix)
    store.close()
    return str(crashed / "c.db")


def _fingerprint():
    from lostcard_cpython.fleet_secret import fingerprint

    return fingerprint(SECRET)


def _digests(db):
    return {s: hashlib.sha256(open(db + s, "rb").read()).hexdigest() for s in FILES
            if os.path.exists(db + s)}


def _serve(tmp_path, db, *options):
    """`collector serve` on `db`; (process, port), the process's stderr a pipe: a file would be
    held to the file-size limit the disk-full test sets."""
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve",
                             "--db", db, "--fleet-secret-file", str(secret), "--port", str(port),
                             *options], stderr=subprocess.PIPE)
    return proc, port


def _refused(tmp_path, db, *options):
    proc, _ = _serve(tmp_path, db, *options)
    try:
        err = proc.communicate(timeout=30)[1].decode()
    finally:  # one that serves instead has failed the test: stopped all the same
        if proc.poll() is None:
            _stop(proc)
    assert proc.returncode == USAGE and "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


def _health(port, deadline=30.0):
    end = time.monotonic() + deadline
    while True:
        try:
            return httpx.get("http://127.0.0.1:%d/v1/health" % port, timeout=5)
        except httpx.HTTPError:
            assert time.monotonic() < end, "the collector did not answer"
            time.sleep(0.05)


def _stop(proc):
    proc.terminate()
    return proc.communicate(timeout=30)[1].decode()


def _closed(tmp_path, seed):
    """A collector's database after BATCHES acknowledged batches, its store closed."""
    db = str(tmp_path / "c.db")
    store = SqliteStore(db)
    store.fleet_fingerprint(claim=_fingerprint())
    _write(store, random.Random(seed))
    store.close()
    return db


def test_a_damaged_page_is_refused_at_start_and_nothing_changes(tmp_path):
    db = _closed(tmp_path, 1)
    with sqlite3.connect(db) as con:
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'incidents'"
                           ).fetchone()[0]
    with open(db, "r+b") as f:  # one bit of the incidents table's root page header
        f.seek((root - 1) * 4096 + 3)
        byte = f.read(1)[0]
        f.seek(-1, 1)
        f.write(bytes([byte ^ 0x40]))
    before = _digests(db)
    for options in ((), ("--accept-loss",)):  # no flag serves a database with broken pages
        err = _refused(tmp_path, db, *options)
        assert "c.db is damaged (quick_check: Page %d" % root in err, err
        assert "restore the latest backup" in err
        assert _digests(db) == before


def test_a_damaged_database_is_restored_from_its_backup_and_served(tmp_path):
    db = _closed(tmp_path, 3)
    backup = str(tmp_path / "backup.db")
    cli = [sys.executable, "-m", "lostcard_cpython.cli", "collector"]
    subprocess.run(cli + ["backup", "--db", db, "--out", backup], check=True, timeout=60)
    with open(db, "r+b") as f:  # the database's first page header, damaged
        f.seek(100)
        f.write(b"\xff" * 8)
    _refused(tmp_path, db)
    done = subprocess.run(cli + ["restore", "--db", db, "--from", backup], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "%d incidents from 3 terminals" % (BATCHES * PER_BATCH) \
        in done.stdout, done.stderr
    aside = [n for n in os.listdir(tmp_path) if n.startswith("c.db.replaced-")]
    assert aside and all(n.endswith(("Z", "Z" + COMMITS_SUFFIX)) for n in aside)  # kept
    proc, port = _serve(tmp_path, db)  # no --accept-loss: the backup's commits are the count
    try:
        assert _health(port).status_code == 200
    finally:
        _stop(proc)
    store = SqliteStore(db, readonly=True)
    try:
        assert store.stats()["incidents"] == BATCHES * PER_BATCH
    finally:
        store.close()


def test_a_wal_damaged_after_a_crash_is_seen_and_refused(tmp_path):
    db = _crashed(tmp_path, random.Random(2))
    _flip(db + "-wal", -1)
    # the finding: SQLite ends the log at the bad frame, silently; its own check sees nothing
    with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as con:
        seen = con.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]
        assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    assert seen < BATCHES * PER_BATCH
    before = _digests(db)
    err = _refused(tmp_path, db)
    assert "but its collector acknowledged %d" % BATCHES in err, err
    assert "--accept-loss" in err and "restore the latest backup" in err
    assert _digests(db) == before  # the log kept as it was, for whoever salvages it

    proc, port = _serve(tmp_path, db, "--accept-loss")  # the operator serves on
    try:
        assert _health(port).json() == {"status": "ok"}
    finally:
        err = _stop(proc)
    assert "serving on with --accept-loss" in err and "Traceback" not in err, err
    store = SqliteStore(db, readonly=True)
    store.check()  # the mirror follows the database from then on: the next start is plain
    assert store.stats()["incidents"] == seen
    store.close()


def _flip(wal_path, frame):
    """One bit in the page of the log's `frame`-th frame (of -1: the middle one)."""
    with open(wal_path, "r+b") as f:
        wal = f.read()
        page = struct.unpack(">I", wal[8:12])[0]
        if frame < 0:
            frame = (len(wal) - 32) // (24 + page) // 2
        at = 32 + frame * (24 + page) + 24 + 100
        f.seek(at)
        f.write(bytes([wal[at] ^ 1]))


def test_a_young_database_whose_log_lost_its_tables_says_so(tmp_path):
    db = _crashed(tmp_path, random.Random(6))  # never checkpointed: its tables are in the log
    _flip(db + "-wal", 1)
    before = _digests(db)
    for options in ((), ("--accept-loss",)):
        err = _refused(tmp_path, db, *options)
        assert "yet its collector acknowledged %d commits" % BATCHES in err, err
        assert _digests(db) == before


def test_a_crash_with_the_log_intact_loses_nothing_and_starts(tmp_path):
    db = _crashed(tmp_path, random.Random(3))
    proc, port = _serve(tmp_path, db)
    try:
        assert _health(port).json() == {"status": "ok"}
    finally:
        _stop(proc)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == \
            BATCHES * PER_BATCH


def test_a_write_that_fails_while_serving_gets_503_acknowledges_nothing_and_recovers(tmp_path):
    db = str(tmp_path / "collector.db")
    proc, port = _serve(tmp_path, db)
    url = "http://127.0.0.1:%d" % port
    try:
        assert _health(port).status_code == 200
        q, seqs = _device(tmp_path, "T-FULL-1")
        up = _uploader(q, url, timeout=10)
        assert up.step() > 0
        stored = _stored(db, q.device_id)
        pending = _pending(q)
        # the disk fills: no write of the collector's may reach past the first KiB of a file
        soft, hard = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1024, hard))
        for _ in range(3):
            with pytest.raises(SyncError, match="answered 503"):
                up.step()
        assert _pending(q) == pending and _stored(db, q.device_id) == stored  # nothing acked
        health = _health(port)
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "degraded"
        assert health.json()["reason"].startswith("storage: "), health.text
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (soft, hard))  # room again
        assert _health(port).json() == {"status": "ok"}  # its probe wrote
        while up.step():
            pass
        assert _pending(q) == [] and _stored(db, q.device_id) == sorted(seqs)
    finally:
        err = _stop(proc)
    assert "Traceback" not in err and "Error" not in err, err
    assert len([line for line in err.splitlines() if "not stored" in line]) == 1, err


def test_a_backup_under_writes_is_one_consistent_snapshot_then_equals_the_database(tmp_path):
    db = str(tmp_path / "c.db")
    store = SqliteStore(db)
    rng = random.Random(4)
    _write(store, rng, batches=5)
    stop = threading.Event()

    def writing():
        batch = 5
        while not stop.is_set():
            _write(store, rng, batches=1, first=batch)
            batch += 1

    writer = threading.Thread(target=writing)
    writer.start()
    try:
        backups = []
        for n in range(3):
            out = str(tmp_path / ("backup-%d.db" % n))
            proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector",
                                   "backup", "--db", db, "--out", out], capture_output=True,
                                  timeout=60)
            assert proc.returncode == 0, proc.stderr
            backups.append((out, proc.stdout.decode()))
    finally:
        stop.set()
        writer.join()
    rows = store.incident_rows()
    taken = []
    for out, said in backups:
        copy = SqliteStore(out, readonly=True)
        commits = int(copy.db.execute("SELECT value FROM meta WHERE key = 'commits'"
                                      ).fetchone()[0])
        held = copy.incident_rows()
        copy.close()
        # a commit boundary, each row as the database holds it
        assert len(held) == commits * PER_BATCH, out
        assert held == [r for r in rows if r in set(held)], out
        taken.append(commits)
        assert "%d incidents from 3 terminals, %d commits; checked" % (len(held), commits) \
            in said, said
        assert os.stat(out).st_mode & 0o777 == 0o600
        assert not os.path.exists(out + "-wal") and not os.path.exists(out + "-shm")
    assert taken == sorted(set(taken)), taken  # each backup while the writer went on
    final = str(tmp_path / "final.db")
    assert subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "backup",
                           "--db", db, "--out", final], capture_output=True,
                          timeout=60).returncode == 0
    store.close()
    copy, held = SqliteStore(final, readonly=True), SqliteStore(db, readonly=True)
    assert copy.incident_rows() == rows and copy.stats() == held.stats()
    copy.close()
    held.close()


def test_a_restored_backup_is_not_served_silently(tmp_path):
    db = str(tmp_path / "c.db")
    store = SqliteStore(db)
    store.fleet_fingerprint(claim=_fingerprint())
    rng = random.Random(5)
    _write(store, rng, batches=4)
    backup = str(tmp_path / "midday.db")
    assert store.backup(backup)[:1] == (4 * PER_BATCH,)
    _write(store, rng, batches=3, first=4)
    store.close()
    # the restore docs/SYNC.md gives: the collector stopped, the copy over the database
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copy(backup, db)
    err = _refused(tmp_path, db)
    assert "holds 4 commits but its collector acknowledged 7" in err, err
    proc, port = _serve(tmp_path, db, "--accept-loss")
    try:
        assert _health(port).json() == {"status": "ok"}
    finally:
        _stop(proc)
