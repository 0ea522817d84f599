"""The collector's storage: SQLite in WAL mode by default, or PostgreSQL for a fleet of collector
processes (collector_store_pg), behind one interface. Every query of the collector's database is a method here: the
collector, the report, the demo and the benchmarks speak no SQL themselves.

Each incident is stored once, keyed by (device, seq). Records that fail to open or check go to
`quarantine` with the reason, their bytes kept up to a bound per device and in total (past it
only their digest and reason: counted, never their bytes). A device's reported evictions and
corruptions go to `gaps`.
"""

import hashlib
import os
import sqlite3
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import psycopg

from lostcard.errors import LostcardError

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    device TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER, cause TEXT NOT NULL,
    subcause TEXT NOT NULL, action TEXT NOT NULL, priority INTEGER NOT NULL, token BLOB,
    last4 TEXT, policy TEXT NOT NULL, received INTEGER NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (device, seq));
CREATE INDEX IF NOT EXISTS incidents_cause ON incidents (cause, time);
CREATE TABLE IF NOT EXISTS quarantine (
    device TEXT NOT NULL, digest BLOB NOT NULL, reason TEXT NOT NULL, received INTEGER NOT NULL,
    sealed BLOB NOT NULL, PRIMARY KEY (device, digest));
CREATE TABLE IF NOT EXISTS quarantine_held (
    device TEXT PRIMARY KEY, kept INTEGER NOT NULL, rows INTEGER NOT NULL,
    dropped INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gaps (
    device TEXT NOT NULL, incarnation INTEGER NOT NULL, evicted_1 INTEGER, evicted_2 INTEGER,
    evicted_3 INTEGER, corrupt INTEGER, reported INTEGER NOT NULL, lost INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, incarnation));
CREATE TABLE IF NOT EXISTS lanes (
    device TEXT NOT NULL, incarnation INTEGER NOT NULL, lane INTEGER NOT NULL,
    high INTEGER NOT NULL, PRIMARY KEY (device, incarnation, lane));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# the alerts' outbox (lostcard_cpython.alerts): one row per event, its key unique, written with
# the incidents that raised it; `due` (unix ms) is when a sender may post it next (a lease or a
# backoff), `sent` when one did. The ring index finds a compromised token's terminals at once;
# the rate index counts a terminal's incidents of a cause in a time range, and /metrics' incidents
# per terminal and cause without reading the records.
ALERTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY, body TEXT NOT NULL, created INTEGER NOT NULL, sent INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0, due INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts (due) WHERE sent IS NULL;
CREATE INDEX IF NOT EXISTS incidents_ring ON incidents (token, device)
    WHERE cause = 'card_compromised';
CREATE INDEX IF NOT EXISTS incidents_rate ON incidents (device, cause, time);
"""
# the updates a collector serves (docs/SYNC.md "Updates"): each published object, versions per
# kind 1, 2, ...; and what each terminal last said it runs (batch or fetch key 7)
UPDATES_SCHEMA = """
CREATE TABLE IF NOT EXISTS published (
    kind INTEGER NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL, created INTEGER NOT NULL,
    PRIMARY KEY (kind, version));
CREATE TABLE IF NOT EXISTS terminals (
    device TEXT PRIMARY KEY, incarnation INTEGER NOT NULL, policy INTEGER NOT NULL,
    watchlist INTEGER NOT NULL, refused_kind INTEGER, refused_version INTEGER,
    refused_reason TEXT, refused_at INTEGER, seen INTEGER NOT NULL);
"""
# every refusal a terminal reported, by (kind, version) within its incarnation: one reported
# before (a request replayed from the link) never replaces the last refusal shown. Only versions
# the collector published are kept (a terminal refuses only what it fetched), so the table grows
# with what the acquirer publishes, not with what a terminal says.
REFUSALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS refusals (
    device TEXT NOT NULL, incarnation INTEGER NOT NULL, kind INTEGER NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (device, incarnation, kind, version));
"""
NEWEST_OF_KIND = "SELECT COALESCE(MAX(version), 0) FROM published WHERE kind = {0}"
TERMINAL_FIELDS = ("device", "incarnation", "policy", "watchlist", "refused_kind",
                   "refused_version", "refused_reason", "refused_at", "seen")
NEWEST = "SELECT kind, MAX(version) FROM published GROUP BY kind"
# terminals that said they run less than the newest published of a kind
BEHIND = ("SELECT COUNT(*) FILTER (WHERE policy < (SELECT COALESCE(MAX(version), 0) FROM published "
          "WHERE kind = 1)), COUNT(*) FILTER (WHERE watchlist < (SELECT COALESCE(MAX(version), 0) "
          "FROM published WHERE kind = 2)) FROM terminals")
INCARNATION = ("SELECT MAX(i) FROM (SELECT incarnation AS i FROM terminals WHERE device = ? "
               "UNION ALL SELECT incarnation FROM lanes WHERE device = ?) AS known")
