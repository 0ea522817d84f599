"""The `lostcard` command."""

import argparse
import os
import sys

from lostcard.errors import LostcardError


def _input(args):
    """The policy and the bytes of the input file (or stdin) of classify and explain."""
    from .acquirer import load_policy

    policy = load_policy(args.policy)
    if args.file in (None, "-"):
        return policy, sys.stdin.buffer.read()
    with open(args.file, "rb") as f:
        return policy, f.read()


def _classify(args):
    from .jsonl import classify_bytes

    policy, data = _input(args)
    return 1 if classify_bytes(data, sys.stdout, policy, args.pretty) else 0


def _explain(args):
    from .explain import explain_bytes

    policy, data = _input(args)
    return 1 if explain_bytes(data, sys.stdout, policy, args.format) else 0


def _rules_doc(args):
    from .rulesdoc import render

    sys.stdout.write(render())
    return 0


def _demo(args):
    from . import demo

    return 0 if demo.run(sys.stdout, args.state, args.port, args.fresh) else 1


def _bench(args):
    from . import bench

    bench.run(args.what, sys.stdout, args.runs, args.declines)
    return 0


def _read_message(source):
    """One COSE message from a file or stdin, as binary or as hex text."""
    if source in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        with open(source, "rb") as f:
            data = f.read()
    text = data.strip()
    try:
        return bytes.fromhex(text.decode("ascii")) if text else data
    except (UnicodeDecodeError, ValueError):
        return data


def _hex_arg(text, what):
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise LostcardError("%s is not hex" % what) from None


def _cose_open(args):
    from lostcard import cose
    from lostcard.errors import AuthenticationError

    from . import crypto

    key = _hex_arg(args.key_hex, "--key-hex")
    if len(key) != 16:
        raise LostcardError("--key-hex must be 16 bytes (32 hex digits) for AES-CCM-16-64-128")
    try:
        print(cose.open(crypto.aead(key), _read_message(args.file)).hex())
    except AuthenticationError:
        print("authentication failed", file=sys.stderr)
        return 1
    return 0


def _queue(args):
    import time

    from . import queuecli

    if not os.path.isdir(args.dir):
        raise LostcardError("no queue directory %s" % args.dir)
    if args.queue_command == "status":
        print(queuecli.status(args.dir, lambda: int(time.time())))
    elif args.queue_command == "list":
        print(queuecli.listing(args.dir))
    else:
        print(queuecli.inspect(args.dir))
    return 0


def _sync(args):
    import random
    import time

    from lostcard.queue import Queue
    from lostcard.sync import Uploader

    from . import crypto
    from .storage import DirStorage
    from .transport import HttpTransport

    if not os.path.isdir(args.dir):
        raise LostcardError("no queue directory %s" % args.dir)
    probe = Queue(DirStorage(args.dir))
    device_id, ack_key = probe.device_id, probe.ack_key
    if device_id is None:
        raise LostcardError("queue %s was provisioned without a device id and ack key" % args.dir)
    queue = Queue(DirStorage(args.dir), writable=True)
    total = queue.stats()["records"]
    bar = _progress(total)
    uploader = Uploader(queue, HttpTransport(args.url, timeout=args.timeout), crypto, os.urandom,
                        device_id, ack_key, progress=bar)
    if not args.now:
        time.sleep(random.uniform(0, args.spread))  # a fleet back from an outage spreads out
    try:
        sent = uploader.run(time.sleep, random.uniform, max_failures=args.max_failures)
    except LostcardError as exc:
        print("\nlostcard: sync stopped: %s" % exc, file=sys.stderr)
        return 1
    print("\nsynced %d incidents; %d left" % (sent, queue.stats()["records"]), file=sys.stderr)
    return 0


def _progress(total):
    done = [0]

    def show(acked, remaining):
        done[0] += acked
        width = 30
        filled = width * done[0] // max(total, 1)
        sys.stderr.write("\r[%s%s] %d/%d" % ("#" * filled, "." * (width - filled), done[0], total))
        sys.stderr.flush()
    return show


def _collector(args):
    from .collector_store import SqliteStore
    from .jsonl import dumps

    if args.collector_command == "serve":
        from .collector import serve

        serve(args.db, _read_secret(args.fleet_secret_file), args.host, args.port)
        return 0
    if not os.path.exists(args.db):
        raise LostcardError("no collector database %s" % args.db)
    if args.collector_command == "report":
        from . import report

        report.write(args.db, _read_secret(args.fleet_secret_file), args.out)
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


def _provision(args):
    from . import provision

    provision.write(args.out, _read_secret(args.fleet_secret_file), args.device_id,
                    args.first_seq)
    print("provisioning file for %s written to %s: copy it to the terminal once, then delete it"
          % (args.device_id, args.out), file=sys.stderr)
    return 0


