"""`lostcard collector serve|incidents|stats|report|watchlist|policy`: the acquirer's collector,
what it holds, and the updates it serves its terminals.

Only `serve` creates a database; `watchlist --publish` and `policy publish` write into one that
a collector served (and bring it up to this release); the others open it read-only."""

import logging
import os
import sys
import time

from lostcard import vocab
from lostcard.errors import LostcardError

from .cli_args import add_secret, collector_url, port, positive, read_secret

log = logging.getLogger("lostcard.collector")
INCIDENT_TABLE = "%-12s %8s %10s  %-17s %-24s %-18s %4s %-5s"
INCIDENT_COLUMNS = ("device", "seq", "time", "cause", "subcause", "action", "prio", "last4")
WATCHLIST_TABLE = "%-10s %-5s %-12s %9s  %-16s"
STATUS_TABLE = "%-12s %7s %9s  %-17s %-20s  %s"


def _check_fleet(secret, args, damage=False):
    """Refuse a secret other than the one the database was created with (a typo in the file,
    another fleet's secret): a collector that opened nothing would quarantine every record.
    `damage`: refuse a damaged database first (SqliteStore.check), unless `--accept-loss` accepts
    commits found missing. Read-only: a refused start changes nothing."""
    from .fleet_secret import fingerprint

    from .collector_store import (CommitsLost, DamagedDatabase, NotACollectorDatabase,
                                  acknowledged_commits, open_store)

    # any release's database: one from before an upgrade is checked before serve upgrades it
    try:
        store = open_store(args.db, readonly=True, any_release=True)
    except NotACollectorDatabase as exc:  # a young one whose log, schema and all, was damaged?
        if damage and acknowledged_commits(args.db):
            raise DamagedDatabase(
                "%s; yet its collector acknowledged %d commits (its write-ahead log damaged?): "
                "restore the latest backup, or move it and its -wal, -shm and -commits files "
                "aside to start a new one" % (exc, acknowledged_commits(args.db))) from None
        raise
    try:
        if damage:
            try:
                store.check()
            except CommitsLost as exc:
                if not args.accept_loss:
                    raise
                log.warning("serving on with --accept-loss: %s", str(exc).split(";")[0])
        held = store.fleet_fingerprint()
    finally:
        store.close()
    if held is not None and held != fingerprint(secret):
        _not_the_fleet(args, store.path, fingerprint(secret), held)


def _not_the_fleet(args, db, ours, held):
    raise LostcardError("the fleet secret in %s is not the one %s was created with "
                        "(fingerprint %s, database %s)" % (args.fleet_secret_file, db, ours, held))


def _serve(args):
    from .collector import bind, serve
    from .collector_server import tls_context
    from .collector_store import is_url, open_store
    from .fleet_secret import fingerprint
    from .metrics import read_token

    tls = tls_context(args.tls_cert, args.tls_key)
    secret = read_secret(args)
    token = None if args.metrics_token_file is None else read_token(args.metrics_token_file)
    sock = bind(args.host, args.port)  # before the database: a busy port creates nothing
    try:
        if is_url(args.db) or os.path.exists(args.db):
            _check_fleet(secret, args, damage=True)
        store = open_store(args.db)
        try:
            # a new database: this fleet's, unless another process claimed it since the check
            held = store.fleet_fingerprint(claim=fingerprint(secret))
            if held != fingerprint(secret):
                _not_the_fleet(args, store.path, fingerprint(secret), held)
            serve(sock, store, secret, args.access_log, tls, token, args.alert_url)
        finally:
            store.close()  # the last connection: SQLite folds and removes its -wal and -shm
    finally:
        sock.close()
    return 0


def _open(args):
    from .collector_store import open_store

    return open_store(args.db, readonly=True)


def _incidents(args):
    from .jsonl import dumps
    from .report_analysis import when

    since = None if args.since is None else when(args.since, "--since")  # as the report reads it
    if since is not None and since < 0:  # SQLite would take it; no terminal's clock says it
        raise LostcardError("--since %r is before 1970" % args.since)
    rows = _open(args).incidents(args.cause, args.device, since, args.limit + 1)
    if args.format == "table":
        print(INCIDENT_TABLE % INCIDENT_COLUMNS)
    for row in rows[:args.limit]:
        if args.format == "json":
            print(dumps(row))
        else:
            print(INCIDENT_TABLE % tuple("-" if row[c] is None else row[c] for c in (
                "device", "seq", "time", "cause", "subcause", "action", "priority", "last4")))
    if len(rows) > args.limit:
        print("lostcard: more than %d incidents; raise --limit" % args.limit, file=sys.stderr)
    return 0


