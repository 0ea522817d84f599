"""Fakes for queue tests on both interpreters: storage in memory, and a sealer without crypto.

The sealer's output carries the sequence number and epoch so tests can check what they got
back; the real sealer (sealing.Sealer) is exercised by the CPython queue tests and the device
port's tests.
"""

from lostcard import cbor


class MemoryStorage:
    """The storage contract, in a dict (`files`, kept across restarts if given): every call is
    durable and atomic when it returns."""

    def __init__(self, files=None):
        self.files = {} if files is None else files

    def list(self):
        return list(self.files)

    def read(self, name):
        if name not in self.files:  # as a real file store: the queue tells ENOENT apart
            raise OSError(2, name)
        return bytes(self.files[name])

    def append(self, name, data):
        self.files[name] = self.files.get(name, b"") + bytes(data)

    def replace(self, name, data):
        self.files[name] = bytes(data)

    def read_at(self, name, offset, n):
        return self.read(name)[offset:offset + n]

    def rename(self, old, new):
        self.files[new] = self.read(old)
        del self.files[old]

    def remove(self, name):
        del self.files[name]

    def free(self):
        return 1 << 30  # RAM: never the limit (the budget is)


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
