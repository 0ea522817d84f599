"""`lostcard collector restore`: put a backup (`collector backup`) in the place of a collector's
SQLite database, with the collector stopped (docs/SYNC.md, "Restore").

Nothing is deleted: the database it replaces, with its -wal, -shm, -commits and -journal files,
is moved aside. The backup's own commit count becomes the acknowledged one, so the collector
starts on it without --accept-loss; the terminals then see its high-water behind what they were
acknowledged and send again what their retention windows hold.
"""

import fcntl
import os
import time

from lostcard.errors import LostcardError

from .collector_store import COMMITS_SUFFIX, DatabaseError, is_url, open_store

SIDE_FILES = ("-wal", "-shm", COMMITS_SUFFIX, "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"
# SQLite's WAL index: every connection holds a shared lock on this byte of the -shm file
# (the DMS lock, WAL_SHM_DMS in SQLite's source) for as long as it is open
SHM_DMS_BYTE = 128


def in_use(db):
    """True if a connection (a collector serving, a report reading) has `db` open now."""
    try:
        fd = os.open(db + "-shm", os.O_RDWR)
    except OSError:
        return False  # no WAL index: nobody has the database open in WAL mode
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def restore(db, backup):
    """Replace `db` by a copy of `backup`; return (incidents, terminals, where the replaced
    database went or None). The copy is made with SQLite's backup API from the connection that
    checked the backup (through its write-ahead log, if it has one), and counted as copied."""
    if is_url(db):
        raise LostcardError("--db names a PostgreSQL database: restore it with pg_restore or "
                            "from a base backup (README, \"A collector fleet on PostgreSQL\")")
    if os.path.exists(db) and os.path.samefile(db, backup):
        raise LostcardError("--from %s is the database itself: name the backup" % backup)
    _refuse_not_a_database(db)
    source = open_store(backup, readonly=True)
    try:
        source.checked_commits()
        fleet = source.fleet_fingerprint()
        present = [db + s for s in ("",) + SIDE_FILES if os.path.exists(db + s)]
        if present:
            if in_use(db):
                raise LostcardError("%s is open (a collector serving it?): stop the collector "
                                    "first" % db)
            held = _fingerprint(db) if os.path.exists(db) else None
            if held is not None and fleet is not None and held != fleet:
                raise LostcardError("%s belongs to another fleet secret than %s (fingerprints "
                                    "%s and %s)" % (backup, db, fleet, held))
        elif not os.path.isdir(os.path.dirname(os.path.abspath(db))):
            raise LostcardError("no directory for %s" % db)
        part = db + ".restoring"
        _remove(part)  # a restore that died before its rename
        try:
            incidents, terminals, commits = source.backup(part)
        except OSError:
            _remove(part)
            raise
    finally:
        source.close()
    aside = _move_aside(db) if present else None
    os.rename(part, db)
    fd = os.open(db + COMMITS_SUFFIX, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"%020d\n" % commits)
        os.fsync(fd)
    finally:
        os.close(fd)
    return incidents, terminals, aside


def _refuse_not_a_database(db):
    """A --db that is a directory (the state directory, the file name forgotten) or an existing
    file that is not SQLite's (the fleet secret beside it) is not moved aside: it is a typo."""
    if os.path.isdir(db):
        raise LostcardError("%s is a directory, not a collector database" % db)
    if os.path.exists(db):
        with open(db, "rb") as f:
            if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise LostcardError("%s is not a collector database (not SQLite): name the "
                                    "database, or move that file aside yourself" % db)


def _move_aside(db):
    """Move `db` and every side file of it there is to `db`.replaced-<UTC time>[-n], a name no
    file has yet (reserved by an exclusive create: two restores in one second keep both)."""
    stamp = "%s.replaced-%s" % (db, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    for n in range(1, 1000):
        aside = stamp if n == 1 else "%s-%d" % (stamp, n)
        if any(os.path.exists(aside + s) for s in SIDE_FILES):
            continue
        try:
            os.close(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        break
    else:
        raise LostcardError("no free name for %s beside it: move the old ones away" % stamp)
    for suffix in SIDE_FILES:
        if os.path.exists(db + suffix):
            os.rename(db + suffix, aside + suffix)
    if os.path.exists(db):
        os.rename(db, aside)  # over the empty file that reserved the name
    else:
        os.remove(aside)  # its side files keep the name taken
    return aside


def _fingerprint(db):
    """The fleet fingerprint of the database a restore replaces; None if it is too damaged to
    tell (the reason to restore it)."""
    try:
        current = open_store(db, readonly=True, any_release=True)
    except LostcardError:
        return None
    try:
        return current.fleet_fingerprint()
    except DatabaseError:
        return None
    finally:
        current.close()


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