REFUSAL_LEN = 48  # characters of a refusal's reason kept (docs/SYNC.md: a terminal sends <= 48)
# a database of the release before the high-water: what its incidents say each lane holds (a
# batch whose last records were quarantined then reads lower, and its terminal sends them again,
# once), so that its terminals do not send their retention windows again
FILL_LANES = """
INSERT INTO lanes SELECT device, seq >> 24, priority, MAX(seq) FROM incidents
    GROUP BY device, seq >> 24, priority;
"""
# a database of the release before incarnations: gaps per device id, and the key-schedule
# anchors the collector no longer needs (fleet.FleetKeys)
MIGRATE_GAPS = """
ALTER TABLE gaps RENAME TO gaps_v1;
CREATE TABLE gaps (
    device TEXT NOT NULL, incarnation INTEGER NOT NULL, evicted_1 INTEGER, evicted_2 INTEGER,
    evicted_3 INTEGER, corrupt INTEGER, reported INTEGER NOT NULL,
    PRIMARY KEY (device, incarnation));
INSERT INTO gaps SELECT device, 0, evicted_1, evicted_2, evicted_3, corrupt, reported FROM gaps_v1;
DROP TABLE gaps_v1;
"""
COUNT_QUARANTINE = """
INSERT INTO quarantine_held SELECT device, SUM(length(sealed) > 0), COUNT(*), 0 FROM quarantine
    GROUP BY device;
"""
# quarantined records whose bytes are kept, per device and in all (a few KiB each at most): only
# authenticated batches reach the quarantine, and these bound what even a stolen terminal's keys
# can make the collector keep
QUARANTINE_PER_DEVICE = 1000
QUARANTINE_TOTAL = 100000
# rows (digest and reason, without the bytes) per device; past them a record is only counted, and
# a replay of it counted again: there is nothing left to recognise it by
QUARANTINE_ROWS_PER_DEVICE = 10 * QUARANTINE_PER_DEVICE
COLUMNS = ("device", "seq", "time", "cause", "subcause", "action", "priority", "token", "last4",
           "policy", "received", "sealed")


# a failing database, for the CLI's error boundary to name and the collector to answer 503
DatabaseError = (sqlite3.Error, psycopg.Error)
URL_SCHEMES = ("postgresql://", "postgres://")
# beside the database: the count of commits it acknowledged, written after each (SqliteStore.check)
COMMITS_SUFFIX = "-commits"


class NotACollectorDatabase(LostcardError):
    """The path is missing, not a file, or not a collector's SQLite database."""


class DamagedDatabase(LostcardError):
    """The database fails its check: damaged pages, or commits it acknowledged are missing."""


class CommitsLost(DamagedDatabase):
    """The database holds fewer commits than its mirror says were acknowledged."""


def _run(db, script):
    """Each statement of `script` inside the caller's transaction (executescript commits)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _private(path):
    """The database and its -wal and -shm readable by their owner alone, also those an older
    release made 0644 (docs/SECURITY.md). A file someone else owns stays as it is."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(path + suffix, 0o600)
        except OSError:
            pass


def acknowledged_commits(path):
    """The commits the collector of the database `path` acknowledged (its mirror), 0 if none is
    known (a new database, or an older release's)."""
    try:
        with open(path + COMMITS_SUFFIX, "rb") as f:
            return int(f.read(64))
    except (OSError, ValueError):
        return 0


def _said(found):
    """quick_check's first finding, in one line."""
    return " ".join(found.replace("*** in database main ***", "").split())


def open_store(db, readonly=False, any_release=False):
    """The store `--db` names: a postgresql:// URL is PostgreSQL, anything else a SQLite file;
    with SqliteStore's `readonly` and `any_release`."""
    if is_url(db):
        from .collector_store_pg import PgStore

        return PgStore(db, readonly, any_release)
    return SqliteStore(db, readonly, any_release)


def is_url(db):
    """Whether `--db` is a PostgreSQL URL; one that is misspelt (postgresql:NAME, the // left
    out; POSTGRESQL://, which libpq does not read) is refused, never taken for a SQLite file."""
    db = str(db)
    if db.startswith(URL_SCHEMES):
        return True
    if db.lower().startswith(("postgresql:", "postgres:")):
        raise LostcardError("--db %s is not a PostgreSQL URL: write postgresql://USER@HOST/DBNAME"
                            % UNREADABLE_URL)
    return False


# what messages say of a URL libpq cannot parse: its parser's error quotes the URL, password too
UNREADABLE_URL = "(a postgresql:// URL libpq cannot parse)"


