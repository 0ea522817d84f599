"""`lostcard bench sync`: the collector's ingest over HTTP on loopback beside a plain receiver
(bench/plain_receiver.py: Starlette, cbor2, executemany, the same schema, durability and uvicorn
configuration) in the same run, at the terminals' batch size and at the protocol's largest; then
where the collector's time goes, in process; then records per second from a terminal's queue to
a real collector, with the CPython and the MicroPython client.

Like with like: both servers run in their own process, started before the clock; the same load
generator (in this process: pre-built requests, CONNECTIONS keep-alive connections, each
sending its next request when its reply came) times both from the first request sent to the
last reply read; every database starts empty. The collector's requests are real: records
sealed by their devices, request MACs under their ack keys; its replies are verified (after the
clock). Each figure is the median of REPEATS runs.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time

from lostcard import protocol, record, sealing
from lostcard.collector import fleet
from lostcard.collector.fleet import device_root, first_chain
from lostcard.decision import classify

from .. import crypto
from .. import scenarios as scenario_file
from ..local_collector import LocalCollector
from .harness import Failed, built_bundle, micropython_result

BATCHES = ((7, 0.8), (100, 0.5))  # (records per request, goal: collector / plain receiver)
CONNECTIONS = 8  # concurrent keep-alive connections, one device each
REPEATS = 3
SECRET = bytes(32)
E2E_RECORDS = 50  # per client, end to end
# the MicroPython client's timed run: room enough that the heap is not what is measured (as
# bench device's timed runs); whether it also completes at the device budget is said beside it
E2E_HEAP, BUDGET_HEAP = "512K", "64K"


class PlainReceiver(LocalCollector):
    def command(self):
        return [sys.executable, "-m", "lostcard_cpython.bench.plain_receiver", self.db,
                str(self.port)]


def _sealed(device, count):
    """[seq, sealed incident] of one device, as its terminal would send them."""
    items = scenario_file.load()
    sealer = sealing.Sealer(crypto, device, 0, first_chain(crypto, device_root(crypto, SECRET,
                                                                                 device)))
    return [[n, sealer.seal(record.build(items[n % len(items)]["event"],
                                         classify(items[n % len(items)]["event"]), device, n,
                                         crypto, bytes(32)), n)]
            for n in range(1, count + 1)]


class Request:
    """One pre-built batch: the HTTP request's bytes and what verifies its reply."""

    def __init__(self, device, key, items):
        self.device, self.key, self.last = device, key, items[-1][0]
        self.nonce = os.urandom(protocol.NONCE_LEN)
        self.digest = protocol.digest(items)
        body = protocol.encode_batch(crypto, key, device, self.nonce, 3, items, [0, 0, 0, 0],
                                     self.digest)
        self.bytes = (b"POST /v1/batch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: "
                      b"application/cbor\r\ncontent-length: %d\r\n\r\n" % len(body)) + body
        self.reply = None

    def verified(self):
        status, body = self.reply
        ack = status == 200 and protocol.verified_ack(crypto, self.key, self.device, self.nonce,
                                                      self.digest, body)
        return bool(ack) and ack[0] == self.last  # None: a reply that is not one


def _requests(sealed, size):
    """Each device's requests in order, one list per connection."""
    return [[Request(device, fleet.ack_key(crypto, SECRET, device), items[i:i + size])
             for i in range(0, len(items), size)] for device, items in sealed.items()]


async def _connection(port, requests):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for r in requests:
            writer.write(r.bytes)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line[15:])
            r.reply = int(head[9:12]), await reader.readexactly(length)
    finally:
        writer.close()


async def _load(port, connections):
    await asyncio.gather(*(_connection(port, requests) for requests in connections))


def _timed(server, connections, records):
    """Incidents per second through `server` (started here, before the clock, stopped after)."""
    server.start()
    try:
        t0 = time.perf_counter()
        asyncio.run(_load(server.port, connections))
        return records / (time.perf_counter() - t0)
    finally:
        server.stop()


def _compare(tmp, secret_file, sealed, size, records):
    """(collector's median rate, plain receiver's), REPEATS runs each, alternating."""
    rates = {"collector": [], "plain": []}
    for run in range(REPEATS):
        for name in ("collector", "plain"):
            connections = _requests(sealed, size)
            db = os.path.join(tmp, "%s-%d-%d.db" % (name, size, run))
            server = LocalCollector(db, secret_file) if name == "collector" else \
                PlainReceiver(db, secret_file)
            rates[name].append(_timed(server, connections, records))
            replies = [r for requests in connections for r in requests]
            good = sum(r.verified() if name == "collector" else r.reply[0] == 200
                       for r in replies)
            if good != len(replies):
                raise Failed("bench sync: %d of %d replies of the %s were not acknowledgements"
                             % (len(replies) - good, len(replies), name))
    return statistics.median(rates["collector"]), statistics.median(rates["plain"])


