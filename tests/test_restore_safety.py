"""`collector restore` is safe (README, docs/SYNC.md "Restore"): the database it replaces is moved
aside under a name no file has, never deleted, even by two restores within one second (a script,
or an operator who restored the wrong backup and at once restores the right one); what it installs
is the backup it checked and counted (through the backup's log); every side file of the old
database goes aside, even with the database itself gone; and a --db that is a directory or not
a database is refused, never moved."""

import os
import random
import time

from lostcard_cpython import collector_restore
from lostcard_cpython.collector_store import SqliteStore

from test_storage_faults import _closed, _write, _fingerprint


def _db(path, seed, batches):
    store = SqliteStore(str(path))
    store.fleet_fingerprint(claim=_fingerprint())
    _write(store, random.Random(seed), batches=batches)
    store.close()
    return str(path)


def _incidents(db):
    store = SqliteStore(db, readonly=True)
    try:
        return store.stats()["incidents"]
    finally:
        store.close()


def test_two_restores_in_one_second_keep_the_original_database(tmp_path, monkeypatch):
    db = _closed(tmp_path, 7)  # the live database: 300 incidents
    original = _incidents(db)
    wrong = _db(tmp_path / "wrong.db", 8, 3)   # 30 incidents
    right = _db(tmp_path / "right.db", 9, 10)  # 100 incidents
    frozen = time.gmtime()
    monkeypatch.setattr(collector_restore.time, "gmtime", lambda *a: frozen)  # one second
    _, _, first_aside = collector_restore.restore(db, wrong)
    _, _, second_aside = collector_restore.restore(db, right)
    assert first_aside != second_aside, "both restores moved their database to %s" % first_aside
    # nothing is deleted: the database as it was before the first restore is still somewhere
    assert _incidents(first_aside) == original


def test_a_restore_installs_the_database_it_checked_and_reported(tmp_path):
    """`--from` a database whose write-ahead log still holds its commits (the database a restore
    moved aside after a crash, "a damaged log there can still be salvaged", restored back; a
    copy of a crashed collector's files): restore checks and counts it through its log (300
    incidents, printed), then copies the main file alone. The collector's database is then not
    what was checked: here not a collector database at all."""
    from test_storage_faults import _crashed

    source = _crashed(tmp_path, random.Random(5))  # its 300 incidents are in its -wal
    db = str(tmp_path / "collector.db")
    incidents, terminals, _ = collector_restore.restore(db, source)
    assert (incidents, terminals) == (300, 3)  # what the command prints
    assert _incidents(db) == incidents


def _rows(db):
    store = SqliteStore(db, readonly=True)
    try:
        return store.db.execute("SELECT device, seq, sealed FROM incidents ORDER BY device, seq"
                                ).fetchall()
    finally:
        store.close()


def test_a_restore_where_only_the_log_of_the_old_database_is_left_installs_the_backup(tmp_path):
    """The operator removed the damaged collector.db (or lost it) but its -wal (and -commits)
    are still there, as a crash leaves them. restore only moves side files aside when the
    database itself exists: the backup is copied in beside the old database's write-ahead log,
    which SQLite then replays onto it. What the collector serves is not the backup (every
    incident differs), and nothing says so."""
    from test_storage_faults import _crashed

    (tmp_path / "b").mkdir()
    backup = _closed(tmp_path / "b", 4)
    db = _crashed(tmp_path, random.Random(5))  # its commits in its -wal
    os.remove(db)
    collector_restore.restore(db, backup)
    assert _rows(db) == _rows(backup)


def test_restore_refuses_a_db_that_is_a_directory_or_not_a_database(tmp_path):
    """`--db lostcard-demo` (the state directory, collector.db forgotten) or `--db fleet.secret`
    (the neighbouring file): every other collector command says "... is a directory, not a
    collector database" / "is not a collector database", exit 2. restore instead moves the
    directory (fleet secret, terminal queues and all) or the file aside and puts a database in
    its place, exit 0: its fleet check is skipped for a database "too damaged to tell"."""
    import subprocess
    import sys

    backup = _closed(tmp_path, 6)
    state = tmp_path / "lostcard-demo"
    state.mkdir()
    (state / "fleet.secret").write_text("11" * 32)
    secret = tmp_path / "fleet.secret"
    secret.write_text("22" * 32)
    for target in (state, secret):
        done = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector",
                               "restore", "--db", str(target), "--from", backup],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (target, done.stdout)
        assert len(done.stderr.splitlines()) == 1, done.stderr
    assert (state / "fleet.secret").read_text() == "11" * 32
    assert secret.read_text() == "22" * 32