def url_params(db):
    """The connection parameters libpq reads from the URL `db` (its own parser: a password is
    wherever libpq finds it); NotACollectorDatabase, naming no part of it, if it cannot."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(db)
    except psycopg.Error:
        raise NotACollectorDatabase("--db %s: check its brackets, and write a '%%' in the "
                                    "password as %%25" % UNREADABLE_URL) from None


def without_password(db):
    """`--db` as messages and logs show it: the URL rebuilt from what libpq reads in it, without
    the password; a placeholder for a URL libpq cannot parse."""
    if not is_url(db):
        return str(db)
    try:
        params = url_params(db)
    except NotACollectorDatabase:
        return UNREADABLE_URL
    params.pop("password", None)
    quote = lambda v: urllib.parse.quote(v, safe="")
    hosts = params.pop("host", "").split(",")
    ports = params.pop("port", "").split(",")
    ports += ports[-1:] * (len(hosts) - len(ports))  # one port for every host, as libpq
    netloc = ",".join(("[%s]" % h if ":" in h else quote(h)) + (":" + quote(p) if p else "")
                      for h, p in zip(hosts, ports))
    if "user" in params:
        netloc = quote(params.pop("user")) + "@" + netloc
    path = "/" + quote(params.pop("dbname")) if "dbname" in params else ""
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return db.split("//")[0] + "//" + netloc + path + ("?" + query if query else "")


def keep_within_bounds(held, total, quarantined, insert):
    """The quarantine's bounds, for both backends: `held` (kept, rows, dropped) of one device and
    `total` kept in all; insert((device, digest, reason, sealed or b"")) stores a row and says
    whether it was new. Returns the device's new (kept, rows, dropped)."""
    kept, rows, dropped = held
    for d, digest, reason, sealed in quarantined:
        if rows >= QUARANTINE_ROWS_PER_DEVICE:
            dropped += 1
            continue
        keep = kept < QUARANTINE_PER_DEVICE and total < QUARANTINE_TOTAL
        if insert((d, digest, reason, sealed if keep else b"")):
            rows += 1
            kept += keep
            total += keep
    return kept, rows, dropped


INCIDENT_FIELDS = ("device", "seq", "time", "cause", "subcause", "action", "priority", "last4",
                   "policy", "received")


def incidents_query(cause, device, since, limit, mark):
    """(sql, args) of `incidents` for both backends, `mark` their placeholder."""
    where, args = [], []
    for column, value, op in (("cause", cause, "="), ("device", device, "="),
                              ("time", since, ">=")):
        if value is not None:
            where.append("%s %s %s" % (column, op, mark))
            args.append(value)
    sql = "SELECT %s FROM incidents" % ", ".join(INCIDENT_FIELDS)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY device, seq LIMIT " + mark, args + [limit]


def fresh_candidates(read, mark, batches):
    """The batches' incidents that may raise an alert (alerts.candidates) and are not stored yet:
    read in the storing transaction, before the batches are stored (a replay raises nothing).
    `read(sql, args)` returns rows, `mark` is the backend's placeholder."""
    from . import alerts

    found = alerts.candidates(batches)
    held = set()
    for device in {c[0] for c in found}:  # a batch is one device's: one range read each
        seqs = [c[1] for c in found if c[0] == device]
        held.update((device, r[0]) for r in read(
            "SELECT seq FROM incidents WHERE device = {0} AND seq >= {0} AND seq <= {0}".format(
                mark), (device, min(seqs), max(seqs))))
    return [c for c in found if (c[0], c[1]) not in held]


def raise_alerts(read, mark, now, fresh):
    """Write the alerts that the `fresh` incidents raise into the outbox, each key once, in the
    transaction that stored them (alerts.py: the rules). Returns how many were new."""
    from . import alerts

    raised, tokens, tampers, rates = [], {}, {}, set()
    for device, seq, t, cause, token, last4, tamper in fresh:
        if cause == "card_compromised" and token:
            tokens.setdefault(bytes(token), last4)
        if tamper:
            tampers.setdefault(device, (seq, t))
        if cause in alerts.RATE_CAUSES:
            rates.add((device, cause))
    for token, last4 in sorted(tokens.items()):
        terminals = [r[0] for r in read(
            "SELECT DISTINCT device FROM incidents WHERE cause = 'card_compromised' AND "
            "token = %s ORDER BY device" % mark, (token,))]
        if len(terminals) > 1:
            raised.append(alerts.ring(token, last4, terminals, now))
    for device, (seq, t) in sorted(tampers.items()):
        raised.append(alerts.tamper(device, seq, t, now))
    for device, cause in sorted(rates):
        if read("SELECT 1 FROM alerts WHERE key = %s" % mark,
                (alerts.rate_key(device, cause, now),)):
            continue  # raised today already: no need to count
        last_day, within = read(
            "SELECT COALESCE(SUM(CASE WHEN time > {0} THEN 1 ELSE 0 END), 0), COUNT(*) FROM "
            "incidents WHERE device = {0} AND cause = {0} AND time > {0} AND time <= {0}".format(
                mark), (now - alerts.RATE_WINDOW, device, cause,
                        now - (alerts.BASELINE_DAYS + 1) * alerts.RATE_WINDOW, now))[0]
        last_day, before = int(last_day), int(within) - int(last_day)
        if alerts.jumped(last_day, before):
            raised.append(alerts.rate_jump(device, cause, last_day, before, now))
    return sum(len(read("INSERT INTO alerts (key, body, created) VALUES ({0}, {0}, {0}) ON "
                        "CONFLICT (key) DO NOTHING RETURNING key".format(mark),
                        (key, body, now))) for key, body in raised)


DUE_ALERTS = "SELECT key, body FROM alerts WHERE sent IS NULL AND due <= {0} " \
             "ORDER BY created, key LIMIT {0}"
