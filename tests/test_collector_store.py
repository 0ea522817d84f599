"""The collector's store owns every query: nothing else in the code speaks SQL (SQLite's and
PostgreSQL's stores behind the same interface), and its reads serve the report, the demo and the
benchmarks as they served them when each queried the schema itself. Each test that holds for
both backends runs on both (new_db, tests/pg.py)."""

import re
from pathlib import Path

import pytest

from lostcard_cpython import paths
from lostcard_cpython.collector_store import (COLUMNS, DatabaseError, NotACollectorDatabase,
                                              SqliteStore, is_url, open_store)
from pg import query
from test_report import PLAN, build_db

STORES = ("collector_store.py", "collector_store_pg.py")
SQL = re.compile(r"\bimport sqlite3\b|\bsqlite3\.|\.execute(many|script)?\(")


def test_no_module_but_the_store_speaks_sql():
    offenders = []
    for root in (paths.CORE, paths.PORT_MPY, paths.ROOT / "port_cpython"):
        for path in sorted(Path(root).rglob("*.py")):
            if path.name not in STORES and SQL.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(paths.ROOT)))
    assert offenders == []


def test_the_pattern_finds_sql():
    assert SQL.search("    rows = db.execute('SELECT 1')") and SQL.search("import sqlite3")
    assert not SQL.search("store.incident_rows()")


def test_reads_and_the_bare_insert(new_db):
    db = new_db()
    build_db(db)
    store = open_store(db, readonly=True)
    rows = store.incident_rows()
    held = store.sequences()
    incidents, quarantine, gaps = store.report_snapshot()
    store.close()
    assert len(rows) == len(PLAN) and all(len(row) == len(COLUMNS) for row in rows)
    assert sorted((d, s) for d, seqs in held.items() for s in seqs) == [r[:2] for r in rows]
    assert [(i[0], i[7]) for i in incidents] == [(r[0], r[11]) for r in rows]
    assert [q[0] for q in quarantine] == ["T-SHOP-1"] and [g[0] for g in gaps] == [
        d for d in sorted(held)]

    bare = open_store(new_db("bare"))
    bare.insert_rows(rows[:5])
    bare.insert_rows(rows)  # rows already held are ignored, as a bare INSERT OR IGNORE does
    assert bare.incident_rows() == rows
    bare.close()


def test_a_reader_creates_nothing_and_writes_nothing(new_db):
    absent = new_db("absent")
    with pytest.raises(NotACollectorDatabase, match="no collector database"):
        open_store(absent, readonly=True)
    if is_url(absent):  # an empty database: still without a table
        assert query(absent, "SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = 'public'") == []
    else:
        assert not Path(absent).exists()
    db = new_db()
    open_store(db).close()
    reader = open_store(db, readonly=True)
    with pytest.raises(DatabaseError):
        reader.insert_rows([("T-1", 1, None, "c", "s", "a", 1, None, None, "p", 0, b"x")])
    reader.close()


def test_the_quarantine_keeps_bytes_up_to_its_bounds_and_counts_the_rest_once(new_db,
                                                                            monkeypatch):
    from lostcard_cpython import collector_store

    monkeypatch.setattr(collector_store, "QUARANTINE_PER_DEVICE", 3)
    monkeypatch.setattr(collector_store, "QUARANTINE_TOTAL", 5)
    db = new_db()
    store = open_store(db)

    def bad(device, n):  # what Collector.ingest hands over for a record that failed
        sealed = b"%s record %d" % (device.encode(), n)
        return (device, bytes([n]) * 32, "authentication failed", sealed)

    assert store.store_batch("T-1", [], [bad("T-1", n) for n in range(5)], None) == 5
    store.store_batch("T-1", [], [bad("T-1", n) for n in range(5)], None)  # a replay
    store.store_batch("T-2", [], [bad("T-2", n) for n in range(4)], None)
    stats = store.stats()
    store.close()
    kept = dict(query(db, "SELECT device, COUNT(*) FROM quarantine WHERE length(sealed) > 0 "
                          "GROUP BY device"))
    assert kept == {"T-1": 3, "T-2": 2}  # 3 per terminal, 5 in all
    assert stats["quarantined"] == 9 and stats["quarantine_bytes_dropped"] == 4  # each once
    assert stats["quarantine_bounds"] == {"per_device": 3, "total": 5,
                                          "rows_per_device": collector_store.QUARANTINE_ROWS_PER_DEVICE}


def test_a_new_database_is_readable_by_its_owner_alone(tmp_path):
    store = SqliteStore(str(tmp_path / "c.db"))
    store.store_batch("T-1", [], [], [0, 0, 0, 0])
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    store.close()
    assert modes and set(modes.values()) == {0o600}, modes
