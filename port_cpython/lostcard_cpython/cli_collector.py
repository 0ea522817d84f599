"""`lostcard collector serve|incidents|stats|report`: the acquirer's collector and what it holds."""

import os
import sys

from lostcard.errors import LostcardError

from .cli_args import positive, read_secret


def _collector(args):
    from .collector_store import SqliteStore
    from .jsonl import dumps

    if args.collector_command == "serve":
        from .collector import serve

        serve(args.db, read_secret(args.fleet_secret_file), args.host, args.port)
        return 0
    if not os.path.exists(args.db):
        raise LostcardError("no collector database %s" % args.db)
    if args.collector_command == "report":
        from . import report

        report.write(args.db, read_secret(args.fleet_secret_file), args.out)
        print("report written to %s" % args.out, file=sys.stderr)
        return 0
    store = SqliteStore(args.db)
    if args.collector_command == "stats":
        print(dumps(store.stats(), pretty=True))
    else:
        rows = store.incidents(args.cause, args.device, args.since, args.limit + 1)
        for row in rows[:args.limit]:
            print(dumps(row))
        if len(rows) > args.limit:
            print("lostcard: more than %d incidents; raise --limit" % args.limit, file=sys.stderr)
    return 0


def add_parsers(sub):
    co2 = sub.add_parser("collector", help="the acquirer's collector of incidents")
    cs = co2.add_subparsers(dest="collector_command", required=True)
    serve = cs.add_parser("serve", help="run the collector (HTTP)")
    serve.add_argument("--db", required=True, help="SQLite database (created if absent)")
    serve.add_argument("--fleet-secret-file", required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    inc = cs.add_parser("incidents", help="stored incidents, one JSON line each")
    inc.add_argument("--db", default="collector.db")
    inc.add_argument("--cause")
    inc.add_argument("--device")
    inc.add_argument("--since", type=int, help="unix time, on the terminals' clocks")
    inc.add_argument("--limit", type=positive, default=1000, help="most rows (default 1000)")
    st = cs.add_parser("stats", help="counts by cause, quarantine and known gaps")
    st.add_argument("--db", default="collector.db")
    rep = cs.add_parser("report", help="the acquirer's incident report: one self-contained HTML "
                                       "page")
    rep.add_argument("--db", default="collector.db")
    rep.add_argument("--fleet-secret-file", required=True, help="opens the records' facts")
    rep.add_argument("--out", default="report.html")
    for parser_ in (serve, inc, st, rep):
        parser_.set_defaults(run=_collector)
