"""The collector's store owns every query: nothing else in the code speaks SQL (a server database
is to follow behind the same interface), and its reads serve the report, the demo and the
benchmarks as they served them when each queried the schema itself."""

import re
import sqlite3
from pathlib import Path

import pytest

from lostcard_cpython import paths
from lostcard_cpython.collector_store import COLUMNS, NotACollectorDatabase, SqliteStore
from test_report import PLAN, build_db

SQL = re.compile(r"\bimport sqlite3\b|\bsqlite3\.|\.execute(many|script)?\(")


def test_no_module_but_the_store_speaks_sql():
    offenders = []
    for root in (paths.CORE, paths.PORT_MPY, paths.ROOT / "port_cpython"):
        for path in sorted(Path(root).rglob("*.py")):
            if path.name != "collector_store.py" and SQL.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(paths.ROOT)))
    assert offenders == []


def test_the_pattern_finds_sql():
    assert SQL.search("    rows = db.execute('SELECT 1')") and SQL.search("import sqlite3")
    assert not SQL.search("store.incident_rows()")


def test_reads_and_the_bare_insert(tmp_path):
    build_db(tmp_path / "c.db")
    store = SqliteStore(str(tmp_path / "c.db"), readonly=True)
    rows = store.incident_rows()
    held = store.sequences()
    incidents, quarantine, gaps = store.report_snapshot()
    store.close()
    assert len(rows) == len(PLAN) and all(len(row) == len(COLUMNS) for row in rows)
    assert sorted((d, s) for d, seqs in held.items() for s in seqs) == [r[:2] for r in rows]
    assert [(i[0], i[7]) for i in incidents] == [(r[0], r[11]) for r in rows]
    assert [q[0] for q in quarantine] == ["T-SHOP-1"] and [g[0] for g in gaps] == [
        d for d in sorted(held)]

    bare = SqliteStore(str(tmp_path / "bare.db"))
    bare.insert_rows(rows[:5])
    bare.insert_rows(rows)  # rows already held are ignored, as a bare INSERT OR IGNORE does
    assert bare.incident_rows() == rows
    bare.close()


def test_a_reader_creates_nothing_and_writes_nothing(tmp_path):
    with pytest.raises(NotACollectorDatabase, match="no collector database"):
        SqliteStore(str(tmp_path / "absent.db"), readonly=True)
    assert not (tmp_path / "absent.db").exists()
    SqliteStore(str(tmp_path / "c.db")).close()
    reader = SqliteStore(str(tmp_path / "c.db"), readonly=True)
    with pytest.raises(sqlite3.OperationalError):
        reader.insert_rows([("T-1", 1, None, "c", "s", "a", 1, None, None, "p", 0, b"x")])
    reader.close()