# a sender takes an alert for the lease's time, if no other holds it and none sent it
CLAIM_ALERT = "UPDATE alerts SET due = {0} WHERE key = {0} AND sent IS NULL AND due <= {0} " \
              "RETURNING attempts"
ALERT_SENT = "UPDATE alerts SET sent = {0} WHERE key = {0}"
ALERT_FAILED = "UPDATE alerts SET attempts = attempts + 1, due = {0} WHERE key = {0}"
ALERT_COUNTS = "SELECT COUNT(*) - COUNT(sent), COUNT(sent) FROM alerts"
INCIDENT_COUNTS = "SELECT device, cause, COUNT(*) FROM incidents GROUP BY device, cause " \
                  "ORDER BY device, cause"
def terminal_row(held, device, incarnation, updates, now, first):
    """The terminals row of `device` after it said `updates` ([policy version, watchlist version,
    refused or None]) as (device, incarnation) at `now`, from the row `held` (TERMINAL_FIELDS, or
    None); `first`: whether its refusal is reported for the first time (table refusals).

    Within an incarnation a terminal's versions only grow (it refuses an older or equal one), so
    the row keeps the greatest it said, and a refusal is taken only the first time it is
    reported and if it is of a version above the one the terminal runs: a fetch or batch
    replayed from the link rolls nothing back and brings no old refusal back. An older
    incarnation's request (a replay from before the terminal was provisioned again) changes
    nothing. The last refusal keeps the time it was first reported (a terminal repeats it until
    acknowledged). `seen` is the last authenticated request, which a replay is too (TLS keeps
    requests off the wire: docs/SYNC.md).
    """
    policy, watchlist, refused = updates
    refusal = (None, None, None, None)
    if held is not None:
        if incarnation < held[1]:
            return tuple(held)
        refusal = tuple(held[4:8])
        if incarnation == held[1]:
            policy, watchlist = max(policy, held[2]), max(watchlist, held[3])
    if first and refused[1] > (policy, watchlist)[refused[0] - 1]:
        # a terminal's text, shown in tables and terminals: printable characters only
        said = (refused[0], refused[1], "".join(c if c.isprintable() else "?"
                                                for c in refused[2][:REFUSAL_LEN]))
        refusal = refusal if refusal[:3] == said else said + (now,)
    return (device, incarnation, policy, watchlist) + refusal + (now,)


def first_refusal(execute, insert, device, incarnation, refused):
    """Whether `refused` ([kind, version, reason] or None) is reported for the first time by
    (device, incarnation), recording it if so; only a version the collector published counts.
    `execute(sql, params)` runs one statement of the store's transaction and returns its cursor
    (NEWEST_OF_KIND formatted with the backend's placeholder); `insert` adds a refusals row,
    nothing if it is there."""
    if refused is None:
        return False
    kind, version = refused[0], refused[1]
    if version > execute(NEWEST_OF_KIND, (kind,)).fetchone()[0]:
        return False
    return execute(insert, (device, incarnation, kind, version)).rowcount == 1


def newest_of(rows):
    """{kind: newest version} of NEWEST's rows, 0 for a kind never published."""
    newest = {1: 0, 2: 0}
    newest.update((kind, int(version)) for kind, version in rows)
    return newest


def stats_of(incidents, devices, causes, quarantined, reasons, bytes_dropped, gaps):
    """`collector stats`' counts as both backends give them."""
    return {"incidents": incidents, "devices": devices, "by_cause": causes,
            "quarantined": quarantined, "quarantine_reasons": reasons,
            "quarantine_bytes_dropped": bytes_dropped,
            "quarantine_bounds": {"per_device": QUARANTINE_PER_DEVICE, "total": QUARANTINE_TOTAL,
                                  "rows_per_device": QUARANTINE_ROWS_PER_DEVICE},
            "known_gaps": {"evicted": {1: gaps[0], 2: gaps[1], 3: gaps[2]}, "corrupt": gaps[3],
                           "lost_to_restore": gaps[4]}}