def _read_secret(path):
    """The fleet secret from a file: hex text (as provisioning tools write it) or raw bytes."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        secret = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = data
    if len(secret) < 16:
        raise LostcardError("fleet secret in %s is shorter than 16 bytes" % path)
    return secret


def _inspect(args):
    from lostcard.errors import AuthenticationError

    from .incidents import open_incident
    from .jsonl import dumps

    try:
        incident = open_incident(_read_secret(args.fleet_secret_file), _read_message(args.file))
    except AuthenticationError:
        print("authentication failed", file=sys.stderr)
        return 1
    except LostcardError as exc:  # opened, but not a record of ours
        print("lostcard: %s" % exc, file=sys.stderr)
        return 1
    print(dumps(incident, pretty=True))
    return 0


def _non_negative(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


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

    e = sub.add_parser("explain", help="how each decline event was decided: facts, evidence, "
                                       "discounts, safety rules")
    e.add_argument("file", nargs="?", help="JSON Lines file, or - for standard input (default)")
    e.add_argument("--format", choices=["text", "json"], default="text",
                   help="text for a person (default), or one JSON object per event")
    e.add_argument("--policy", help="per-acquirer response-code overrides (JSON)")
    e.set_defaults(run=_explain)

    rd = sub.add_parser("rules-doc", help="print docs/RULES.md: the safety invariants and every "
                                          "rule, code, discount, action and risk of the policy")
    rd.set_defaults(run=_rules_doc)

    d = sub.add_parser("demo", help="a day at three terminals: outage, power cut, sync, check")
    d.add_argument("--state", default="lostcard-demo",
                   help="state directory: queues, collector database (default ./lostcard-demo)")
    d.add_argument("--port", choices=["cpython", "mpy"], default="cpython",
                   help="run the terminals on CPython or on the real MicroPython interpreter")
    d.add_argument("--fresh", action="store_true",
                   help="start clean (default: resume the state of an earlier run)")
    d.set_defaults(run=_demo)

    b = sub.add_parser("bench", help="benchmarks, CPython beside MicroPython")
    b.add_argument("what", choices=["classify", "records", "queue", "sync", "device", "backlog"])
    b.add_argument("--declines", type=_positive, default=500, help="device, backlog: declines per run")
    b.add_argument("--runs", type=_positive, default=200, help="timed runs per scenario")
    b.set_defaults(run=_bench)

    bm = sub.add_parser("build-mpy", help="compile the device bundle (.mpy, manifest.py, main.py)")
    bm.add_argument("--out", required=True, help="output directory")
    bm.set_defaults(run=_build_mpy)

    pr = sub.add_parser("provision", help="write a new terminal's provisioning file")
    pr.add_argument("--fleet-secret-file", required=True)
    pr.add_argument("--device-id", required=True)
    pr.add_argument("--out", required=True, help="the file to write (must not exist)")
    pr.add_argument("--first-seq", type=_positive, default=1)
    pr.set_defaults(run=_provision)

    co = sub.add_parser("cose", help="COSE_Encrypt0 tools")
    cosub = co.add_subparsers(dest="cose_command", required=True)
    op = cosub.add_parser("open", help="open one COSE_Encrypt0 (binary or hex) and print the "
                                       "plaintext as hex")
    op.add_argument("--key-hex", required=True, help="AES-128 key, 32 hex digits")
    op.add_argument("file", nargs="?", help="the message file, or - for standard input (default)")
    op.set_defaults(run=_cose_open)

    i = sub.add_parser("inspect", help="open a sealed incident with the fleet secret, show it "
                                       "as JSON")
    i.add_argument("--fleet-secret-file", required=True, help="file holding the fleet secret "
                                                               "(hex, or raw bytes)")
    i.add_argument("file", nargs="?", help="the sealed incident, or - for standard input")
    i.set_defaults(run=_inspect)

    qu = sub.add_parser("queue", help="a terminal's queue of sealed incidents (emulator)")
    qu.add_argument("queue_command", choices=["status", "list", "inspect"],
                    help="status: counts; list: records awaiting upload; inspect: files")
    qu.add_argument("--dir", required=True, help="the queue directory")
    qu.set_defaults(run=_queue)

    sy = sub.add_parser("sync", help="upload a queue's backlog to a collector")
    sy.add_argument("--dir", required=True, help="the queue directory")
    sy.add_argument("--url", required=True, help="the collector, e.g. http://127.0.0.1:8080")
    sy.add_argument("--now", action="store_true", help="skip the random delay before starting")
    sy.add_argument("--spread", type=_non_negative, default=60.0,
                    help="longest random delay before the first upload, seconds (default 60)")
    sy.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    sy.add_argument("--max-failures", type=int, default=8,
                    help="give up after this many failures in a row (default 8)")
    sy.set_defaults(run=_sync)

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
    inc.add_argument("--limit", type=_positive, default=1000, help="most rows (default 1000)")
    st = cs.add_parser("stats", help="counts by cause, quarantine and known gaps")
    st.add_argument("--db", default="collector.db")
    rep = cs.add_parser("report", help="the acquirer's incident report: one self-contained HTML "
                                       "page")
    rep.add_argument("--db", default="collector.db")
    rep.add_argument("--fleet-secret-file", required=True, help="opens the records' facts")
    rep.add_argument("--out", default="report.html")
    for parser_ in (serve, inc, st, rep):
        parser_.set_defaults(run=_collector)
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
