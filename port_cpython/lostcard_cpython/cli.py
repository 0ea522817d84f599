"""The `lostcard` command."""

import argparse
import os
import sys

from lostcard.errors import LostcardError


def _classify(args):
    from .acquirer import load_policy
    from .jsonl import classify_bytes

    policy = load_policy(args.policy)
    if args.file in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as f:
            data = f.read()
    return 1 if classify_bytes(data, sys.stdout, policy, args.pretty) else 0


def _demo(args):
    from . import demo

    return 1 if demo.run(sys.stdout, args.fixtures) else 0


def _bench(args):
    from . import bench

    bench.run_classify(sys.stdout, args.runs)
    return 0


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser():
    p = argparse.ArgumentParser(prog="lostcard", description="Explain lost-card declines at the POS.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("classify", help="classify decline events (JSON Lines) into decisions")
    c.add_argument("file", nargs="?", help="JSON Lines file, or - for standard input (default)")
    c.add_argument("--pretty", action="store_true", help="indented output for humans")
    c.add_argument("--policy", help="per-acquirer response-code overrides (JSON)")
    c.set_defaults(run=_classify)

    d = sub.add_parser("demo", help="run the labelled scenarios and show what was decided")
    d.add_argument("--fixtures", help="scenario file (default: fixtures/scenarios.jsonl)")
    d.set_defaults(run=_demo)

    b = sub.add_parser("bench", help="benchmarks, CPython beside MicroPython")
    b.add_argument("what", choices=["classify"])
    b.add_argument("--runs", type=_positive, default=200, help="timed runs per scenario")
    b.set_defaults(run=_bench)
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