def _in_process(sealed, size):
    """Where the collector's time goes, per record, one thread, no HTTP: (opening and checking,
    committing one batch per transaction, the plain receiver's cbor2 and executemany)."""
    import cbor2

    from ..collector import Collector
    from ..collector_store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        collector = Collector(open_store(os.path.join(tmp, "c.db")), SECRET)
        checked = []
        t0 = time.perf_counter()
        for device, items in sealed.items():
            for i in range(0, len(items), size):
                checked.append(collector.check(device, 0, 3, items[i:i + size], [0, 0, 0, 0]))
        check = time.perf_counter() - t0
        t0 = time.perf_counter()
        for batch in checked:
            collector.commit([batch])
        commit = time.perf_counter() - t0
        collector.store.close()
        plain_store = open_store(os.path.join(tmp, "plain.db"))
        bodies = [r.bytes.split(b"\r\n\r\n", 1)[1] for c in _requests(sealed, size) for r in c]
        t0 = time.perf_counter()
        for body in bodies:
            batch = cbor2.loads(body)
            plain_store.insert_rows([(batch[1], seq, None, "", "", "", 0, None, None, "", 0, s)
                                     for seq, s in batch[4]])
        plain = time.perf_counter() - t0
        plain_store.close()
    records = sum(len(items) for items in sealed.values())
    return [t / records * 1e6 for t in (check, commit, plain)]


def run(out, records=5000):
    per_device = -(-records // CONNECTIONS)
    sealed = {"BENCH-%d" % n: _sealed("BENCH-%d" % n, per_device) for n in range(CONNECTIONS)}
    records = per_device * CONNECTIONS
    out.write("lostcard bench sync: %d incidents per figure, %d keep-alive connections on "
              "loopback, median of %d runs\n" % (records, CONNECTIONS, REPEATS))
    with tempfile.TemporaryDirectory() as tmp:
        secret_file = os.path.join(tmp, "fleet.secret")
        with open(secret_file, "w") as f:
            f.write(SECRET.hex())
        rates = {}
        for size, goal in BATCHES:
            rates[size] = collector, plain = _compare(tmp, secret_file, sealed, size, records)
            ratio = collector / plain
            out.write("batch %-3d collector %7.0f /s  plain receiver %7.0f /s  ratio %.2f  "
                      "(goal >= %.1f: %s)\n" % (size, collector, plain, ratio, goal,
                                                "met" if ratio >= goal else "NOT met"))
        out.write("where the time goes, µs per incident: over HTTP (1e6 / the rate), and in "
                  "process, one thread:\n")
        for size, _ in BATCHES:
            check, commit, plain = _in_process(sealed, size)
            out.write("batch %-3d collector %.1f: open and check %.1f, commit (a transaction "
                      "per batch) %.1f; plain receiver %.1f: cbor2 and executemany %.1f\n"
                      % (size, 1e6 / rates[size][0], check, commit, 1e6 / rates[size][1],
                         plain))
        _postgres(out, records)
        for label, rate in _end_to_end(tmp, secret_file, E2E_RECORDS):
            out.write("%-48s %s\n" % (label, rate))


def _postgres(out, records):
    """The PostgreSQL section (bench/postgres.py's run(out, records), when it is there)."""
    try:
        from . import postgres
    except ImportError:
        return
    postgres.run(out, records)


def _end_to_end(tmp, secret_file, count):
    """Records per second from a terminal queue to a real collector on loopback, both clients;
    the MicroPython one timed by itself, from its queue opened to its last ack."""
    from lostcard.queue import Queue
    from lostcard.sync import Uploader

    from ..storage import DirStorage
    from ..transport import HttpTransport

    with built_bundle() as bundle:
        server = LocalCollector(os.path.join(tmp, "e2e.db"), secret_file).start()
        try:
            path = os.path.join(tmp, "BENCH-C")
            _fill_queue(path, "BENCH-C", count)
            t0 = time.perf_counter()
            q = Queue(DirStorage(path), writable=True)
            Uploader(q, HttpTransport(server.url), crypto, os.urandom, "BENCH-C",
                     q.ack_key).run(time.sleep, lambda a, b: 0.0, max_failures=3)
            cpython = count / (time.perf_counter() - t0)
            results = []
            for heap in (E2E_HEAP, BUDGET_HEAP):
                path = os.path.join(tmp, "BENCH-M" + heap)
                _fill_queue(path, "BENCH-M" + heap, count)
                try:
                    results.append(micropython_result(bundle, [
                        "-m", "lostcard_tools.sync_once", path, server.url], heap=heap)["s"])
                except Failed as exc:  # said, not hidden: the figures above stand
                    results.append(exc)
            timed, budget = results
            micropython = "NOT measured: %s" % timed if isinstance(timed, Failed) else \
                "%12.0f" % (count / timed)
            # the tool's last line (a MemoryError): the command and its exit add nothing here
            at_budget = "NO (%s; docs/DEVICE.md: .mpy files at 64 KiB)" % str(budget).split(
                "): ", 1)[-1] if isinstance(budget, Failed) else "yes"
            return [("end to end, CPython client (records/s)", "%12.0f" % cpython),
                    ("end to end, MicroPython client (records/s)", micropython),
                    ("MicroPython client completes at -X heapsize=%s" % BUDGET_HEAP, at_budget)]
        finally:
            server.stop()


def _fill_queue(path, device, count):
    from lostcard.queue import Queue

    from ..storage import DirStorage

    chain = first_chain(crypto, device_root(crypto, SECRET, device))
    Queue.provision(DirStorage(path), chain, device_id=device,
                    ack_key=fleet.ack_key(crypto, SECRET, device))
    q = Queue(DirStorage(path), lambda e, c: sealing.Sealer(crypto, device, e, c))
    items = scenario_file.load()
    for n in range(count):
        event = items[n % len(items)]["event"]
        q.append(record.build(event, classify(event), device, 0, crypto, bytes(32)), 3)
