"""`lostcard bench sync`: the collector's ingest beside the store's bare insert of the same rows,
then records per second from a terminal's queue to a real collector on loopback, with the
CPython and the MicroPython client."""

import os
import tempfile
import time

from lostcard import record, sealing
from lostcard.decision import classify
from lostcard.collector.fleet import device_root, first_chain

from .. import crypto
from .. import scenarios as scenario_file
from .harness import built_bundle, micropython_result

BATCH = 100  # incidents per ingest and per bare insert transaction
DEVICE = "BENCH-1"


def _sealed(secret, records):
    """[seq, sealed incident] of one device, as a terminal would send them."""
    items = scenario_file.load()
    chain = first_chain(crypto, device_root(crypto, secret, DEVICE))
    sealer = sealing.Sealer(crypto, DEVICE, 0, chain)
    sealed = []
    for n in range(1, records + 1):
        event = items[n % len(items)]["event"]
        sealed.append([n, sealer.seal(record.build(event, classify(event), DEVICE, n, crypto,
                                                   bytes(32)), n)])
    return sealed


def run(out, records=1000):
    from ..collector import Collector
    from ..collector_store import open_store

    secret = bytes(32)
    with tempfile.TemporaryDirectory() as tmp:
        sealed = _sealed(secret, records)
        collector = Collector(open_store(os.path.join(tmp, "c.db")), secret)
        t0 = time.perf_counter()
        for start in range(0, records, BATCH):
            collector.ingest(DEVICE, 0, 3, sealed[start:start + BATCH], [0, 0, 0, 0])
        ingest = records / (time.perf_counter() - t0)
        # the bare insert: the same rows into the same schema, same disk, same transactions
        rows = collector.store.incident_rows()
        collector.store.close()
        bare_store = open_store(os.path.join(tmp, "bare.db"))
        t0 = time.perf_counter()
        for start in range(0, records, BATCH):
            bare_store.insert_rows(rows[start:start + BATCH])
        bare = records / (time.perf_counter() - t0)
        bare_store.close()
        end_to_end = _end_to_end(tmp, secret, records // 4)
    out.write("lostcard bench sync: %d incidents, batches of %d\n" % (records, BATCH))
    out.write("%-48s %12.0f\n" % ("collector ingest (incidents/s)", ingest))
    out.write("%-48s %12.0f\n" % ("bare SQLite insert of the same rows (rows/s)", bare))
    out.write("%-48s %12.2f  (goal >= 0.5: %s)\n" % ("ratio", ingest / bare,
                                                     "met" if ingest / bare >= 0.5 else "NOT met"))
    for label, rate in end_to_end:
        out.write("%-48s %12.0f\n" % (label, rate))


def _end_to_end(tmp, secret, count):
    """Records per second from a terminal queue to a real collector on loopback, both clients."""
    from lostcard.queue import Queue
    from lostcard.sync import Uploader

    from ..local_collector import LocalCollector
    from ..storage import DirStorage
    from ..transport import HttpTransport

    secret_file = os.path.join(tmp, "fleet.secret")
    with open(secret_file, "w") as f:
        f.write(secret.hex())
    with built_bundle() as bundle:
        server = LocalCollector(os.path.join(tmp, "e2e.db"), secret_file).start()
        try:
            results = []
            for label, device in (("end to end, CPython client (records/s)", "BENCH-C"),
                                  ("end to end, MicroPython client (records/s)", "BENCH-M")):
                path = os.path.join(tmp, device)
                _fill_queue(path, secret, device, count)
                t0 = time.perf_counter()
                if device == "BENCH-C":
                    q = Queue(DirStorage(path), writable=True)
                    Uploader(q, HttpTransport(server.url), crypto, os.urandom, device,
                             q.ack_key).run(time.sleep, lambda a, b: 0.0, max_failures=3)
                else:
                    # the device budget: the uploader alone fits it whatever the backlog
                    micropython_result(bundle, ["-m", "lostcard_tools.sync_once", path,
                                                server.url], heap="64K")
                results.append((label, count / (time.perf_counter() - t0)))
            return results
        finally:
            server.stop()


def _fill_queue(path, secret, device, count):
    from lostcard.collector import fleet
    from lostcard.queue import Queue

    from ..storage import DirStorage

    chain = first_chain(crypto, device_root(crypto, secret, device))
    Queue.provision(DirStorage(path), chain, device_id=device,
                    ack_key=fleet.ack_key(crypto, secret, device))
    q = Queue(DirStorage(path), lambda e, c: sealing.Sealer(crypto, device, e, c))
    items = scenario_file.load()
    for n in range(count):
        event = items[n % len(items)]["event"]
        q.append(record.build(event, classify(event), device, 0, crypto, bytes(32)), 3)
