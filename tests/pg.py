"""PostgreSQL for the tests: one throwaway server for the session (never a system one), a fresh
database per test, and the collector database of a test on either backend. With PostgreSQL not
installed these fixtures fail, and so do the tests that use them: no skips."""

import itertools
import sqlite3

import psycopg
import pytest

from lostcard_cpython.collector_store import is_url
from lostcard_cpython.throwaway_pg import ThrowawayPostgres

BACKENDS = ["sqlite", "postgresql"]
_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    server = ThrowawayPostgres()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server):
    """A new, empty database on the session's server."""
    return pg_server.create_database("test_%d" % next(_names))


@pytest.fixture(params=BACKENDS)
def new_db(request, tmp_path):
    """new_db(name): a new collector database of the test's backend, as `--db` takes it."""
    if request.param == "sqlite":
        return lambda name="collector": str(tmp_path / (name + ".db"))
    server = request.getfixturevalue("pg_server")
    return lambda name="collector": server.create_database("test_%d" % next(_names))


def query(db, sql, args=()):
    """The tests' own look into a collector database of either backend (`?` placeholders)."""
    if is_url(db):
        with psycopg.connect(db) as con:
            cursor = con.execute(sql.replace("?", "%s"), args)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    with sqlite3.connect(db) as con:
        return con.execute(sql, args).fetchall()
