"""Issue-13 review, an attack kept fixed: a database made by the previous release (0644, with its
`anchors` table) is served on
as it was: still world-readable, as its -wal and -shm files then are. Issue 13 asked for
secrets and the database readable by their owner alone; only new databases are 0600.
"""

import os
import sqlite3
import stat

from lostcard_cpython.collector_store import SqliteStore

OLD_SCHEMA_EXTRA = "CREATE TABLE anchors (device TEXT PRIMARY KEY, epoch INTEGER NOT NULL);"


def test_an_old_world_readable_database_is_made_private_on_upgrade(tmp_path):
    path = str(tmp_path / "collector.db")
    old = os.umask(0o022)  # as ee06986's demo made it: 0644
    try:
        with sqlite3.connect(path) as con:
            con.executescript(OLD_SCHEMA_EXTRA)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    store = SqliteStore(path)  # the upgraded collector opens it
    store.store_batch("T-R13-MIG", [], [], [0, 0, 0, 0])
    modes = {s: oct(stat.S_IMODE(os.stat(path + s).st_mode)) for s in ("", "-wal", "-shm")
             if os.path.exists(path + s)}
    store.close()
    assert set(modes.values()) == {"0o600"}, "still readable by others: %r" % modes