def _stats(args):
    from .jsonl import dumps

    store = _open(args)
    stats = store.stats()
    found = _status(store)
    stats["updates"] = {"newest": found["newest"], "behind": found["behind"],
                        "refusals": [dict(terminal=t["terminal"], **t["refused"])
                                     for t in found["terminals"] if t["refused"]]}
    if args.format == "json":
        print(dumps(stats, pretty=True))
        return 0
    print("incidents %d from %d terminals; quarantined %d" % (
        stats["incidents"], stats["devices"], stats["quarantined"]))
    for cause, count in stats["by_cause"].items():
        print("  %-17s %d" % (cause, count))
    for reason, count in stats["quarantine_reasons"].items():
        print("  quarantined: %s: %d" % (reason, count))
    bounds = stats["quarantine_bounds"]
    print("quarantine keeps the bytes of %d records per terminal, %d in all; past that only "
          "digest and reason: %d so far" % (bounds["per_device"], bounds["total"],
                                             stats["quarantine_bytes_dropped"]))
    gaps = stats["known_gaps"]
    print("known gaps: evicted %s; corrupt %d; lost to a restore older than the terminals' "
          "retention window %d" % (", ".join("priority %d: %d" % kv for kv in
                                             gaps["evicted"].items()), gaps["corrupt"],
                                   gaps["lost_to_restore"]))
    up = stats["updates"]
    print("updates: policy version %d, watchlist version %d; terminals behind: policy %d, "
          "watchlist %d" % (up["newest"]["policy"], up["newest"]["watchlist"],
                            up["behind"]["policy"], up["behind"]["watchlist"]))
    for r in up["refusals"]:
        print("  refused by %s: %s" % (r["terminal"], _refusal(r)))
    return 0


def _status(store):
    """publish.status, its times in ISO 8601 (UTC)."""
    from .publish import status
    from .report_tables import iso

    found = status(store)
    for t in found["terminals"]:
        t["seen"] = iso(t["seen"])
        if t["refused"]:
            t["refused"]["at"] = iso(t["refused"]["at"])
    return found


def _refusal(r):
    return "%s version %d at %s: %s" % (r["kind"], r["version"], r["at"], r["reason"])


def _backup(args):
    from .collector_store import is_url

    if is_url(args.db):
        raise LostcardError("--db names a PostgreSQL database: back it up with pg_dump or a base "
                            "backup (README, \"A collector fleet on PostgreSQL\")")
    if os.path.exists(args.out) and os.path.exists(args.db) and os.path.samefile(args.out,
                                                                                    args.db):
        raise LostcardError("--out %s is the database itself: name a new file" % args.out)
    store = _open(args)
    try:
        incidents, terminals, commits = store.backup(args.out)
    finally:
        store.close()
    print("backup of %s in %s: %d incidents from %d terminals, %d commits; checked "
          "(quick_check ok)" % (args.db, args.out, incidents, terminals, commits))
    return 0


def _restore(args):
    from .collector_restore import restore

    incidents, terminals, aside = restore(args.db, args.backup)
    print("restored %s from %s: %d incidents from %d terminals%s. Start the collector: terminals "
          "send again what their retention windows hold above it (docs/SYNC.md, \"Restore\")" % (
              args.db, args.backup, incidents, terminals,
              "; the database it replaced is %s" % aside if aside else ""))
    return 0


def _publishing(args):
    """The store to publish into: a database a collector has served (a typo in --db creates
    nothing), brought up to this release."""
    from .collector_store import open_store

    store = open_store(args.db, readonly=True, any_release=True)
    try:
        held = store.fleet_fingerprint()
    finally:
        store.close()
    if held is None:
        raise LostcardError("%s holds no collector database: run `lostcard collector serve` on "
                            "it first" % store.path)
    return open_store(args.db)


