"""`lostcard bench sync`'s comparison: both servers really store what the load generator sent,
and the collector's replies are acknowledgements that verify."""

import sqlite3

import pytest

from lostcard_cpython.bench import harness, sync


def _rows(db):
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT device, seq FROM incidents").fetchall())


def test_both_servers_store_every_incident_once_and_the_collectors_acks_verify(tmp_path,
                                                                               monkeypatch):
    monkeypatch.setattr(sync, "REPEATS", 1)
    secret_file = tmp_path / "fleet.secret"
    secret_file.write_text(sync.SECRET.hex())
    sealed = {"BENCH-%d" % n: sync._sealed("BENCH-%d" % n, 9) for n in range(3)}
    collector, plain = sync._compare(str(tmp_path), str(secret_file), sealed, 7, 27)
    assert collector > 0 and plain > 0
    sent = sorted((d, seq) for d, items in sealed.items() for seq, _ in items)
    assert _rows(tmp_path / "collector-7-0.db") == sent == _rows(tmp_path / "plain-7-0.db")


def test_a_reply_that_is_not_the_collectors_ack_fails_the_bench(tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "REPEATS", 1)
    monkeypatch.setattr(sync, "SECRET", bytes(range(32)))  # the terminals': another fleet
    secret_file = tmp_path / "fleet.secret"
    secret_file.write_text(bytes(32).hex())
    sealed = {"BENCH-0": sync._sealed("BENCH-0", 7)}
    with pytest.raises(harness.Failed, match="not acknowledgements"):
        sync._compare(str(tmp_path), str(secret_file), sealed, 7, 7)


def test_the_end_to_end_rates_are_measured_on_both_clients_and_every_record_is_stored(tmp_path):
    """The MicroPython client's rate is measured where the heap is not the limit, and whether it
    also completes at the device budget is said beside it, never in its place."""
    secret_file = tmp_path / "fleet.secret"
    secret_file.write_text(sync.SECRET.hex())
    rows = dict(sync._end_to_end(str(tmp_path), str(secret_file), 12))
    assert float(rows["end to end, CPython client (records/s)"]) > 0
    assert float(rows["end to end, MicroPython client (records/s)"]) > 0
    at_budget = rows["MicroPython client completes at -X heapsize=64K"]
    assert at_budget == "yes" or at_budget.startswith("NO (MemoryError"), at_budget
    stored = _rows(tmp_path / "e2e.db")
    for device in ("BENCH-C", "BENCH-M512K") + (("BENCH-M64K",) if at_budget == "yes" else ()):
        assert [seq for d, seq in stored if d == device] == list(range(1, 13)), device
