"""The collector's store on PostgreSQL (psycopg 3), for a fleet of collector processes on one or
more machines sharing one database. Same methods and semantics as collector_store.SqliteStore,
which says what each stores; here is what sharing adds:

- Each incident once by (device, seq): INSERT .. ON CONFLICT DO NOTHING waits for a concurrent
  insert of the same key to commit, and only a conflict costs a lookup (a replay, or another
  record under a used sequence number, which is quarantined).
- Per-device state stays consistent between processes: gaps only grow (an upsert with GREATEST),
  and quarantine counts are read and written under a transaction-scoped advisory lock, so their
  bounds hold across processes. A transaction that meets a deadlock or serialization failure is
  run again; every write in it is idempotent.
- The schema carries its version (`schema_version`); the collector creates or migrates it under
  an advisory lock, so several starting at once do it once; readers refuse any other version.
- A database that goes away raises psycopg.Error (collector_store.DatabaseError) within
  CONNECT_TIMEOUT or STATEMENT_TIMEOUT, never hangs; the connection is dropped and the next call
  connects again. Nothing is acknowledged before its commit returned.
"""

import hashlib
import threading
import time

import psycopg
import psycopg.sql
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from . import collector_store
from .collector_store import (ALERT_COUNTS, ALERT_FAILED, ALERT_SENT, ALERTS_SCHEMA, BEHIND,
                               CLAIM_ALERT, DUE_ALERTS, INCARNATION, INCIDENT_COUNTS,
                               INCIDENT_FIELDS, NEWEST, REFUSALS_SCHEMA, SCHEMA, TERMINAL_FIELDS,
                               UPDATES_SCHEMA, NotACollectorDatabase, first_refusal,
                               fresh_candidates, incidents_query, keep_within_bounds, newest_of,
                               raise_alerts, terminal_row, url_params, without_password)

CONNECT_TIMEOUT = 5  # seconds
STATEMENT_TIMEOUT = 30000  # milliseconds: a lock wait or a stalled server ends as an error
RETRIES = 5  # runs of a transaction that deadlocked or failed to serialize
# advisory lock keys (any 64-bit number no other user of the database takes)
SCHEMA_LOCK = 0x6C6F737463617264  # "lostcard"
QUARANTINE_LOCK = SCHEMA_LOCK + 1
PUBLISH_LOCK = SCHEMA_LOCK + 2
ALERTS_LOCK = SCHEMA_LOCK + 3
SCHEMA_VERSION = 4
# MIGRATIONS[n] brings a database of version n to n + 1. Version 1 is SQLite's schema in
# PostgreSQL's types (every integer 64-bit); version 2 adds the updates (published objects, the
# terminals' versions), version 3 the alerts' outbox, version 4 the refusals reported; a later
# change of the tables is a new entry here.
MIGRATIONS = [schema.replace("INTEGER", "BIGINT").replace("BLOB", "BYTEA")
              for schema in (SCHEMA, UPDATES_SCHEMA, ALERTS_SCHEMA, REFUSALS_SCHEMA)]
# what a terminal said it runs, the whole row replaced (collector_store.terminal_row)
PUT_TERMINAL = "INSERT INTO terminals VALUES (%s) ON CONFLICT (device) DO UPDATE SET %s" % (
    ",".join(["%s"] * len(TERMINAL_FIELDS)),
    ", ".join("%s = excluded.%s" % (f, f) for f in TERMINAL_FIELDS[1:]))
# a device's gap counts, each only growing whichever process writes last
GAP_COUNTS = ("evicted_1", "evicted_2", "evicted_3", "corrupt", "lost")
GROW_GAPS = "INSERT INTO gaps (device, incarnation, reported, %s) VALUES (%s) ON CONFLICT " \
            "(device, incarnation) DO UPDATE SET %s, reported = excluded.reported" % (
                ", ".join(GAP_COUNTS), ",".join(["%s"] * (3 + len(GAP_COUNTS))), ", ".join(
                    "%s = GREATEST(gaps.%s, excluded.%s)" % (c, c, c) for c in GAP_COUNTS))
# a lane's high-water, likewise
GROW_LANE = "INSERT INTO lanes VALUES (%s,%s,%s,%s) ON CONFLICT (device, incarnation, lane) " \
            "DO UPDATE SET high = GREATEST(lanes.high, excluded.high)"
# the incidents' columns as arrays, one parameter each: a batch is one statement
UNNEST = "unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], " \
         "%s::integer[], %s::bytea[], %s::text[], %s::text[], %s::bigint[], %s::bytea[])"