class SqliteStore:
    def __init__(self, path, readonly=False, any_release=False):
        """`readonly`: a reader (the report, stats, the demo's check) that may run beside the
        collector: it creates and changes nothing, and the database must exist. Otherwise the
        collector's own store: created if absent, but never over a file that is not one, and
        brought up to this release's schema. `any_release`: a reader of the fleet fingerprint
        only, which takes a database the collector has not upgraded yet."""
        self.path = path = str(path)
        self.mirror = None
        if os.path.isdir(path):
            raise NotACollectorDatabase("%s is a directory, not a collector database" % path)
        if readonly and not os.path.exists(path):
            raise NotACollectorDatabase("no collector database %s" % path)
        if not readonly and os.path.exists(path) and os.path.getsize(path) == 0:
            raise NotACollectorDatabase("%s is an empty file, not a collector database" % path)
        try:
            if readonly:
                # WAL mode: a reader opening a database nobody has open would create its -wal
                # and -shm files and leave them; with no -wal there is no writer, and the file
                # can be read as it stands
                live = os.path.exists(path + "-wal")
                self.db = sqlite3.connect(Path(path).resolve().as_uri() + (
                    "?mode=ro" if live else "?mode=ro&immutable=1"), uri=True,
                    check_same_thread=False, isolation_level=None)
                self.db.execute("SELECT 1 FROM incidents LIMIT 0").fetchall()
                if not any_release and self.db.execute(  # the tables the latest releases add
                        "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('lanes', 'terminals')"
                        ).fetchone()[0] < 2:
                    raise NotACollectorDatabase(
                        "%s was made by an older release: run `lostcard collector serve` on it "
                        "once to upgrade it" % path)
            else:
                # readable by its owner alone, as the fleet secret: it holds every incident
                # (SQLite gives the -wal and -shm files the database's mode)
                umask = os.umask(0o077)
                try:
                    self.db = sqlite3.connect(path, check_same_thread=False,
                                              isolation_level=None)
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA synchronous=FULL")  # replies follow durable commits
                    self._create_or_migrate()
                    self.commits = int(self._meta("commits") or 0)
                    # the collector's store takes the database as check() found it: from now on
                    # the mirror follows it (a loss accepted, a backup restored)
                    self.mirror = os.open(path + COMMITS_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
                    self._mirror()
                finally:
                    os.umask(umask)
                _private(path)
        except sqlite3.Error as exc:
            raise NotACollectorDatabase("%s is not a collector database (%s)" % (path, exc)) \
                from None
        self.lock = threading.Lock()

    def _create_or_migrate(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            columns = [r[1] for r in self.db.execute("PRAGMA table_info(gaps)")]
            if columns and "incarnation" not in columns:
                _run(self.db, MIGRATE_GAPS)
            if columns and "lost" not in columns:
                self.db.execute("ALTER TABLE gaps ADD COLUMN lost INTEGER NOT NULL DEFAULT 0")
            self.db.execute("DROP TABLE IF EXISTS anchors")
            counted, laned = [self.db.execute("SELECT name FROM sqlite_master WHERE name = ?",
                                              (name,)).fetchone()
                              for name in ("quarantine_held", "lanes")]
            _run(self.db, SCHEMA + UPDATES_SCHEMA + ALERTS_SCHEMA + REFUSALS_SCHEMA)
            if counted is None:  # a database from before the counts: count what it holds
                self.db.execute(COUNT_QUARANTINE)
            if laned is None:
                self.db.execute(FILL_LANES)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _meta(self, key):
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # a database from before fingerprints: no meta
            row = None
        return row[0] if row else None

    def _mirror(self):
        """The commit count, to the file beside the database, after the commit: not flushed on
        its own (a second fsync per batch), so a crash of the process keeps it and a power cut
        may leave it behind, never ahead. A failed write leaves it behind too: the batch is
        committed all the same."""
        try:
            os.pwrite(self.mirror, b"%020d\n" % self.commits, 0)
        except OSError:
            pass

    def check(self):
        """Raise DamagedDatabase, with the reason and the way out, for a database that fails
        SQLite's quick_check, and CommitsLost for one that holds fewer commits than its
        collector acknowledged (the mirror beside it): a write-ahead log damaged after a crash,
        whose bad frame ends the log where SQLite cannot see it, or an older copy restored.
        Reads only: run it on a read-only store, before the collector's store opens (that
        would fold the log into the database)."""
        held = self.checked_commits()
        acknowledged = acknowledged_commits(self.path)
        if acknowledged > held:
            raise CommitsLost(
                "%s holds %d commits but its collector acknowledged %d (%s%s): incidents it "
                "acknowledged are missing (its write-ahead log damaged, or an older copy put in "
                "its place by hand); restore the latest backup with `lostcard collector restore`, "
                "or start with --accept-loss to serve on: terminals send again what their "
                "retention windows hold (docs/SYNC.md, \"Storage faults\")" % (
                    self.path, held, acknowledged, self.path, COMMITS_SUFFIX))

    def checked_commits(self):
        """The commits the database holds, once SQLite's quick_check passed (DamagedDatabase
        if not)."""
        try:
            with self.lock:
                found = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
                held = int(self._meta("commits") or 0)
        except sqlite3.DatabaseError as exc:
            found = str(exc)
        if found != "ok":
            raise DamagedDatabase(
                "%s is damaged (quick_check: %s): the collector will not write into it; restore "
                "the latest backup (docs/SYNC.md, \"Storage faults\")" % (self.path, _said(found)))
        return held

    def fleet_fingerprint(self, claim=None):
        """The fingerprint of the fleet secret the database belongs to (None if unknown); the
        collector's store records `claim` first if it has none yet (a new database)."""
        with self.lock:
            if claim is not None:
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('fleet_fingerprint', ?)",
                                (claim,))
            return self._meta("fleet_fingerprint")

    def store_batch(self, device, incidents, quarantined, gaps, incarnation=0, lane=None,
                    acked=0):
        """store_batches of one batch: how many were quarantined."""
        return self.store_batches([(device, incarnation, incidents, quarantined, gaps, lane,
                                    acked)])[0]

    def store_batches(self, batches):
        """Batches of (device, incarnation, incidents, quarantined, gaps[, lane, acked[, updates[,
        tampered]]]) in one transaction, durable on return: incidents (rows of COLUMNS, inserted ON CONFLICT DO
        NOTHING; only when a row conflicted are the batch's rows looked up: the same record again
        is ignored, another record under a stored (device, seq) is quarantined), quarantined
        (device, digest, reason, sealed; within the bounds), the gap counts of the device's
        `incarnation` ([evicted 1, 2, 3, corrupt, ? lost to a restore]; each only ever grows; a
        replay writes nothing), and the lane's high-water: the highest sequence number acked
        in it (stored or quarantined), only ever growing (high_water), and what the terminal
        said it runs (`updates`, batch key 7, or None: record_updates); and the alerts its new
        incidents raise (raise_alerts; `tampered`: the seqs whose facts say tampering). Returns
        how many each batch quarantined."""
        now = int(time.time())
        read = lambda sql, args: self.db.execute(sql, args).fetchall()
        with self._transaction(counted=True):
            fresh = fresh_candidates(read, "?", batches)
            counts = [self._store(now, *batch[:8]) for batch in batches]
            raise_alerts(read, "?", now, fresh)
            return counts

    def _store(self, now, device, incarnation, incidents, quarantined, gaps, lane=None, acked=0,
               updates=None):
        quarantined = list(quarantined)
        before = self.db.total_changes
        self.db.executemany("INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                            "ON CONFLICT (device, seq) DO NOTHING", incidents)
        if self.db.total_changes - before < len(incidents):  # some were held: which, and how
            for row in incidents:
                held = self.db.execute("SELECT sealed FROM incidents WHERE device = ? AND "
                                       "seq = ?", (row[0], row[1])).fetchone()
                if held[0] != row[11]:
                    quarantined.append((row[0], hashlib.sha256(row[11]).digest(),
                                        "sequence number reused", row[11]))
        if quarantined:
            self._quarantine(device, quarantined, now)
        if gaps is not None:
            lost = gaps[4] if len(gaps) > 4 else 0  # a terminal of the previous release: none
            self.db.execute(
                "INSERT INTO gaps VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(device, incarnation) "
                "DO UPDATE SET evicted_1 = MAX(evicted_1, excluded.evicted_1), "
                "evicted_2 = MAX(evicted_2, excluded.evicted_2), "
                "evicted_3 = MAX(evicted_3, excluded.evicted_3), "
                "corrupt = MAX(corrupt, excluded.corrupt), lost = MAX(lost, excluded.lost), "
                "reported = excluded.reported "
                "WHERE excluded.evicted_1 > evicted_1 OR excluded.evicted_2 > evicted_2 OR "
                "excluded.evicted_3 > evicted_3 OR excluded.corrupt > corrupt OR "
                "excluded.lost > lost",
                (device, incarnation, gaps[0], gaps[1], gaps[2], gaps[3], now, lost))
        if lane is not None:
            self.db.execute(
                "INSERT INTO lanes VALUES (?,?,?,?) ON CONFLICT(device, incarnation, lane) "
                "DO UPDATE SET high = excluded.high WHERE excluded.high > high",
                (device, incarnation, lane, acked))
        if updates is not None:
            self._record_updates(device, incarnation, updates, now)
        return len(quarantined)

    def high_water(self, device, incarnation):
        """[lane 1, 2, 3]: the highest sequence number of each lane of (device, incarnation) the
        database holds (acknowledged: stored or quarantined), 0 for none. After a restore, lower
        than what the terminal was acknowledged: it sends the rest again (docs/SYNC.md)."""
        high = [0, 0, 0]
        with self.lock:
            for lane, seq in self.db.execute("SELECT lane, high FROM lanes WHERE device = ? AND "
                                             "incarnation = ?", (device, incarnation)):
                high[lane - 1] = seq
        return high

    def record_updates(self, device, incarnation, updates):
        """What (device, incarnation) said it runs (`updates`, a fetch's key 7), durable on
        return: an idle terminal's check-in (terminal_row says what is kept)."""
        now = int(time.time())
        with self._transaction():
            self._record_updates(device, incarnation, updates, now)

    def _record_updates(self, device, incarnation, updates, now):
        first = first_refusal(lambda sql, params: self.db.execute(sql.format("?"), params),
                              "INSERT OR IGNORE INTO refusals VALUES (?,?,?,?)", device,
                              incarnation, updates[2])
        held = self.db.execute("SELECT * FROM terminals WHERE device = ?", (device,)).fetchone()
        self.db.execute("INSERT OR REPLACE INTO terminals VALUES (?,?,?,?,?,?,?,?,?)",
                        terminal_row(held, device, incarnation, updates, now, first))

    def publish(self, kind, body):
        """Publish `body` as the next version of `kind` (1, 2, ...), in one transaction: the
        version it took."""
        with self._transaction():
            version = self.db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM published "
                                      "WHERE kind = ?", (kind,)).fetchone()[0]
            self.db.execute("INSERT INTO published VALUES (?,?,?,?)",
                            (kind, version, body, int(time.time())))
        return version

    def newest_versions(self):
        """{kind: the newest version published} (0: none), for kinds 1 (policy), 2 (watchlist)."""
        with self.lock:
            return newest_of(self.db.execute(NEWEST).fetchall())

    def published(self, kind, version):
        """The body of `kind`'s `version`, or None if it was never published."""
        with self.lock:
            row = self.db.execute("SELECT body FROM published WHERE kind = ? AND version = ?",
                                  (kind, version)).fetchone()
        return None if row is None else bytes(row[0])

    def terminal_states(self):
        """Every terminal that said what it runs, as dicts of TERMINAL_FIELDS, by device."""
        with self.lock:
            rows = self.db.execute("SELECT * FROM terminals ORDER BY device").fetchall()
        return [dict(zip(TERMINAL_FIELDS, row)) for row in rows]

    def behind_counts(self):
        """{"policy": n, "watchlist": n}: the terminals that said they run less than the newest
        published (a terminal of the previous release says nothing and is not counted)."""
        with self.lock:
            policy, watchlist = self.db.execute(BEHIND).fetchone()
        return {"policy": policy, "watchlist": watchlist}

    def incarnation_of(self, device):
        """The newest incarnation of `device` the database knows (0 if none): whose ack key a
        fetch, which carries no sequence number, is checked under."""
        with self.lock:
            row = self.db.execute(INCARNATION, (device, device)).fetchone()
        return row[0] or 0

    def _quarantine(self, device, quarantined, now):
        """Keep the device's quarantined records: with their bytes up to QUARANTINE_PER_DEVICE
        and QUARANTINE_TOTAL, as digest and reason up to QUARANTINE_ROWS_PER_DEVICE, then only
        counted. The counts live in quarantine_held, so this costs the same on a large table."""
        held = self.db.execute("SELECT kept, rows, dropped FROM quarantine_held WHERE device = ?",
                               (device,)).fetchone() or (0, 0, 0)
        total = self.db.execute("SELECT COALESCE(SUM(kept), 0) FROM quarantine_held").fetchone()[0]
        counts = keep_within_bounds(tuple(held), total, quarantined, lambda row: self.db.execute(
            "INSERT OR IGNORE INTO quarantine VALUES (?,?,?,?,?)",
            (*row[:3], now, row[3])).rowcount)
        if counts != tuple(held):
            self.db.execute("INSERT OR REPLACE INTO quarantine_held VALUES (?,?,?,?)",
                            (device, *counts))

    @contextmanager
    def _transaction(self, counted=False):
        """One write transaction, committed (durably) on leaving, rolled back on any error.
        `counted`: a commit the collector acknowledges, counted in it and then in the mirror
        if it changed anything (a replay writes nothing)."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                changes = self.db.total_changes
                yield
                counted = counted and self.db.total_changes != changes
                if counted:  # the database's own count: right beside any other writer too
                    counted = int(self.db.execute(
                        "INSERT INTO meta VALUES ('commits', '1') ON CONFLICT(key) DO UPDATE "
                        "SET value = value + 1 RETURNING value").fetchone()[0])
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # a failed COMMIT (disk full) may have rolled back
                    self.db.execute("ROLLBACK")
                raise
            if counted:
                self.commits = counted
                self._mirror()

    def insert_rows(self, rows):
        """Rows of COLUMNS in one durable transaction, with none of store_batch's checks: the
        backend's bare insert, what the plain receiver of `lostcard bench sync` does per
        request (bench/plain_receiver.py)."""
        with self._transaction():
            self.db.executemany("INSERT OR IGNORE INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                rows)

    def health(self):
        """A cheap liveness check of the database."""
        with self.lock:
            self.db.execute("SELECT 1").fetchone()

    def incidents(self, cause=None, device=None, since=None, limit=1000):
        """Stored incidents, oldest first per device; `since` is on the terminal's clock."""
        sql, args = incidents_query(cause, device, since, limit, "?")
        with self.lock:
            rows = self.db.execute(sql, args).fetchall()
        return [dict(zip(INCIDENT_FIELDS, row)) for row in rows]

    def incident_rows(self):
        """Every stored incident as a row of COLUMNS, in (device, seq) order."""
        with self.lock:
            return self.db.execute("SELECT * FROM incidents ORDER BY device, seq").fetchall()

    def sequences(self):
        """{device: [seq, ...]}: what the collector holds, each stored sequence number once."""
        held = {}
        with self.lock:
            for device, seq in self.db.execute("SELECT device, seq FROM incidents"):
                held.setdefault(device, []).append(seq)
        return held

    def report_snapshot(self):
        """What the report reads, from one snapshot while the collector goes on writing:
        (incidents as (device, time, cause, subcause, action, token, last4, sealed) in (device,
        seq) order, quarantined records as (device, reason, count), gaps as (device, evicted_1,
        evicted_2, evicted_3, corrupt, lost to a restore) per device)."""
        with self.lock, self._snapshot():
            incidents = self.db.execute(
                "SELECT device, time, cause, subcause, action, token, last4, sealed "
                "FROM incidents ORDER BY device, seq").fetchall()
            quarantine = self.db.execute(
                "SELECT device, reason, COUNT(*) FROM quarantine GROUP BY device, reason "
                "ORDER BY device, reason").fetchall()
            gaps = self.db.execute(  # a device id's incarnations, together
                "SELECT device, SUM(evicted_1), SUM(evicted_2), SUM(evicted_3), SUM(corrupt), "
                "SUM(lost) FROM gaps GROUP BY device ORDER BY device").fetchall()
        return incidents, quarantine, gaps

    @contextmanager
    def _snapshot(self):
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def stats(self):
        """`collector stats`' counts, from one snapshot (one read transaction) while the
        collector goes on writing."""
        with self.lock, self._snapshot():
            one = lambda sql: self.db.execute(sql).fetchone()[0]
            causes = dict(self.db.execute(
                "SELECT cause, COUNT(*) FROM incidents GROUP BY cause ORDER BY cause").fetchall())
            reasons = dict(self.db.execute(
                "SELECT reason, COUNT(*) FROM quarantine GROUP BY reason").fetchall())
            gaps = self.db.execute("SELECT COALESCE(SUM(evicted_1),0), COALESCE(SUM(evicted_2),0),"
                                   " COALESCE(SUM(evicted_3),0), COALESCE(SUM(corrupt),0), "
                                   "COALESCE(SUM(lost),0) FROM gaps").fetchone()
            return stats_of(
                one("SELECT COUNT(*) FROM incidents"),
                one("SELECT COUNT(DISTINCT device) FROM incidents"), causes,
                one("SELECT COALESCE(SUM(rows + dropped), 0) FROM quarantine_held"), reasons,
                one("SELECT COALESCE(SUM(rows - kept + dropped), 0) FROM quarantine_held"), gaps)

    def describe(self):
        return "SQLite, WAL"

    def reader(self):
        """A read-only store on the same database, with a connection of its own: /metrics reads
        through it, so that a scrape never holds this store's lock (the writer's)."""
        return SqliteStore(self.path, readonly=True)

    def incident_counts(self):
        """[(device, cause, incidents)]: /metrics' figures (lostcard_cpython.metrics)."""
        with self.lock:
            return self.db.execute(INCIDENT_COUNTS).fetchall()

    def alert_counts(self):
        """{"pending": n, "sent": n}: the outbox's alerts."""
        with self.lock:
            pending, sent = self.db.execute(ALERT_COUNTS).fetchone()
        return {"pending": pending, "sent": sent}

    def due_alerts(self, now_ms, limit):
        """[(key, JSON body)] of unsent alerts due by `now_ms`, oldest first (alerts.Sender)."""
        with self.lock:
            return self.db.execute(DUE_ALERTS.format("?"), (now_ms, limit)).fetchall()

    def claim_alert(self, key, now_ms, until_ms):
        """Hold the alert `key` from other senders until `until_ms`: its failed attempts so far,
        or None if it is not due (sent, or held by another sender)."""
        with self._transaction():
            row = self.db.execute(CLAIM_ALERT.format("?"), (until_ms, key, now_ms)).fetchone()
        return None if row is None else row[0]

    def alert_sent(self, key, now):
        with self._transaction():
            self.db.execute(ALERT_SENT.format("?"), (now, key))

    def alert_failed(self, key, due_ms):
        """One more failed attempt; due again at `due_ms` (the sender's backoff)."""
        with self._transaction():
            self.db.execute(ALERT_FAILED.format("?"), (due_ms, key))

    def write_probe(self):
        """A write transaction that changes nothing the collector reads: whether the database
        takes writes again after one failed (disk full, I/O error)."""
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('write_probe', ?)",
                            (str(int(time.time())),))

    def backup(self, out):
        """Copy the database into the new file `out` (0600; never over an existing one) with
        SQLite's online backup, one consistent snapshot while the collector writes, and check
        the copy. Returns (incidents, terminals, commits) it holds."""
        try:
            os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise LostcardError("%s exists: a backup never overwrites a file; name a new one"
                                % out) from None
        umask = os.umask(0o077)  # the copy's -wal and -shm while it is checked
        try:
            copy = sqlite3.connect(out, isolation_level=None)
            try:
                with self.lock:
                    self.db.backup(copy)
                found = copy.execute("PRAGMA quick_check(1)").fetchone()[0]
                if found != "ok":
                    raise DamagedDatabase("the copy of %s is damaged (quick_check: %s): the "
                                          "database is; no backup written" % (self.path,
                                                                              _said(found)))
                incidents, terminals = copy.execute(
                    "SELECT COUNT(*), COUNT(DISTINCT device) FROM incidents").fetchone()
                row = copy.execute("SELECT value FROM meta WHERE key = 'commits'").fetchone()
            finally:
                copy.close()
        except BaseException:
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(out + suffix):
                    os.remove(out + suffix)
            raise
        finally:
            os.umask(umask)
        return incidents, terminals, int(row[0]) if row else 0

    def close(self):
        self.db.close()
        if self.mirror is not None:
            os.close(self.mirror)
