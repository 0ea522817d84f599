"""`lostcard keygen|provision|cose|inspect|queue|sync`: the fleet secret, a terminal's keys,
sealed incidents, the queue and its upload."""

import os
import sys

from lostcard.errors import LostcardError

from .cli_args import (add_secret, collector_url, done, positive, read_cose, read_secret,
                       seconds, timeout, wait_seconds)
from .errors import Failed

QUEUE_KEPT = "queue intact; run again to resume"
# `lostcard sync` runs on a host, not in a terminal's heap: batches as large as the collector
# accepts, up to this (docs/SYNC.md)
HOST_BATCH_BYTES = 32 * 1024


def _hex_arg(text, what):
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise LostcardError("%s is not hex" % what) from None


def _keygen(args):
    from . import fleet_secret

    fleet_secret.generate(args.out)
    done("fleet secret written to %s (hex, owner-only): keep it on the provisioning host and "
         "the collector, never on a terminal" % args.out)
    return 0


def _cose_open(args):
    from lostcard import cose

    from . import crypto

    key = _hex_arg(args.key_hex, "--key-hex")
    if len(key) != 16:
        raise LostcardError("--key-hex must be 16 bytes (32 hex digits) for AES-CCM-16-64-128")
    print(cose.open(crypto.aead(key), read_cose(args.file)).hex())
    return 0


def _queue_dir(path):
    """A directory holding a terminal's queue (never created here: DirStorage would)."""
    from lostcard.queue_state import STATE

    if not os.path.isdir(path):
        raise LostcardError("no queue directory %s" % path)
    if not os.path.exists(os.path.join(path, STATE)):
        raise LostcardError("%s holds no queue (no %s file)" % (path, STATE))
    return path


def _queue(args):
    import time

    from . import queuecli

    path = _queue_dir(args.dir)
    if args.queue_command == "status":
        print(queuecli.status(path, lambda: int(time.time()), args.config))
    elif args.queue_command == "list":
        print(queuecli.listing(path, args.format))
    elif args.queue_command == "export":
        print(queuecli.export(path, args.seq))
    else:
        print(queuecli.inspect(path))
    return 0


