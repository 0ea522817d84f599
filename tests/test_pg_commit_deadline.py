""""A database that goes away raises psycopg.Error within CONNECT_TIMEOUT or
STATEMENT_TIMEOUT, never hangs" (collector_store_pg). statement_timeout does not bound a COMMIT
that waits (here for a synchronous standby that is not there; a stalled WAL fsync alike), and the
TCP timeouts do not fire on a healthy connection: store_batches never returns. In the collector
the one writer thread then holds every batch of every terminal forever (writer.commit has no
deadline), no 503 is ever answered, and /v1/health, a SELECT 1 on another connection, says ok."""

import threading
import time

import psycopg

from lostcard_cpython import collector_store_pg
from lostcard_cpython.collector_store import DatabaseError, open_store
from lostcard_cpython.throwaway_pg import ThrowawayPostgres


def _row(seq):
    return ("T-HANG", seq, 1700000000, "c", "s", "a", 1, None, "0042", "p", 0, b"s %d" % seq)


def _standbys(server, names):
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET synchronous_standby_names = '%s'" % names)
        admin.execute("SELECT pg_reload_conf()")
    for _ in range(50):  # the reload is a signal: wait until a new session sees it
        with psycopg.connect(server.url()) as db:
            if db.execute("SHOW synchronous_standby_names").fetchone()[0] == names:
                return
        time.sleep(0.1)
    raise AssertionError("configuration not reloaded")


def test_a_commit_that_cannot_finish_fails_within_the_timeouts(monkeypatch):
    monkeypatch.setattr(collector_store_pg, "STATEMENT_TIMEOUT", 2000)  # 2 s instead of 30
    server = ThrowawayPostgres()
    try:
        store = open_store(server.create_database("hang"))
        store.store_batch("T-HANG", [_row(1)], [], None)
        _standbys(server, "nobody")  # every commit now waits for a standby that never comes
        outcome = []

        def write():
            try:
                store.store_batch("T-HANG", [_row(2)], [], None)
                outcome.append("returned")
            except DatabaseError as exc:
                outcome.append(exc)
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(15)  # far past CONNECT_TIMEOUT (5 s) and the 2 s statement timeout
        hung = writer.is_alive()
        store.health()  # meanwhile the health check's query succeeds
        _standbys(server, "")  # release the waiting commit
        writer.join(30)
        store.close()
        assert not hung, "store_batch still waiting after 15 s"
    finally:
        server.close()
