"""The load generator of `lostcard bench fleet`: terminals that sync as real ones do, cheap
enough that thousands share one process on a shared core.

Each terminal's backlog is sealed with its own keys before the timed region (fleet.device_root,
first_chain, ack_key; incarnation 0 under a device id of this run). In the storm a terminal is a
coroutine: it waits for its jittered start, then sends its backlog as the Uploader batches it
(sync.Uploader._batch over the backlog), one request at a time on a keep-alive HTTP/1.1
connection from its own loopback address, forgets records only for replies that verify
(protocol.verified_ack), and after a 429, a 503 or any error closes its connection and waits
sync.retry_delay (Retry-After honoured) before it tries again; it never drops a batch, and stops
only when done or CAP seconds after its start.
"""

import asyncio
import os
import random
import resource
import time

from lostcard import protocol, record, sealing
from lostcard.collector import fleet
from lostcard.decision import classify
from lostcard.errors import SyncError
from lostcard.sync import BATCH_PATH, Uploader, retry_delay

from .. import crypto
from .. import scenarios as scenario_file
from ..transport import retry_after

CAP = 180.0  # seconds from a terminal's start until it counts as not done
TIMEOUT = 10.0  # seconds for one request in all: HttpTransport's default
LANE = 3  # every backlog in one lane: the storm is about the collector, not lane order
# source addresses the terminals' connections come from, round robin: a fleet reaches the
# collector from many addresses, and the collector's Gate bounds connections per address
SOURCE_ADDRESSES = ["127.0.0.%d" % n for n in range(2, 252)]
MAX_SOCKETS = 65536  # open file limit wanted: a slow collector may hold every terminal's socket


def device_id(run, n):
    return "FLEET-%s-%05d" % (run, n)


class Backlog:
    """The queue as the Uploader sees it: the pending records of one lane, forgotten on ack."""

    def __init__(self, items):
        self.items = items

    def pending(self, lane):
        return iter(self.items if lane == LANE else ())

    def ack(self, lane, acked):
        self.items = [item for item in self.items if item[0] > acked]

    def gaps(self):
        return [0, 0, 0, 0]


def seal_backlogs(secret, run, numbers, per_terminal):
    """{device id: (ack key, [[seq, sealed], ...])} of the terminals `numbers`, from the scenario
    file's events, round robin."""
    decided = [(item["event"], classify(item["event"])) for item in scenario_file.load()]
    backlogs = {}
    for n in numbers:
        device = device_id(run, n)
        sealer = sealing.Sealer(crypto, device, 0, fleet.first_chain(
            crypto, fleet.device_root(crypto, secret, device)))
        items = []
        for seq in range(1, per_terminal + 1):
            event, decision = decided[(n * per_terminal + seq) % len(decided)]
            items.append([seq, sealer.seal(record.build(event, decision, device, 0, crypto,
                                                        bytes(32)), seq)])
        backlogs[device] = (fleet.ack_key(crypto, secret, device), items)
    return backlogs


class Tally:
    """What the terminals of one process saw."""

    def __init__(self):
        self.latencies = []  # ms of each accepted request (200, reply verified)
        self.refused = {429: 0, 503: 0}
        self.errors = {}  # what else failed, by kind: a retry each
        self.short_acks = 0  # verified replies whose acked seq did not cover their batch
        self.acked = {}  # device -> highest seq acknowledged by a verified reply
        self.done = {}  # device -> seconds from its start to its last ack, if it finished
        self.requests = 0

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _exchange(connection, host, body):
    """(status, headers, reply body) of one POST on the open `connection`."""
    reader, writer = connection
    writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/cbor\r\n"
                 b"Content-Length: %d\r\n\r\n" % (BATCH_PATH.encode(), host.encode(), len(body))
                 + body)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    reply = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, reply


async def _terminal(device, ack_key, items, start, source, target, rng, tally):
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    began = time.monotonic()
    uploader = Uploader(Backlog(items), None, crypto, None, device, ack_key)
    host = "%s:%d" % target
    connection, failures = None, 0
    while True:
        lane, batch = uploader._batch()
        if not batch:
            tally.done[device] = time.monotonic() - began
            break
        if time.monotonic() - began > CAP:
            break
        nonce = os.urandom(protocol.NONCE_LEN)
        digest = protocol.digest(batch)
        body = protocol.encode_batch(crypto, ack_key, device, nonce, lane, batch,
                                     uploader.queue.gaps(), digest)
        sent = time.monotonic()
        tally.requests += 1
        try:
            if connection is None:
                connection = await asyncio.wait_for(asyncio.open_connection(
                    *target, local_addr=(source, 0)), TIMEOUT)
            status, headers, reply = await asyncio.wait_for(
                _exchange(connection, host, body), TIMEOUT - (time.monotonic() - sent))
        except (OSError, EOFError, ValueError, IndexError, asyncio.TimeoutError,
                asyncio.IncompleteReadError) as exc:
            tally.error(type(exc).__name__)
            failure = SyncError("network")
        else:
            failure = None
            if status in tally.refused:
                tally.refused[status] += 1
                failure = SyncError("busy", retry_after(headers.get("retry-after")))
            elif status != 200:
                tally.error("HTTP %d" % status)
                failure = SyncError("answered %d" % status)
            else:
                ack = protocol.verified_ack(crypto, ack_key, device, nonce, digest, reply)
                if ack is None:
                    tally.error("reply did not verify")
                    failure = SyncError("acknowledgement did not verify")
                else:
                    acked = ack[0]  # (acked, the collector's high-water, batch bytes it accepts)
                    tally.latencies.append((time.monotonic() - sent) * 1000)
                    tally.short_acks += acked < batch[-1][0]
                    acked = min(acked, batch[-1][0])
                    if acked < batch[0][0]:
                        failure = SyncError("acknowledged none of the batch")
                    else:
                        tally.acked[device] = acked
                        uploader.queue.ack(lane, acked)
                        failures = 0
                        continue
        if connection is not None:  # a terminal backing off holds no socket
            connection[1].close()
            connection = None
        await asyncio.sleep(retry_delay(failure, failures, rng.uniform))
        failures += 1
    if connection is not None:
        connection[1].close()


async def storm(backlogs, starts, target, seed):
    """Run the terminals (each starting at its monotonic time in `starts`) against `target`
    (host, port); return their Tally."""
    tally = Tally()
    await asyncio.gather(*[
        _terminal(device, ack_key, items, starts[device],
                  SOURCE_ADDRESSES[n % len(SOURCE_ADDRESSES)], target,
                  random.Random("%d/%s" % (seed, device)), tally)
        for n, (device, (ack_key, items)) in enumerate(sorted(backlogs.items()))])
    return tally


def worker(pipe, secret, run, numbers, per_terminal, target, seed):
    """A generator process: seal, say ready, wait for the start time, storm, send the tally."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = MAX_SOCKETS if hard == resource.RLIM_INFINITY else min(MAX_SOCKETS, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    backlogs = seal_backlogs(secret, run, numbers, per_terminal)
    pipe.send(sum(len(items) for _, items in backlogs.values()))
    starts = pipe.recv()
    pipe.send(asyncio.run(storm(backlogs, starts, target, seed)).__dict__)
