"""Review 14 (pgrev): a record the checker accepts (record_check._text allows any character, so
a policy version or subcause name may hold U+0000) is stored by SQLite, but PostgreSQL's text
refuses NUL: the whole group commit fails, every other terminal's batch in it answered 503, and
the sending terminal's lane is stuck for good (its batch fails on every retry)."""

from lostcard.collector import record_check
from lostcard_cpython.collector_store import open_store


def _row(device, seq, policy="p1"):
    return (device, seq, 1700000000, "c", "s", "a", 1, None, "0042", policy, 0,
            b"sealed %s %d" % (device.encode(), seq))


def test_review14_pgrev_the_checker_accepts_a_policy_version_with_nul():
    record_check._text("v1\x00", "policy version")  # no RecordError: the collector stores it


def test_review14_pgrev_sqlite_stores_a_nul_policy_and_the_group_beside_it(tmp_path):
    store = open_store(str(tmp_path / "c.db"))
    store.store_batches([("T-GOOD", 0, [_row("T-GOOD", 1)], [], None, 1, 1),
                         ("T-NUL", 0, [_row("T-NUL", 1, "v1\x00")], [], None, 1, 1)])
    assert store.sequences() == {"T-GOOD": [1], "T-NUL": [1]}
    store.close()


def test_review14_pgrev_postgresql_stores_a_nul_policy_and_the_group_beside_it(pg_url):
    store = open_store(pg_url)
    try:
        # one group: another terminal's good batch, and a checked record whose policy holds NUL
        store.store_batches([("T-GOOD", 0, [_row("T-GOOD", 1)], [], None, 1, 1),
                             ("T-NUL", 0, [_row("T-NUL", 1, "v1\x00")], [], None, 1, 1)])
        assert store.sequences() == {"T-GOOD": [1], "T-NUL": [1]}
    finally:
        store.close()