def _publish(args, kind, body, what):
    from .publish import KIND_NAMES, publish

    store = _publishing(args)
    try:
        version, new = publish(store, kind, body)
    finally:
        store.close()
    if new:
        print("published %s version %d (%d bytes): terminals fetch it on their next sync"
              % (KIND_NAMES[kind], version, len(body)))
    else:
        print("%s unchanged from %s version %d: nothing published" % (what, KIND_NAMES[kind],
                                                                       version))


def _watchlist(args):
    from lostcard import protocol

    from . import publish, report_data
    from .report_analysis import shown, utc

    secret = read_secret(args)
    _check_fleet(secret, args)
    incidents = report_data.load(args.db, secret, int(time.time()))[0]
    cards = publish.watchlist(incidents, args.min_terminals)
    print(WATCHLIST_TABLE % ("token", "last4", "brand", "terminals", "last seen (UTC)"))
    for token, last4, brand, n, seen in cards:
        print(WATCHLIST_TABLE % (shown(token) + "…", last4 or "-", brand or "-", n, utc(seen)))
    full = len(cards) == publish.updates.MAX_ENTRIES
    print("%d card%s declined as compromised at %d or more terminals%s" % (
        len(cards), "" if len(cards) == 1 else "s", args.min_terminals,
        " (as many as the watchlist holds)" if full else ""))
    if args.publish:
        _publish(args, protocol.WATCHLIST, publish.watchlist_body(cards), "these cards are")
    return 0


def _policy_publish(args):
    from lostcard import protocol

    from .publish import Refused, policy_body

    try:
        body = policy_body(args.file)  # checked before the database is opened
    except Refused as exc:
        raise LostcardError("policy refused, nothing published: %s" % exc) from None
    _publish(args, protocol.POLICY, body, "this policy is")
    return 0


def _policy_status(args):
    from .jsonl import dumps

    found = _status(_open(args))
    if args.format == "json":
        print(dumps(found, pretty=True))
        return 0
    newest, behind = found["newest"], found["behind"]
    print("newest: policy version %d, watchlist version %d; terminals behind: policy %d, "
          "watchlist %d" % (newest["policy"], newest["watchlist"], behind["policy"],
                            behind["watchlist"]))
    print(STATUS_TABLE % ("terminal", "policy", "watchlist", "behind", "last seen (UTC)",
                          "last refusal"))
    for t in found["terminals"]:
        print(STATUS_TABLE % (t["terminal"], t["policy"], t["watchlist"],
                              ", ".join(t["behind"]) or "-", t["seen"],
                              _refusal(t["refused"]) if t["refused"] else "-"))
    return 0


def _report(args):
    from . import report_command

    secret = read_secret(args)
    _check_fleet(secret, args)
    return report_command.run(args, secret)


