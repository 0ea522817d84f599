"""`collector stats` beside a serving collector reads one snapshot on SQLite as on PostgreSQL
(REPEATABLE READ): a commit landing between two of its statements (made to here) does not tear
the numbers: by_cause sums to incidents (and quarantine_reasons to quarantined)."""

from lostcard_cpython.collector_store import open_store


def _row(seq, cause):
    return ("T-STATS", seq, 1700000000, cause, "s", "a", 1, None, "0042", "p", 0, b"s %d" % seq)


class _CommitBetween:
    """The reader's connection; before its second statement the collector commits a batch."""

    def __init__(self, real, commit):
        self.real, self.commit, self.calls = real, commit, 0

    def execute(self, *args):
        self.calls += 1
        if self.calls == 2:
            self.commit()
        return self.real.execute(*args)


def test_sqlite_stats_is_one_snapshot(tmp_path):
    db = str(tmp_path / "c.db")
    writer = open_store(db)  # the serving collector: its -wal makes the reader a live one
    writer.store_batch("T-STATS", [_row(1, "fraud"), _row(2, "fraud")], [], None)
    reader = open_store(db, readonly=True)
    reader.db = _CommitBetween(reader.db, lambda: writer.store_batch(
        "T-STATS", [_row(3, "fraud")], [], None))
    try:
        stats = reader.stats()
    finally:
        reader.db.real.close()
        writer.close()
    assert sum(stats["by_cause"].values()) == stats["incidents"], stats
