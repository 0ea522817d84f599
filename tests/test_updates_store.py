"""The store's side of updates (docs/SYNC.md "Updates"), on both backends: published objects and
their versions, what each terminal says it runs, the terminals behind, and the migration of a
database from before updates."""

import threading

import pytest

from lostcard_cpython.collector_store import NotACollectorDatabase, is_url, open_store
from lostcard_cpython.collector_store_pg import SCHEMA_VERSION
from pg import query

POLICY, WATCHLIST = 1, 2


def _store(new_db):
    return open_store(new_db())


def test_versions_count_per_kind_from_one_and_bodies_stay(new_db):
    store = _store(new_db)
    try:
        assert store.newest_versions() == {POLICY: 0, WATCHLIST: 0}
        assert [store.publish(POLICY, b'{"name":"a"}'), store.publish(WATCHLIST, b"w" * 16),
                store.publish(POLICY, b'{"name":"b"}')] == [1, 1, 2]
        assert store.newest_versions() == {POLICY: 2, WATCHLIST: 1}
        assert store.published(POLICY, 1) == b'{"name":"a"}'
        assert store.published(POLICY, 2) == b'{"name":"b"}'
        assert store.published(WATCHLIST, 2) is None and store.published(3, 1) is None
    finally:
        store.close()


def test_terminal_state_from_batches_and_fetches_and_behind_counts(new_db):
    db = new_db()
    store = open_store(db)
    try:
        assert store.behind_counts() == {"policy": 0, "watchlist": 0}
        store.publish(POLICY, b"{}")
        store.publish(POLICY, b"{}")
        store.publish(WATCHLIST, b"w" * 16)
        # a batch with key 7, in the batch's own transaction; one without says nothing
        store.store_batches([("T-A", 0, [], [], None, 1, 5, [1, 0, [WATCHLIST, 1, "unsorted"]]),
                             ("T-OLD", 0, [], [], None, 1, 5)])
        store.record_updates("T-B", 2, [0, 1, None])  # a fetch
        states = {s["device"]: s for s in store.terminal_states()}
        assert sorted(states) == ["T-A", "T-B"]
        assert (states["T-A"]["policy"], states["T-A"]["watchlist"]) == (1, 0)
        assert (states["T-A"]["refused_kind"], states["T-A"]["refused_version"],
                states["T-A"]["refused_reason"]) == (WATCHLIST, 1, "unsorted")
        assert states["T-B"]["refused_kind"] is None and states["T-B"]["incarnation"] == 2
        assert store.behind_counts() == {"policy": 2, "watchlist": 1}
        assert store.incarnation_of("T-B") == 2 and store.incarnation_of("T-A") == 0
        assert store.incarnation_of("T-NONE") == 0

        # the same refusal again keeps its time; none keeps the last; a new one replaces it
        first = states["T-A"]["refused_at"]
        query(db, "UPDATE terminals SET refused_at = ? WHERE device = 'T-A'",
              (first - 100,))
        store.record_updates("T-A", 0, [1, 0, [WATCHLIST, 1, "unsorted"]])
        store.record_updates("T-A", 0, [1, 1, None])
        [a] = [s for s in store.terminal_states() if s["device"] == "T-A"]
        assert a["refused_at"] == first - 100 and a["watchlist"] == 1
        store.record_updates("T-A", 0, [1, 1, [POLICY, 2, "x" * 60]])
        [a] = [s for s in store.terminal_states() if s["device"] == "T-A"]
        assert (a["refused_kind"], a["refused_version"], a["refused_reason"]) == (
            POLICY, 2, "x" * 48)
        assert store.behind_counts() == {"policy": 2, "watchlist": 0}  # T-B still is
    finally:
        store.close()


def test_two_publishers_at_once_take_distinct_versions(new_db):
    db = new_db()
    open_store(db).close()
    stores = [open_store(db) for _ in range(4)]
    got, start = [], threading.Barrier(len(stores))

    def publish(store):
        start.wait()
        for _ in range(5):
            got.append(store.publish(WATCHLIST, b"w" * 16))

    threads = [threading.Thread(target=publish, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(got) == list(range(1, 21))


def test_a_database_from_before_updates_is_migrated_by_the_collector_only(new_db):
    db = new_db()
    store = open_store(db)
    store.store_batches([("T-A", 0, [], [], None, 1, 5)])
    store.close()
    query(db, "DROP TABLE published")  # as the previous release left it
    query(db, "DROP TABLE terminals")
    if is_url(db):
        query(db, "UPDATE schema_version SET version = 1")
    with pytest.raises(NotACollectorDatabase, match="older release|schema version 1"):
        open_store(db, readonly=True)
    store = open_store(db)  # the collector's: brought up to this release
    try:
        assert store.newest_versions() == {POLICY: 0, WATCHLIST: 0}
        assert store.publish(POLICY, b"{}") == 1
        assert store.incarnation_of("T-A") == 0
    finally:
        store.close()
    reader = open_store(db, readonly=True)
    assert reader.behind_counts() == {"policy": 0, "watchlist": 0}
    reader.close()
    if is_url(db):
        assert query(db, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_request_replayed_from_the_link_rolls_nothing_back(new_db):
    """Within an incarnation the versions only grow and a refusal is taken the first time it is
    reported (terminal_row, table refusals): an older fetch or batch sent again names older
    versions and a refusal already reported, and changes neither; a refusal of a version never
    published is not one a terminal made; an older incarnation's request changes nothing; a
    newer incarnation starts over."""
    store = open_store(new_db())
    try:
        for kind, count in ((POLICY, 2), (WATCHLIST, 5)):
            for _ in range(count):
                store.publish(kind, b"{}")
        f1 = [0, 0, [WATCHLIST, 2, "unsorted"]]
        store.record_updates("T-R", 1, f1)
        store.record_updates("T-R", 1, [0, 0, [POLICY, 1, "not JSON"]])
        store.record_updates("T-R", 1, [3, 4, None])
        for old in (f1, [3, 1, [WATCHLIST, 4, "cut"]], [0, 0, [WATCHLIST, 9, "never"]]):
            store.record_updates("T-R", 1, old)
        store.record_updates("T-R", 0, [9, 9, [POLICY, 2, "from before"]])
        [r] = store.terminal_states()
        assert (r["incarnation"], r["policy"], r["watchlist"], r["refused_kind"],
                r["refused_version"], r["refused_reason"]) == (1, 3, 4, POLICY, 1, "not JSON")
        store.record_updates("T-R", 1, [3, 4, [WATCHLIST, 5, "unsorted"]])  # a new refusal
        store.record_updates("T-R", 2, [0, 0, None])  # provisioned again: nothing installed
        [r] = store.terminal_states()
        assert (r["incarnation"], r["policy"], r["watchlist"], r["refused_version"]) == (
            2, 0, 0, 5)
    finally:
        store.close()