def _sync(args):
    import random
    import time

    from lostcard.queue import Queue
    from tqdm import tqdm

    from . import crypto, upload
    from .storage import DirStorage
    from .transport import HttpTransport

    if args.ca and not args.url.startswith("https://"):  # asked for a verified collector
        raise LostcardError("--ca is for an https collector: --url %s is plain http, sent in "
                            "clear and verified by nothing; use https://" % args.url)
    path = _queue_dir(args.dir)
    probe = Queue(DirStorage(path))
    device_id, ack_key = probe.device_id, probe.ack_key
    if device_id is None:
        raise LostcardError("queue %s was provisioned without a device id and ack key" % path)
    # before the queue opens to write: a bad --ca file changes nothing
    transport = upload.StatusTransport(HttpTransport(args.url, args.ca, timeout=args.timeout))
    queue = Queue(DirStorage(path), writable=True)
    if not args.now:
        delay = random.uniform(0, args.spread)  # a fleet back from an outage spreads out
        upload.log.info("waiting %.1f s before the first upload (--now skips it)", delay)
        time.sleep(delay)
    with tqdm(total=queue.stats()["records"], unit="incident", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:  # a bar on a terminal, not in a log
        uploader = upload.CountingUploader(queue, transport, crypto, os.urandom, device_id,
                                           ack_key, progress=lambda acked, remaining:
                                           bar.update(acked), max_batch=HOST_BATCH_BYTES)
        upload.run(uploader, transport, time.sleep, random.uniform, time.monotonic,
                   args.max_failures, args.give_up_after)
    done("synced %d incidents; %d left" % (len(uploader.acked), queue.stats()["records"]))
    return 0


def _provision(args):
    from . import provision

    provision.write(args.out, read_secret(args), args.device_id)
    done("provisioning file for %s written to %s: copy it to the terminal once, then delete it"
         % (args.device_id, args.out))
    return 0


def _inspect(args):
    from lostcard.errors import RecordError

    from .incidents import open_incident
    from .jsonl import dumps

    secret, message = read_secret(args), read_cose(args.file)
    try:
        incident = open_incident(secret, message)
    except RecordError as exc:  # opened, but not a record of ours
        raise Failed(str(exc)) from None
    print(dumps(incident, pretty=True))
    return 0


def add_parsers(sub):
    kg = sub.add_parser("keygen", help="make a new fleet secret (hex, readable by its owner "
                                       "only)")
    kg.add_argument("--out", required=True, help="the file to write (must not exist)")
    kg.set_defaults(run=_keygen)

    pr = sub.add_parser("provision", help="write a new terminal's provisioning file")
    add_secret(pr, "the fleet secret the terminal's keys derive from")
    pr.add_argument("--device-id", required=True, help="the terminal's id, e.g. T-0001")
    pr.add_argument("--out", required=True, help="the file to write (must not exist)")
    pr.set_defaults(run=_provision)

    co = sub.add_parser("cose", help="COSE_Encrypt0 tools")
    cosub = co.add_subparsers(dest="cose_command", required=True, metavar="COMMAND")
    op = cosub.add_parser("open", help="open one COSE_Encrypt0 (binary or hex) and print the "
                                       "plaintext as hex; exit 1 if it does not authenticate")
    op.add_argument("--key-hex", required=True, help="AES-128 key, 32 hex digits")
    op.add_argument("file", nargs="?", default="-",
                    help="the message file, or - for standard input")
    op.set_defaults(run=_cose_open)

    i = sub.add_parser("inspect", help="open a sealed incident with the fleet secret, show it "
                                       "as JSON (get one with `lostcard queue export`)")
    add_secret(i, "opens the incident")
    i.add_argument("file", nargs="?", default="-",
                   help="the sealed incident (binary or hex), or - for standard input")
    i.set_defaults(run=_inspect)

    qu = sub.add_parser("queue", help="a terminal's queue of sealed incidents (emulator)")
    qu.add_argument("queue_command", choices=["status", "list", "export", "inspect"],
                    help="status: counts and budget; list: records awaiting upload; export: one "
                         "sealed record as hex (for `lostcard inspect`); inspect: files")
    qu.add_argument("--dir", required=True, help="the queue directory, e.g. "
                                                 "lostcard-demo/T-DEMO-03/queue")
    qu.add_argument("--config", help="status: the terminal's lostcard.json, for its budget "
                                     "(default: the lostcard.json beside --dir, if any)")
    qu.add_argument("--format", choices=["table", "json"], default="table",
                    help="list: a table for a person, or one JSON object per record")
    qu.add_argument("--seq", type=positive,
                    help="export: the record's sequence number (default: the oldest pending)")
    qu.set_defaults(run=_queue)

    sy = sub.add_parser("sync", help="upload a queue's backlog to a collector")
    sy.add_argument("--dir", required=True, help="the queue directory")
    sy.add_argument("--url", required=True, type=collector_url,
                    help="the collector, e.g. http://127.0.0.1:8080")
    sy.add_argument("--ca", help="https: the PEM file of the CA (or the collector's own "
                                 "certificate) to trust, instead of the system's trust store")
    sy.add_argument("--now", action="store_true", help="skip the random delay before starting")
    sy.add_argument("--spread", type=wait_seconds, default=60.0,
                    help="longest random delay before the first upload, seconds")
    sy.add_argument("--timeout", type=timeout, default=10.0, help="per request, seconds")
    sy.add_argument("--max-failures", type=positive, default=8,
                    help="give up after this many failures in a row")
    sy.add_argument("--give-up-after", type=seconds, default=10.0,
                    help="retry no later than this many seconds after the start")
    sy.set_defaults(run=_sync, kept=QUEUE_KEPT)
