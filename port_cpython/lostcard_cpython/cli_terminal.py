"""`lostcard provision|cose|inspect|queue|sync`: a terminal's keys, sealed incidents, queue and upload."""

import os
import sys

from lostcard.errors import LostcardError

from .cli_args import non_negative, positive, read_message, read_secret


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
        print(cose.open(crypto.aead(key), read_message(args.file)).hex())
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


def _provision(args):
    from . import provision

    provision.write(args.out, read_secret(args.fleet_secret_file), args.device_id,
                    args.first_seq)
    print("provisioning file for %s written to %s: copy it to the terminal once, then delete it"
          % (args.device_id, args.out), file=sys.stderr)
    return 0


def _inspect(args):
    from lostcard.errors import AuthenticationError

    from .incidents import open_incident
    from .jsonl import dumps

    try:
        incident = open_incident(read_secret(args.fleet_secret_file), read_message(args.file))
    except AuthenticationError:
        print("authentication failed", file=sys.stderr)
        return 1
    except LostcardError as exc:  # opened, but not a record of ours
        print("lostcard: %s" % exc, file=sys.stderr)
        return 1
    print(dumps(incident, pretty=True))
    return 0


def add_parsers(sub):
    pr = sub.add_parser("provision", help="write a new terminal's provisioning file")
    pr.add_argument("--fleet-secret-file", required=True)
    pr.add_argument("--device-id", required=True)
    pr.add_argument("--out", required=True, help="the file to write (must not exist)")
    pr.add_argument("--first-seq", type=positive, default=1)
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
    sy.add_argument("--spread", type=non_negative, default=60.0,
                    help="longest random delay before the first upload, seconds (default 60)")
    sy.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    sy.add_argument("--max-failures", type=int, default=8,
                    help="give up after this many failures in a row (default 8)")
    sy.set_defaults(run=_sync)
