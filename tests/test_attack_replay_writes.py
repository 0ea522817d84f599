"""Issue-13 review, an attack kept fixed: a replayed genuine batch is not refused (it carries its
MAC) and, if it carries gap
counts, costs a durable write every time: the gaps row's `reported` is set again. Anyone on the
link (no keys) can make the collector fsync per replayed request; a replay should change nothing.
"""

from lostcard_cpython.collector_store import SqliteStore, open_store
from pg import query


def test_a_replayed_batch_writes_nothing(tmp_path):
    store = SqliteStore(str(tmp_path / "collector.db"))
    store.store_batch("T-R13-REPLAY", [], [], [0, 0, 3, 0])
    before = store.db.total_changes
    store.store_batch("T-R13-REPLAY", [], [], [0, 0, 3, 0])  # the same request again
    after = store.db.total_changes
    store.close()
    assert after == before, "a replay changed %d rows" % (after - before)


def test_a_replayed_batch_writes_nothing_on_postgresql(pg_url):
    store = open_store(pg_url)
    store.store_batch("T-R13-REPLAY", [], [], [0, 0, 3, 0, 1], 0, 3, 9)
    # the rows' versions: an update makes a new one (xmin), a row lock marks it (xmax)
    versions = "SELECT xmin::text, xmax::text FROM gaps UNION ALL " \
               "SELECT xmin::text, xmax::text FROM lanes"
    before = query(pg_url, versions)
    store.store_batch("T-R13-REPLAY", [], [], [0, 0, 3, 0, 1], 0, 3, 9)  # the same again
    after = query(pg_url, versions)
    store.store_batch("T-R13-REPLAY", [], [], [0, 0, 4, 0, 1], 0, 3, 9)  # a count that grew
    grown = query(pg_url, versions)
    store.close()
    assert after == before and grown != before
