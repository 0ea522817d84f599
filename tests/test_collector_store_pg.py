"""What PostgreSQL adds to the store: several writers at once (processes, here threads with a
connection each), the schema's version, a server that goes away and comes back, and URLs that
cannot connect (one line, exit 2, never a password)."""

import hashlib
import subprocess
import sys
import threading

import pytest
from psycopg import errors as pg_errors

from lostcard_cpython import collector_store_pg
from lostcard_cpython.collector_store import DatabaseError, NotACollectorDatabase, open_store
from lostcard_cpython.collector_store import without_password
from lostcard_cpython.collector_store_pg import SCHEMA_VERSION
from lostcard_cpython.local_collector import free_port
from lostcard_cpython.throwaway_pg import ThrowawayPostgres
from pg import query

DEVICE = "T-PG-1"


def _row(seq, sealed=None):
    sealed = sealed or b"sealed %d" % seq
    return (DEVICE, seq, 1700000000 + seq, "c", "s", "a", 1, None, "0042", "p", 0, sealed)


def _together(n, work):
    """work(i) in n threads started at once; their exceptions, raised."""
    start, failures = threading.Barrier(n), []

    def run(i):
        start.wait()
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def test_writers_of_one_device_at_once_store_each_incident_once_and_keep_its_state(pg_url):
    open_store(pg_url).close()
    writers = [open_store(pg_url) for _ in range(4)]
    reused = _row(7, b"another record under 7")

    def write(i):  # overlapping batches of the same records, growing gaps, a reused number
        store = writers[i]
        for start in range(0, 60, 5):
            batch = [_row(seq) for seq in range(start + i, start + i + 10)]
            store.store_batch(DEVICE, batch, [], [i, start, 0, 0, i], 0, 3, batch[-1][1])
        store.store_batch(DEVICE, [reused], [(DEVICE, bytes([i]) * 32, "authentication failed",
                                              b"junk %d" % i)], [0, 0, i, 0])
    _together(len(writers), write)
    stats, high = writers[0].stats(), writers[0].high_water(DEVICE, 0)
    for store in writers:
        store.close()
    seqs = [s for (s,) in query(pg_url, "SELECT seq FROM incidents ORDER BY seq")]
    assert seqs == list(range(0, 55 + len(writers) + 9))  # each once
    assert query(pg_url, "SELECT sealed FROM incidents WHERE seq = 7") == [(b"sealed 7",)]
    assert query(pg_url, "SELECT evicted_1, evicted_2, evicted_3, corrupt, lost FROM gaps") == [
        (3, 55, 3, 0, 3)]  # each count the highest any batch said
    assert high == [0, 0, seqs[-1]]  # the lane's high-water too
    # 4 distinct bad records and one reused number (its digest the same from every writer)
    assert query(pg_url, "SELECT kept, rows, dropped FROM quarantine_held") == [(5, 5, 0)]
    assert stats["quarantined"] == 5 and stats["incidents"] == len(seqs)


def test_collectors_starting_at_once_create_the_schema_once(pg_url):
    _together(4, lambda i: open_store(pg_url).close())
    assert query(pg_url, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_deadlocked_transaction_is_run_again(pg_url, monkeypatch):
    store = open_store(pg_url)
    real, runs = store._store, []

    def deadlocks_once(*args):
        runs.append(1)
        if len(runs) == 1:  # what PostgreSQL raises on one of two crossed transactions
            raise pg_errors.DeadlockDetected("deadlock detected")
        return real(*args)
    monkeypatch.setattr(store, "_store", deadlocks_once)
    assert store.store_batch(DEVICE, [_row(1)], [], [0, 0, 0, 0]) == 0
    store.close()
    assert len(runs) == 2 and query(pg_url, "SELECT seq FROM incidents") == [(1,)]


def test_readers_refuse_a_schema_of_another_version_and_serve_upgrades_none_it_cannot(pg_url):
    open_store(pg_url).close()
    query(pg_url, "UPDATE schema_version SET version = 0")
    with pytest.raises(NotACollectorDatabase, match="run `lostcard collector serve`"):
        open_store(pg_url, readonly=True)
    query(pg_url, "UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(NotACollectorDatabase, match="the release that wrote it"):
        open_store(pg_url, readonly=True)
    with pytest.raises(NotACollectorDatabase, match="from a newer release"):
        open_store(pg_url)
    with pytest.raises(NotACollectorDatabase, match="from a newer release"):
        open_store(pg_url, readonly=True, any_release=True).check()  # serve's start-up check


def test_a_server_that_goes_away_fails_the_call_and_the_next_call_after_it_returns_works():
    server = ThrowawayPostgres()
    try:
        url = server.create_database("away")
        store = open_store(url)
        store.store_batch(DEVICE, [_row(1)], [], None)
        server.stop()
        for _ in range(2):  # an error each time, never a hang
            with pytest.raises(DatabaseError):
                store.store_batch(DEVICE, [_row(2)], [], None)
            with pytest.raises(DatabaseError):
                store.health()
        server.start()
        store.health()
        store.store_batch(DEVICE, [_row(2)], [], None)
        assert store.sequences() == {DEVICE: [1, 2]}
        store.close()
    finally:
        server.close()


def test_the_store_names_its_url_without_the_password():
    assert without_password("postgresql://fleet:s3cret@db.example:5432/lostcard?password=x&sslmode=require"
                    ) == "postgresql://fleet@db.example:5432/lostcard?sslmode=require"
    assert without_password("postgres://db/lostcard") == "postgres://db/lostcard"


@pytest.mark.parametrize("command", [["stats"], ["incidents"], ["serve"], ["report"]])
def test_a_url_that_cannot_connect_is_one_line_and_exit_2(tmp_path, command):
    secret = tmp_path / "fleet.secret"
    secret.write_text("ab" * 32)
    url = "postgresql://fleet:s3cret@127.0.0.1:9/lostcard"  # nothing listens on port 9
    extra = ["--fleet-secret-file", str(secret)] if command[0] in ("serve", "report") else []
    if command == ["serve"]:
        extra += ["--port", str(free_port())]
    done = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", *command,
                           "--db", url, *extra], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("lostcard: cannot use "
                                                                   "postgresql://fleet@")
    assert "s3cret" not in done.stderr and done.stdout == ""


def test_every_store_method_of_sqlite_is_postgresqls_too():
    from lostcard_cpython.collector_store import SqliteStore

    public = lambda cls: {n for n in vars(cls) if not n.startswith("_")}
    # backup, and the commit count restore checks a backup by, are SQLite's files; PostgreSQL's
    # backups are pg_dump and base backups (README)
    assert public(SqliteStore) - {"backup", "checked_commits"} <= public(collector_store_pg.PgStore)


def test_a_quarantined_record_is_kept_once_whoever_stores_it(pg_url):
    store = open_store(pg_url)
    bad = (DEVICE, hashlib.sha256(b"x").digest(), "authentication failed", b"x")
    assert store.store_batch(DEVICE, [], [bad], None) == 1
    assert store.store_batch(DEVICE, [], [bad], None) == 1  # counted as quarantined, kept once
    store.close()
    assert query(pg_url, "SELECT COUNT(*) FROM quarantine") == [(1,)]


def test_the_postgresql_benchmark_stores_every_incident_once():
    import io

    from lostcard_cpython.bench.postgres import CLIENTS, run

    out = io.StringIO()
    run(out, records=10 * CLIENTS)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("PostgreSQL 1") and len(lines) == 7, lines
    assert [line.count("stored %d of %d, each once" % (10 * CLIENTS, 10 * CLIENTS))
            for line in lines[-2:]] == [1, 1]
