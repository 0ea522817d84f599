"""`lostcard collector restore`: put a backup (`collector backup`) in the place of a collector's
SQLite database, with the collector stopped (docs/SYNC.md, "Restore").

Nothing is deleted: the database it replaces, with its -wal, -shm and -commits files, is moved
aside. The backup's own commit count becomes the acknowledged one, so the collector starts on it
without --accept-loss; the terminals then see its high-water behind what they were acknowledged
and send again what their retention windows hold.
"""

import fcntl
import os
import shutil
import time

from lostcard.errors import LostcardError

from .collector_store import COMMITS_SUFFIX, DatabaseError, is_url, open_store

SIDE_FILES = ("-wal", "-shm", COMMITS_SUFFIX)
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


def _checked(backup):
    """(incidents, terminals, commits, fingerprint) of a backup that passes its check."""
    store = open_store(backup, readonly=True)
    try:
        commits = store.checked_commits()
        stats = store.stats()
        return stats["incidents"], stats["devices"], commits, store.fleet_fingerprint()
    finally:
        store.close()


def restore(db, backup):
    """Replace `db` by a copy of `backup`; return (incidents, terminals, where the replaced
    database went or None)."""
    if is_url(db):
        raise LostcardError("--db names a PostgreSQL database: restore it with pg_restore or "
                            "from a base backup (README, \"A collector fleet on PostgreSQL\")")
    if os.path.exists(db) and os.path.samefile(db, backup):
        raise LostcardError("--from %s is the database itself: name the backup" % backup)
    incidents, terminals, commits, fleet = _checked(backup)
    aside = None
    if os.path.exists(db):
        if in_use(db):
            raise LostcardError("%s is open (a collector serving it?): stop the collector "
                                "first" % db)
        held = _fingerprint(db)
        if held is not None and fleet is not None and held != fleet:
            raise LostcardError("%s belongs to another fleet secret than %s (fingerprints %s "
                                "and %s)" % (backup, db, fleet, held))
    elif not os.path.isdir(os.path.dirname(os.path.abspath(db))):
        raise LostcardError("no directory for %s" % db)
    part = db + ".restoring"
    umask = os.umask(0o077)
    try:
        with open(backup, "rb") as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
    except OSError:
        _remove(part)
        raise
    finally:
        os.umask(umask)
    if os.path.exists(db):
        aside = "%s.replaced-%s" % (db, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        for suffix in ("",) + SIDE_FILES:
            if os.path.exists(db + suffix):
                os.rename(db + suffix, aside + suffix)
    os.rename(part, db)
    fd = os.open(db + COMMITS_SUFFIX, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"%020d\n" % commits)
        os.fsync(fd)
    finally:
        os.close(fd)
    return incidents, terminals, aside


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
