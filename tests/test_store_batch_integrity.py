"""Both stores' integrity under a batch that repeats a number, and durability on PostgreSQL.

1. A batch may carry the same sequence number twice (intake.decode_batch checks neither order
   nor uniqueness; Collector.check only that each record's number matches its IV): both stores
   quarantine the second, different record ("sequence number reused"), never acknowledge it
   lost (one INSERT .. SELECT unnest .. RETURNING lists a key once).
2. "Nothing is acknowledged before its commit returned ... durably": the PostgreSQL store's
   connections commit with synchronous_commit=on whatever the database's (or role's, or
   server's) default, as SQLite's store sets synchronous=FULL itself.
"""

import psycopg

from lostcard_cpython.collector_store import open_store

DEVICE = "T-REV-1"


def _row(seq, sealed):
    return (DEVICE, seq, 1700000000, "c", "s", "a", 1, None, "0042", "p", 0, sealed)


def _same_number_twice(db):
    store = open_store(db)
    try:
        count = store.store_batch(DEVICE, [_row(7, b"first record 7"), _row(7, b"second 7")],
                                  [], None, 0, 1, 7)
        return count, store.stats()["quarantined"]
    finally:
        store.close()


def test_sqlite_quarantines_a_second_record_under_one_number_in_a_batch(tmp_path):
    assert _same_number_twice(str(tmp_path / "c.db")) == (1, 1)


def test_postgresql_quarantines_a_second_record_under_one_number_in_a_batch(
        pg_url):
    assert _same_number_twice(pg_url) == (1, 1)  # was (0, 0): the record gone


def test_postgresql_commits_are_durable_whatever_the_database_default(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as admin:
        dbname = admin.info.dbname
        admin.execute('ALTER DATABASE "%s" SET synchronous_commit = off' % dbname)
    store = open_store(pg_url)
    try:
        store.store_batch(DEVICE, [_row(1, b"one")], [], None, 0, 1, 1)
        with store._connection() as db:  # the connection the store commits batches on
            assert db.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    finally:
        store.close()
