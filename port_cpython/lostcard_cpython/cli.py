"""The `lostcard` command: the parser and main(); each command group lives in its own module
(cli_decide, cli_terminal, cli_collector)."""

import argparse
import os
import sys

from lostcard.errors import LostcardError

from . import cli_collector, cli_decide, cli_terminal
from .cli_args import positive


def _demo(args):
    from . import demo

    return 0 if demo.run(sys.stdout, args.state, args.port, args.fresh) else 1


def _bench(args):
    from . import bench

    bench.run(args.what, sys.stdout, args.runs, args.declines)
    return 0


def _build_mpy(args):
    from . import mpybuild

    sizes = mpybuild.build_device(args.out)
    for name in sorted(sizes):
        print("%7d  %s" % (sizes[name], name))
    code = sum(v for k, v in sizes.items() if k.endswith(".mpy"))
    print("%7d  total .mpy (%.1f KiB; goal <= 48 KiB: %s)" % (
        code, code / 1024, "met" if code <= 48 * 1024 else "NOT met"))
    print("%7d  total on the device, with texts.txt and main.py" % sum(sizes.values()))
    print("freeze: include(\"%s\") from your board manifest"
          % os.path.join(os.path.abspath(args.out), "manifest.py"))
    return 0


def parser():
    p = argparse.ArgumentParser(prog="lostcard", description="Explain lost-card declines at the POS.")
    sub = p.add_subparsers(dest="command", required=True)

    cli_decide.add_parsers(sub)

    d = sub.add_parser("demo", help="a day at three terminals: outage, power cut, sync, check")
    d.add_argument("--state", default="lostcard-demo",
                   help="state directory: queues, collector database (default ./lostcard-demo)")
    d.add_argument("--port", choices=["cpython", "mpy"], default="cpython",
                   help="run the terminals on CPython or on the real MicroPython interpreter")
    d.add_argument("--fresh", action="store_true",
                   help="start clean (default: resume the state of an earlier run)")
    d.set_defaults(run=_demo)

    b = sub.add_parser("bench", help="benchmarks, CPython beside MicroPython")
    b.add_argument("what", choices=["classify", "records", "queue", "sync", "device"])
    b.add_argument("--declines", type=positive, default=500, help="device: declines per run")
    b.add_argument("--runs", type=positive, default=200, help="timed runs per scenario")
    b.set_defaults(run=_bench)

    bm = sub.add_parser("build-mpy", help="compile the device bundle (.mpy, manifest.py, main.py)")
    bm.add_argument("--out", required=True, help="output directory")
    bm.set_defaults(run=_build_mpy)

    cli_terminal.add_parsers(sub)
    cli_collector.add_parsers(sub)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except (LostcardError, OSError) as exc:
        print("lostcard: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
