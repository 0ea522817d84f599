"""A text with NUL in a record: the checker refuses it (the record
is quarantined, on both backends); and should one reach PostgreSQL, whose text refuses NUL, that
batch fails alone, never the whole group commit beside it (every other terminal's batch answered
503) nor the sending terminal's lane for good."""

import pytest

from lostcard.collector import record_check
from lostcard.errors import RecordError
from lostcard_cpython.collector_store import DatabaseError, open_store


def _row(device, seq, policy="p1"):
    return (device, seq, 1700000000, "c", "s", "a", 1, None, "0042", policy, 0,
            b"sealed %s %d" % (device.encode(), seq))


@pytest.mark.parametrize("text", ["v1\x00", "\x00"])
def test_the_checker_refuses_a_text_with_nul(text):
    with pytest.raises(RecordError, match="not text"):
        record_check._text(text, "policy version")


def test_sqlite_stores_a_nul_policy_and_the_group_beside_it(tmp_path):
    store = open_store(str(tmp_path / "c.db"))
    store.store_batches([("T-GOOD", 0, [_row("T-GOOD", 1)], [], None, 1, 1),
                         ("T-NUL", 0, [_row("T-NUL", 1, "v1\x00")], [], None, 1, 1)])
    assert store.sequences() == {"T-GOOD": [1], "T-NUL": [1]}
    store.close()


def test_postgresql_fails_a_nul_policy_alone_and_stores_the_group_beside_it(pg_url):
    store = open_store(pg_url)
    try:
        # one group: another terminal's good batch, a record whose policy holds NUL, another good
        done = store.store_batches([("T-GOOD", 0, [_row("T-GOOD", 1)], [], None, 1, 1),
                                    ("T-NUL", 0, [_row("T-NUL", 1, "v1\x00")], [], None, 1, 1),
                                    ("T-NEXT", 0, [_row("T-NEXT", 1)], [], None, 1, 1)])
        assert done[0] == 0 and done[2] == 0 and isinstance(done[1], DatabaseError), done
        assert store.sequences() == {"T-GOOD": [1], "T-NEXT": [1]}
        assert store.high_water("T-NUL", 0) == [0, 0, 0]  # nothing of the failed batch kept
        store.store_batch("T-NUL", [_row("T-NUL", 1)], [], None, 0, 1, 1)  # its lane goes on
        assert store.sequences()["T-NUL"] == [1]
    finally:
        store.close()
