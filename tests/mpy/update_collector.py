"""A collector and a platform for the terminal's update flow, on both interpreters: the
collector, a transport, acknowledges each batch with its offer under the offer MAC and answers
each fetch with a chunk of the objects it published, made for the device as a collector makes
them (update_objects.made); the platform runs a core Terminal over a queue in memory."""

import sys

from lostcard import cbor, kdf, protocol
from lostcard.errors import SyncError
from queue_fakes import MemoryStorage, PlainSealer
from update_objects import DEVICE, KEY, made

TOKEN_KEY = "ab" * 32


class Collector:
    def __init__(self):
        self.objects = {protocol.POLICY: {}, protocol.WATCHLIST: {}}  # kind: {version: object}
        self.seen = []  # (path, kind, version, offset, updates) of each request
        self.spoil = lambda mac: mac  # what becomes of the offer's MAC
        self.down = False

    def publish(self, kind, body, key=KEY):
        version = self.newest(kind) + 1
        self.objects[kind][version] = made(kdf, kind, version, body, key)
        return version

    def newest(self, kind):
        return max(list(self.objects[kind]) + [0])

    def post(self, path, body, limit=256):
        if self.down:
            raise SyncError("network: down")
        request = cbor.decode(body)
        device, nonce, updates = request[1], request[2], request.get(7)
        if path == "/v1/update":
            kind, version, offset = request[3], request[4], request[5]
            self.seen.append((path, kind, version, offset, updates))
            if request[6] != protocol.fetch_mac(kdf, KEY, device, nonce, kind, version, offset,
                                                updates):
                return 403, b""
            newest = self.newest(kind)
            if version != newest:  # the newest instead, from its start
                offset = 0
            whole = self.objects[kind].get(newest, b"")
            chunk = whole[offset:offset + protocol.CHUNK_LEN]
            reply = cbor.encode({1: newest, 2: len(whole), 3: offset, 4: chunk,
                                 5: protocol.fetch_reply_mac(kdf, KEY, device, nonce, newest,
                                                             len(whole), offset, chunk)})
        else:
            items = request[4]
            self.seen.append((path, None, None, None, updates))
            digest = protocol.digest(items)
            if request[6] != protocol.request_mac(kdf, KEY, device, nonce, request[3], digest,
                                                  request[5], updates):
                return 403, b""
            acked = items[-1][0]
            offer = [self.newest(protocol.POLICY), self.newest(protocol.WATCHLIST)]
            reply = cbor.encode({1: acked, 2: protocol.ack_mac(kdf, KEY, device, nonce, acked,
                                                               digest), 3: 0, 7: offer,
                                 8: self.spoil(protocol.offer_mac(kdf, KEY, device, nonce,
                                                                  offer))})
        assert len(reply) <= limit, (path, len(reply), limit)  # what the caller reads is whole
        return 200, reply

    def fetches(self):
        return [s[1:4] for s in self.seen if s[0] == "/v1/update"]


class Everything:
    def __contains__(self, name):
        return True


class Platform:
    """A terminal's platform over `files` (kept across boots): the queue provisioned for DEVICE
    with its ack key, the collector as transport, a clock the test moves."""
    # MicroPython unloads each phase's modules, as a terminal does, but those the test holds
    # (else a phase would load a second copy); CPython keeps them all (two copies of a class
    # would not compare)
    keep = ("lostcard", "lostcard.errors", "lostcard.terminal", "lostcard.cbor", "lostcard.kdf",
            "lostcard.protocol") if sys.implementation.name == "micropython" else Everything()

    def __init__(self, collector, files=None):
        self.collector = collector
        self.files = {} if files is None else files
        self.now = 1000
        self.nonces = 0

    def storage(self, path):
        return MemoryStorage(self.files)

    def crypto(self):
        return kdf

    def hmac(self):
        return kdf

    def transport(self, url, ca=None):
        return self.collector

    def clock(self):
        return self.now

    def random_bytes(self, n):
        self.nonces += 1
        return self.nonces.to_bytes(n, "big")


def terminal(platform, records=0, **config):
    """A core Terminal (phases) on `platform`, its queue provisioned on the first boot, with
    `records` incidents queued (sealed by the test's sealer)."""
    from lostcard.queue import Queue  # not held: the terminal's phases load and drop it
    from lostcard.terminal import Terminal

    storage = platform.storage("q")
    if not storage.files:
        Queue.provision(storage, b"\x07" * 32, device_id=DEVICE, ack_key=KEY)
    if records:
        queue = Queue(storage, PlainSealer, clock=platform.clock, writable=True)
        for _ in range(records):
            queue.append({"n": "x"}, 3)
    queue = Queue = storage = None
    if sys.implementation.name == "micropython":  # as the phases would drop them
        for name in ("lostcard.queue", "lostcard.queue_state", "lostcard.lane_index",
                     "lostcard.segment"):
            sys.modules.pop(name, None)
    return Terminal(dict({"device_id": DEVICE, "queue_dir": "q", "token_key": TOKEN_KEY,
                          "collector_url": "http://collector", "sync_spread_s": 0}, **config),
                    platform)
