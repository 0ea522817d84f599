"""PostgreSQL's part of `lostcard bench sync`: the collector's ingest into PostgreSQL beside the
store's bare insert of the same rows, at the terminals' batch size and at 100, then incidents per
second end to end from concurrent clients to one and to two collector processes sharing one
database. A throwaway server (throwaway_pg, fsync on: SQLite's synchronous=FULL); its start,
the collectors' and the sealing of every backlog stay outside the timed regions."""

import os
import tempfile
import threading
import time

from lostcard import protocol, record, sealing
from lostcard.collector import fleet
from lostcard.decision import classify

from .. import crypto
from .. import scenarios as scenario_file

BATCHES = (7, 100)  # the terminals' real batch size, and a large one
CLIENTS = 8  # concurrent terminals end to end, each its own backlog
SECRET = bytes(32)
ROW = "%-62s %10.0f"


def run(out, records=5000):
    from ..throwaway_pg import ThrowawayPostgres

    server = ThrowawayPostgres()
    names = iter(range(1, 100))
    new_db = lambda: server.create_database("bench_%d" % next(names))
    try:
        out.write("PostgreSQL %s, fsync on: %d incidents\n" % (_version(server), records))
        for batch in BATCHES:
            ingest, bare = _ingest(new_db, records, batch)
            out.write(ROW % ("collector ingest, batches of %d (incidents/s)" % batch, ingest))
            out.write("\n" + ROW % ("bare PostgreSQL insert, batches of %d (rows/s)" % batch, bare))
            out.write("  (ingest/bare %.2f)\n" % (ingest / bare))
        for processes in (1, 2):
            rate, stored = _end_to_end(new_db, records, processes)
            label = "end to end, %d clients, %d collector process%s (incidents/s)" % (
                CLIENTS, processes, "es" if processes > 1 else "")
            out.write(ROW % (label, rate) + "  (stored %d of %d, each once)\n" % (
                stored, records // CLIENTS * CLIENTS))
    finally:
        server.close()


def _version(server):
    from ..collector_store import open_store

    store = open_store(server.create_database("bench_version"))
    try:
        return store.describe().split()[-1]
    finally:
        store.close()


def _backlog(device, count):
    """[[seq, sealed incident], ...] of one terminal, sealed as it seals them."""
    events = [item["event"] for item in scenario_file.load()]
    sealer = sealing.Sealer(crypto, device, 0, fleet.first_chain(
        crypto, fleet.device_root(crypto, SECRET, device)))
    backlog = []
    for seq in range(1, count + 1):
        event = events[seq % len(events)]
        fields = record.build(event, classify(event), device, seq, crypto, bytes(32))
        backlog.append([seq, sealer.seal(fields, seq)])
    return backlog


def _ingest(new_db, records, batch):
    """(collector ingest incidents/s, bare insert rows/s): the same rows, the same batches."""
    from ..collector import Collector
    from ..collector_store import open_store

    backlog = _backlog("BENCH-PG", records)
    collector = Collector(open_store(new_db()), SECRET)
    t0 = time.perf_counter()
    for start in range(0, records, batch):
        collector.ingest("BENCH-PG", 0, 3, backlog[start:start + batch], [0, 0, 0, 0])
    ingest = records / (time.perf_counter() - t0)
    rows = collector.store.incident_rows()
    collector.store.close()
    bare_store = open_store(new_db())
    try:
        t0 = time.perf_counter()
        for start in range(0, records, batch):
            bare_store.insert_rows(rows[start:start + batch])
        return ingest, records / (time.perf_counter() - t0)
    finally:
        bare_store.close()


def _end_to_end(new_db, records, processes):
    """CLIENTS terminals at once, batches of BATCHES[0], each sent to the collectors in turn:
    (incidents/s from the first request to the last reply, incidents stored)."""
    import httpx

    from ..collector_store import open_store
    from ..local_collector import LocalCollector

    db = new_db()
    per_client = records // CLIENTS
    bodies = [_bodies("BENCH-PG-%d" % c, per_client, BATCHES[0]) for c in range(CLIENTS)]
    with tempfile.TemporaryDirectory() as tmp:
        secret_file = os.path.join(tmp, "fleet.secret")
        with open(secret_file, "w") as f:
            f.write(SECRET.hex())
        collectors = [LocalCollector(db, secret_file) for _ in range(processes)]
        try:
            for collector in collectors:
                collector.start()
            failures = []

            def client(mine):
                with httpx.Client(timeout=30) as http:
                    for n, body in enumerate(mine):
                        url = collectors[n % processes].url + "/v1/batch"
                        while True:
                            reply = http.post(url, content=body)
                            if reply.status_code != 429:  # busy: the terminal's retry
                                break
                            time.sleep(0.01)
                        if reply.status_code != 200:
                            failures.append(reply.status_code)
                            return
            threads = [threading.Thread(target=client, args=(mine,)) for mine in bodies]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
        finally:
            for collector in collectors:
                collector.stop()
    if failures:
        raise RuntimeError("the collectors answered %s" % sorted(set(failures)))
    store = open_store(db, readonly=True)
    try:
        stored = store.stats()["incidents"]
    finally:
        store.close()
    return per_client * CLIENTS / elapsed, stored


def _bodies(device, count, batch):
    """One terminal's requests, ready to send: its backlog in batches, each with its MAC."""
    key = fleet.ack_key(crypto, SECRET, device)
    backlog = _backlog(device, count)
    bodies = []
    for start in range(0, count, batch):
        items = backlog[start:start + batch]
        bodies.append(protocol.encode_batch(crypto, key, device, os.urandom(16), 3, items,
                                            [0, 0, 0, 0], protocol.digest(items)))
    return bodies
