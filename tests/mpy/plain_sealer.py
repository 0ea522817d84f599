"""A sealer without crypto, and how a power-cut workload left each lane's cursor: for the queue's
tests on both interpreters. Apart from queue_fakes.py's MemoryStorage so that the LittleFS
harnesses, whose 64 KiB heap has a few hundred bytes to spare, load no storage they do not use.

The sealer's output carries the sequence number and epoch so tests can check what they got
back; the real sealer (sealing.Sealer) is exercised by the CPython queue tests and the device
port's tests.
"""

from lostcard import cbor


class PlainSealer:
    def __init__(self, epoch, chain):
        self.epoch = epoch
        self._chain = bytes(chain)

    def seal(self, record, seq):
        return cbor.encode([seq, self.epoch, record])

    def advance(self):
        self.epoch += 1
        self._chain = bytes((self.epoch & 0xFF,)) * 32

    def chain(self):
        return self._chain


def opened(payload):
    """(seq, epoch, record) of a PlainSealer payload."""
    return cbor.decode(payload)


def cursors_after(q, done):
    """Each lane's cursor as a power-cut workload left it (tests/test_queue_powercut.py,
    littlefs_powercuts.py): `done` holds ("ack", lane, through) and ("rewound", lane, high) of
    the calls that returned, and last ("acking" | "rewinding", lane, seq) of one the cut may have
    stopped: it moved the cursor wholly or not at all, as the queue tells."""
    acked = {1: 0, 2: 0, 3: 0}
    for kind, lane, value in done:
        if kind == "ack":
            acked[lane] = max(acked[lane], value)
        elif kind == "rewound":
            acked[lane] = min(acked[lane], value)
    if done and done[-1][0] == "acking":
        _, lane, through = done[-1]
        if not [s for s, _ in q.pending(lane) if s <= through]:
            acked[lane] = through
    if done and done[-1][0] == "rewinding":
        _, lane, high = done[-1]
        if [s for s, _ in q.pending(lane) if s <= acked[lane]]:
            acked[lane] = high
    return acked