def create_database(server_url, name):
    """CREATE DATABASE `name` (a plain identifier) on the server `server_url` connects to."""
    with psycopg.connect(server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as db:
        db.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def _columns(rows):
    return [list(column) for column in zip(*rows)] if rows else [[]] * len(
        collector_store.COLUMNS)


class PgStore:
    def __init__(self, url, readonly=False, any_release=False):
        """As SqliteStore: `readonly` for readers (a read-only session; the schema must be this
        release's), else the collector's store, whose schema is created or migrated here;
        `any_release` for a reader of the fleet fingerprint alone."""
        self.url, self.readonly, self.any_release = url, readonly, any_release
        self.path = without_password(url)
        url_params(url)  # one libpq cannot parse is refused before libpq quotes it in an error
        self.lock = threading.Lock()
        self.idle = []  # connections between calls, one per thread that used one at once
        self.version = None
        try:
            with self._connection() as db:
                self.version = db.info.server_version
                if not readonly:
                    self._create_or_migrate(db)
                elif not any_release:
                    self._check_schema(db)
        except psycopg.Error as exc:
            raise NotACollectorDatabase("cannot use %s: %s" % (self.path, exc)) from None

    def describe(self):
        return "PostgreSQL %d.%d" % (self.version // 10000, self.version % 10000)

    def _connect(self):
        # the URL's own options (a search_path) kept, ours after them: a commit is durable
        # (acknowledged) whatever the database's or role's synchronous_commit default
        options = "%s -c statement_timeout=%d -c synchronous_commit=on" % (
            url_params(self.url).get("options", ""), STATEMENT_TIMEOUT)
        if self.readonly:
            options += " -c default_transaction_read_only=on"
        # statement_timeout is the server's; a server or network gone silent mid-call is the
        # client's to notice: TCP keepalives, and unacknowledged data given up after as long
        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               options=options, application_name="lostcard collector",
                               keepalives=1, keepalives_idle=10, keepalives_interval=5,
                               keepalives_count=3, tcp_user_timeout=STATEMENT_TIMEOUT)

    def _connection(self):
        return _Borrowed(self)

    def _write(self, work):
        """work(db) in one transaction, committed (durably: synchronous_commit) on return; run
        again on a deadlock or a serialization failure."""
        for attempt in range(RETRIES):
            try:
                with self._connection() as db:
                    deadline = _CommitDeadline(db)
                    try:
                        with db.transaction():
                            done = work(db)
                            deadline.start()
                    finally:
                        deadline.stop()
                    return done
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                if attempt == RETRIES - 1:
                    raise
        return None  # not reached

    def _create_or_migrate(self, db):
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = self._servable(db)
            for migration in MIGRATIONS[version:]:
                db.execute(migration)
            if version < SCHEMA_VERSION:
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))

    @staticmethod
    def _version(db):
        """The database's schema version, 0 for none."""
        if not db.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
            return 0
        return db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0

    def _servable(self, db):
        """The schema version, refused if a newer release wrote it."""
        version = self._version(db)
        if version > SCHEMA_VERSION:
            raise NotACollectorDatabase("%s has schema version %d, from a newer release "
                                        "(this one has %d)" % (self.path, version,
                                                               SCHEMA_VERSION))
        return version

    def check(self):
        """The collector's start-up check (SqliteStore.check): the connection, made at open,
        and a schema this release serves (none yet or an older one, which serve creates or
        migrates). Pages and the write-ahead log are PostgreSQL's own to check (its WAL
        records carry CRCs; page checksums if initdb enabled them)."""
        with self._connection() as db:
            self._servable(db)

    def write_probe(self):
        """A write that changes nothing the collector reads: whether writes go through again."""
        self._write(lambda db: db.execute(
            "INSERT INTO meta VALUES ('write_probe', %s) ON CONFLICT (key) DO UPDATE SET "
            "value = excluded.value", (str(int(time.time())),)))

    def _check_schema(self, db):
        version = self._version(db)
        if not version:
            raise NotACollectorDatabase("%s holds no collector database: run `lostcard "
                                        "collector serve` on it first" % self.path)
        if version != SCHEMA_VERSION:
            raise NotACollectorDatabase(
                "%s has schema version %d, this release reads %d: %s" % (
                    self.path, version, SCHEMA_VERSION,
                    "run `lostcard collector serve` on it once to upgrade it"
                    if version < SCHEMA_VERSION else "use the release that wrote it"))

    def fleet_fingerprint(self, claim=None):
        with self._connection() as db:
            if claim is not None:
                db.execute("INSERT INTO meta VALUES ('fleet_fingerprint', %s) "
                           "ON CONFLICT DO NOTHING", (claim,))
            if not db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
                return None  # a database no collector has served yet
            row = db.execute("SELECT value FROM meta WHERE key = 'fleet_fingerprint'"
                             ).fetchone()
        return row[0] if row else None

    store_batch = collector_store.SqliteStore.store_batch  # store_batches of one batch

    def store_batches(self, batches):
        """As SqliteStore's; but a batch PostgreSQL refuses (DataError: a text it cannot hold)
        fails alone: the group is run again, each batch in a savepoint, and that batch's result
        is the error, the others committed."""
        now = int(time.time())
        try:
            return self._write(lambda db: self._store_all(db, now, batches, self._store_one))
        except pg_errors.DataError:
            if len(batches) == 1:
                raise
        return self._write(lambda db: self._store_all(db, now, batches, self._alone))

    def _store_all(self, db, now, batches, store):
        read = lambda sql, args: db.execute(sql, args).fetchall()
        fresh = fresh_candidates(read, "%s", batches)
        counts = [store(db, now, batch) for batch in batches]
        if fresh:
            # one alerting transaction at a time in the fleet, taken after the incidents are
            # in: whichever of two collectors storing a ring's two halves at once comes second
            # sees the first's incidents, so the ring is raised (READ COMMITTED reads per
            # statement). Taken after any quarantine lock, always in that order.
            db.execute("SELECT pg_advisory_xact_lock(%s)", (ALERTS_LOCK,))
            raise_alerts(read, "%s", now, fresh)
        return counts

    def _store_one(self, db, now, batch):
        return self._store(db, now, *batch[:8])

    def _alone(self, db, now, batch):
        try:
            with db.transaction():
                return self._store_one(db, now, batch)
        except pg_errors.DataError as exc:
            return exc

    def _store(self, db, now, device, incarnation, incidents, quarantined, gaps, lane=None,
               acked=0, updates=None):
        quarantined = list(quarantined)
        rows, again = _first_of_each_key(incidents)
        if rows:
            new = set(db.execute("INSERT INTO incidents SELECT * FROM " + UNNEST +
                                 " ON CONFLICT DO NOTHING RETURNING device, seq",
                                 _columns(rows)).fetchall())
            held = [row for row in rows if (row[0], row[1]) not in new] + again
            if held:  # only on conflict: a replay, or another record under a used number
                stored = dict(((d, s), sealed) for d, s, sealed in db.execute(
                    "SELECT device, seq, sealed FROM incidents WHERE (device, seq) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::bigint[]))",
                    ([r[0] for r in held], [r[1] for r in held])).fetchall())
                for row in held:
                    if stored.get((row[0], row[1])) != row[11]:
                        quarantined.append((row[0], hashlib.sha256(row[11]).digest(),
                                            "sequence number reused", row[11]))
        if quarantined:
            self._quarantine(db, device, quarantined, now)
        if gaps is not None:
            counts = list(gaps[:4]) + [gaps[4] if len(gaps) > 4 else 0]  # an older terminal: 4
            held = db.execute("SELECT %s FROM gaps WHERE device = %%s AND incarnation = %%s"
                              % ", ".join(GAP_COUNTS), (device, incarnation)).fetchone()
            if _grows(counts, held):
                db.execute(GROW_GAPS, (device, incarnation, now, *counts))
        if lane is not None:
            held = db.execute("SELECT high FROM lanes WHERE device = %s AND incarnation = %s "
                              "AND lane = %s", (device, incarnation, lane)).fetchone()
            if _grows([acked], held):
                db.execute(GROW_LANE, (device, incarnation, lane, acked))
        if updates is not None:
            self._record_updates(db, device, incarnation, updates, now)
        return len(quarantined)

    def high_water(self, device, incarnation):
        high = [0, 0, 0]
        for lane, seq in self._read("SELECT lane, high FROM lanes WHERE device = %s AND "
                                    "incarnation = %s", (device, incarnation)):
            high[lane - 1] = seq
        return high

    def record_updates(self, device, incarnation, updates):
        now = int(time.time())
        self._write(lambda db: self._record_updates(db, device, incarnation, updates, now))

    @staticmethod
    def _record_updates(db, device, incarnation, updates, now):
        first = first_refusal(lambda sql, params: db.execute(sql.format("%s"), params),
                              "INSERT INTO refusals VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                              device, incarnation, updates[2])
        held = db.execute("SELECT * FROM terminals WHERE device = %s FOR UPDATE",
                          (device,)).fetchone()
        db.execute(PUT_TERMINAL, terminal_row(held, device, incarnation, updates, now, first))

    def publish(self, kind, body):
        def work(db):
            # two publishers at once: one waits for the other's commit, then takes the next
            db.execute("SELECT pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
            version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM published "
                                 "WHERE kind = %s", (kind,)).fetchone()[0]
            db.execute("INSERT INTO published VALUES (%s,%s,%s,%s)",
                       (kind, version, body, int(time.time())))
            return int(version)
        return self._write(work)

    def newest_versions(self):
        return newest_of(self._read(NEWEST))

    def published(self, kind, version):
        rows = self._read("SELECT body FROM published WHERE kind = %s AND version = %s",
                          (kind, version))
        return bytes(rows[0][0]) if rows else None

    def terminal_states(self):
        return [dict(zip(TERMINAL_FIELDS, row)) for row in self._read(
            "SELECT * FROM terminals ORDER BY device")]

    def behind_counts(self):
        policy, watchlist = self._read(BEHIND)[0]
        return {"policy": policy, "watchlist": watchlist}

    def incarnation_of(self, device):
        return self._read(INCARNATION.replace("?", "%s"), (device, device))[0][0] or 0

    def _quarantine(self, db, device, quarantined, now):
        # one quarantining transaction at a time in the whole fleet: the total bound is over all
        # devices (quarantine is rare: only authenticated batches whose records fail reach it)
        db.execute("SELECT pg_advisory_xact_lock(%s)", (QUARANTINE_LOCK,))
        held = db.execute("SELECT kept, rows, dropped FROM quarantine_held WHERE device = %s",
                          (device,)).fetchone() or (0, 0, 0)
        total = _int(db.execute("SELECT COALESCE(SUM(kept), 0) FROM quarantine_held"
                                ).fetchone()[0])

        def insert(row):
            return db.execute("INSERT INTO quarantine VALUES (%s,%s,%s,%s,%s) "
                              "ON CONFLICT DO NOTHING", (*row[:3], now, row[3])).rowcount

        counts = keep_within_bounds(tuple(held), total, quarantined, insert)
        if counts != tuple(held):
            db.execute("INSERT INTO quarantine_held VALUES (%s,%s,%s,%s) ON CONFLICT (device) "
                       "DO UPDATE SET kept = excluded.kept, rows = excluded.rows, "
                       "dropped = excluded.dropped", (device, *counts))

    def insert_rows(self, rows):
        rows = list(rows)
        self._write(lambda db: db.execute("INSERT INTO incidents SELECT * FROM " + UNNEST +
                                          " ON CONFLICT DO NOTHING", _columns(rows)))

    def health(self):
        with self._connection() as db:
            db.execute("SELECT 1").fetchone()

    def _read(self, sql, args=()):
        with self._connection() as db:
            return db.execute(sql, args).fetchall()

    def incidents(self, cause=None, device=None, since=None, limit=1000):
        rows = self._read(*incidents_query(cause, device, since, limit, "%s"))
        return [dict(zip(INCIDENT_FIELDS, row)) for row in rows]

    def incident_rows(self):
        return self._read("SELECT * FROM incidents ORDER BY device, seq")

    def sequences(self):
        held = {}
        for device, seq in self._read("SELECT device, seq FROM incidents ORDER BY device, seq"):
            held.setdefault(device, []).append(seq)
        return held

    def report_snapshot(self):
        with self._connection() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            incidents = db.execute(
                "SELECT device, time, cause, subcause, action, token, last4, sealed "
                "FROM incidents ORDER BY device, seq").fetchall()
            quarantine = db.execute(
                "SELECT device, reason, COUNT(*) FROM quarantine GROUP BY device, reason "
                "ORDER BY device, reason").fetchall()
            gaps = db.execute(
                "SELECT device, SUM(evicted_1), SUM(evicted_2), SUM(evicted_3), SUM(corrupt), "
                "SUM(lost) FROM gaps GROUP BY device ORDER BY device").fetchall()
        return incidents, quarantine, [(g[0], *map(_int, g[1:])) for g in gaps]

    def stats(self):
        with self._connection() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            one = lambda sql: _int(db.execute(sql).fetchone()[0])
            causes = dict(db.execute("SELECT cause, COUNT(*) FROM incidents GROUP BY cause "
                                     "ORDER BY cause").fetchall())
            reasons = dict(db.execute("SELECT reason, COUNT(*) FROM quarantine GROUP BY reason "
                                      "ORDER BY reason").fetchall())
            gaps = [_int(v) for v in db.execute(
                "SELECT COALESCE(SUM(evicted_1),0), COALESCE(SUM(evicted_2),0), "
                "COALESCE(SUM(evicted_3),0), COALESCE(SUM(corrupt),0), COALESCE(SUM(lost),0) "
                "FROM gaps").fetchone()]
            return collector_store.stats_of(
                one("SELECT COUNT(*) FROM incidents"),
                one("SELECT COUNT(DISTINCT device) FROM incidents"), causes,
                one("SELECT COALESCE(SUM(rows + dropped), 0) FROM quarantine_held"), reasons,
                one("SELECT COALESCE(SUM(rows - kept + dropped), 0) FROM quarantine_held"), gaps)

    def reader(self):
        return self  # a connection per call already: a scrape holds up no writer

    def incident_counts(self):
        return [(d, c, int(n)) for d, c, n in self._read(INCIDENT_COUNTS)]

    def alert_counts(self):
        pending, sent = self._read(ALERT_COUNTS)[0]
        return {"pending": int(pending), "sent": int(sent)}

    def due_alerts(self, now_ms, limit):
        return self._read(DUE_ALERTS.format("%s"), (now_ms, limit))

    def claim_alert(self, key, now_ms, until_ms):
        row = self._write(lambda db: db.execute(CLAIM_ALERT.format("%s"),
                                                (until_ms, key, now_ms)).fetchone())
        return None if row is None else row[0]

    def alert_sent(self, key, now):
        self._write(lambda db: db.execute(ALERT_SENT.format("%s"), (now, key)))

    def alert_failed(self, key, due_ms):
        self._write(lambda db: db.execute(ALERT_FAILED.format("%s"), (due_ms, key)))

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for db in idle:
            db.close()


def _first_of_each_key(rows):
    """(rows each (device, seq) first, the later ones): one INSERT lists a key once, so a second
    record under a number in the same batch is held as SQLite's row-by-row insert holds it
    (the same record again ignored, another one quarantined)."""
    first, again, seen = [], [], set()
    for row in rows:
        key = (row[0], row[1])
        (again if key in seen else first).append(row)
        seen.add(key)
    return first, again


def _grows(new, held):
    """Whether counts that only grow must be written: a replay then writes nothing (no row lock,
    no commit record to flush). A count seen high enough stays so, whoever writes meanwhile."""
    return held is None or any(n > h for n, h in zip(new, held))


def _int(value):
    """SUM over BIGINT is NUMERIC (a Decimal) in PostgreSQL; SQLite's is an int."""
    return None if value is None else int(value)


class _CommitDeadline:
    """statement_timeout does not bound a COMMIT that waits (for a synchronous standby that is
    not there, a stalled WAL flush): past STATEMENT_TIMEOUT it is cancelled, and the transaction
    counts as failed (psycopg.OperationalError) even if the server then says it committed
    locally: nothing is acknowledged that did not commit as configured (a terminal sends it
    again, a replay stores nothing twice)."""

    def __init__(self, db):
        self.db, self.timer, self.fired = db, None, False

    def start(self):
        self.timer = threading.Timer(STATEMENT_TIMEOUT / 1000, self._cancel)
        self.timer.daemon = True
        self.timer.start()

    def _cancel(self):
        self.fired = True
        try:
            self.db.cancel_safe(timeout=CONNECT_TIMEOUT)
        except psycopg.Error:
            pass  # the connection is dropped on return all the same

    def stop(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        if self.fired:
            self.db.close()  # whatever state the cancel left it in
            raise psycopg.OperationalError("the commit did not finish within %d ms (a "
                                           "synchronous standby missing? the disk stalled?)"
                                           % STATEMENT_TIMEOUT)


class _Borrowed:
    """A connection of the store's for one call: an idle one, or a new one. Returned if it is
    healthy and idle; dropped otherwise, with every other idle one when the server was lost (a
    restart cut them all), so that the next call connects afresh."""

    def __init__(self, store):
        self.store = store

    def __enter__(self):
        with self.store.lock:
            self.db = self.store.idle.pop() if self.store.idle else None
        if self.db is None:
            self.db = self.store._connect()
        return self.db

    def __exit__(self, kind, exc, tb):
        db = self.db
        if not db.closed and db.info.transaction_status == TransactionStatus.IDLE:
            with self.store.lock:
                self.store.idle.append(db)
            return
        db.close()
        if isinstance(exc, psycopg.OperationalError):
            self.store.close()