def add_parsers(sub):
    co = sub.add_parser("collector", help="the acquirer's collector of incidents")
    cs = co.add_subparsers(dest="collector_command", required=True, metavar="COMMAND")
    serve = cs.add_parser("serve", help="run the collector (HTTP, or HTTPS with --tls-cert and "
                                          "--tls-key); logs one line when it is up")
    serve.add_argument("--db", required=True,
                       help="SQLite database (created if absent, for this fleet secret only), "
                            "or a postgresql:// URL (its schema created or migrated)")
    add_secret(serve, "opens the terminals' records and keys their acknowledgements")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=port, default=8080, help="TCP port to listen on")
    serve.add_argument("--access-log", action="store_true", help="log one line per request")
    serve.add_argument("--tls-cert", metavar="PEM",
                       help="serve https with this certificate (chain), PEM; with --tls-key")
    serve.add_argument("--tls-key", metavar="PEM",
                       help="the certificate's private key, PEM, unencrypted; with --tls-cert")
    serve.add_argument("--accept-loss", action="store_true",
                       help="serve on a database that lost commits it acknowledged (a damaged "
                            "write-ahead log, a backup restored): terminals re-send what they "
                            "still hold (docs/SYNC.md, \"Storage faults\")")
    serve.add_argument("--metrics-token-file", metavar="FILE",
                       help="serve GET /metrics (Prometheus) to requests with `Authorization: "
                            "Bearer <the token in FILE>` (default: no /metrics; "
                            "docs/MONITORING.md)")
    serve.add_argument("--alert-url", type=collector_url, metavar="URL",
                       help="POST one JSON alert to this http(s) URL per new ring of "
                            "compromised cards, tamper, or jump of a terminal's rate "
                            "(default: alerts kept in the database only; docs/MONITORING.md)")
    serve.set_defaults(run=_serve, kept="every acknowledged incident is in the database")

    inc = cs.add_parser("incidents", help="stored incidents, oldest first per terminal")
    inc.add_argument("--db", default="collector.db", help="the collector's database (read only): "
                                                              "a SQLite file or a postgresql:// URL")
    inc.add_argument("--cause", choices=vocab.CAUSES, help="only this cause (default: all)")
    inc.add_argument("--device", help="only this terminal (default: all)")
    inc.add_argument("--since", help="only from this day or time on, on the terminals' clocks: "
                                     "2026-11-25, 2026-11-25T09:30 (UTC) or a unix time "
                                     "(default: all)")
    inc.add_argument("--limit", type=positive, default=1000, help="most rows")
    inc.add_argument("--format", choices=["json", "table"], default="json",
                     help="one JSON object per line, or a table for a person")
    inc.set_defaults(run=_incidents)

    st = cs.add_parser("stats", help="counts by cause, quarantine and known gaps")
    st.add_argument("--db", default="collector.db", help="the collector's database (read only): "
                                                              "a SQLite file or a postgresql:// URL")
    st.add_argument("--format", choices=["json", "table"], default="json",
                    help="JSON, or a summary for a person")
    st.set_defaults(run=_stats)

    bk = cs.add_parser("backup", help="a checked copy of the database, taken while the "
                                      "collector serves (SQLite's online backup)")
    bk.add_argument("--db", default="collector.db", help="the collector's database (read only)")
    bk.add_argument("--out", required=True, help="the backup: a new file (never overwritten)")
    bk.set_defaults(run=_backup, kept="no backup left half-written (--out removed)")

    rs = cs.add_parser("restore", help="put a backup in the place of the database, the collector "
                                       "stopped; the database it replaces is moved aside")
    rs.add_argument("--db", required=True, help="the collector's database (SQLite)")
    rs.add_argument("--from", dest="backup", required=True, metavar="BACKUP",
                    help="a file `collector backup` wrote (checked first)")
    rs.set_defaults(run=_restore, kept="the database it replaces is moved aside, never deleted")

    rep = cs.add_parser("report", help="the acquirer's incident report: one self-contained HTML "
                                       "page, or its tables as csv or json")
    rep.add_argument("--db", default="collector.db", help="the collector's database (read only): "
                                                              "a SQLite file or a postgresql:// URL")
    add_secret(rep, "opens the records' facts")
    from .report_command import add_options

    add_options(rep)
    rep.set_defaults(run=_report)

    wl = cs.add_parser("watchlist", help="the cards declined as compromised at several terminals "
                                         "(the report's skimming ring); --publish sends them to "
                                         "every terminal as the next watchlist version")
    wl.add_argument("--db", required=True, help="the collector's database: a SQLite file or a "
                                                "postgresql:// URL")
    add_secret(wl, "opens the records' facts")
    wl.add_argument("--min-terminals", type=positive, default=2,
                    help="a card declined as compromised at this many terminals or more")
    wl.add_argument("--publish", action="store_true",
                    help="publish them as the next watchlist version (nothing when unchanged)")
    wl.set_defaults(run=_watchlist, kept="a version is published whole or not at all")

    po = cs.add_parser("policy", help="the acquirer policy the terminals receive")
    ps = po.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    pp = ps.add_parser("publish", help="check an acquirer policy file (the overrides format) "
                                       "and publish it as the next policy version")
    pp.add_argument("--db", required=True, help="the collector's database: a SQLite file or a "
                                                "postgresql:// URL")
    pp.add_argument("--file", required=True, metavar="P",
                    help="the overrides file (JSON: name, response_codes; fixtures/policies/)")
    pp.set_defaults(run=_policy_publish, kept="a version is published whole or not at all")
    pst = ps.add_parser("status", help="which policy and watchlist versions each terminal runs, "
                                       "who is behind, the last refusals")
    pst.add_argument("--db", default="collector.db", help="the collector's database (read "
                                                          "only): a SQLite file or a "
                                                          "postgresql:// URL")
    pst.add_argument("--format", choices=["json", "table"], default="table",
                     help="a table for a person, or JSON")
    pst.set_defaults(run=_policy_status)
