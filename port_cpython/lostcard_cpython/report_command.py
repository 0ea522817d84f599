"""`lostcard collector report`'s own options and its run, apart from the command line's
module so that the command line only hands over the database and the fleet secret."""

import sys

from .cli_args import done
from .report_analysis import when
from .report_export import FORMATS

DEFAULT_OUT = {"html": "report.html", "json": "report.json", "csv": "report-csv"}


def add_options(parser):
    parser.description = (
        "The acquirer's incident report. Exits 1 (the report still written) when it raises an "
        "alert: a terminal that detected tampering, incidents the fleet secret does not open, "
        "quarantined records that failed authentication; 1 too when it could not be written "
        "(nothing left of it); 2 on bad input, with nothing written.")
    parser.add_argument("--format", choices=FORMATS, default="html",
                        help="html: one page (default); json: one file of every table; csv: a "
                             "directory with one file per table, <table>.csv")
    parser.add_argument("--out", help="the file to write, or the directory for csv (default "
                                      "report.html, report.json or report-csv)")
    parser.add_argument("--since", help="first day or time, UTC: 2026-11-25 (or 20261125), "
                                        "2026-11-25T09:30 or a unix time (default: no limit)")
    parser.add_argument("--until", help="last day (included) or time (excluded), UTC "
                                        "(default: no limit)")
    parser.add_argument("--terminal", action="append", metavar="ID",
                        help="only this terminal; repeat for several (default: all)")


def run(args, fleet_secret):
    from . import report

    since = None if args.since is None else when(args.since, "--since")
    until = None if args.until is None else when(args.until, "--until", end=True)
    out = args.out or DEFAULT_OUT[args.format]
    alerts = report.write(args.db, fleet_secret, out, fmt=args.format, since=since, until=until,
                          terminals=args.terminal, secret_path=args.fleet_secret_file)
    if alerts:  # written, but someone must act: a script or a cron job must not see success
        print("lostcard: report written to %s, with alerts: %s" % (out, "; ".join(alerts)),
              file=sys.stderr)
        return 1
    done("report written to %s" % out)
    return 0
