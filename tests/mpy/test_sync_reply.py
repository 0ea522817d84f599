"""The terminal's half of the reply's state (docs/SYNC.md): the collector's high-water per lane
and the largest batch it accepts, believed only under the state MAC of this request.

Runs on CPython (pytest) and MicroPython at 64 KiB (runner.py): a queue in memory, and a
collector played by a transport that answers each batch as the collector would.
"""

from lostcard import cbor, kdf, protocol
from lostcard.errors import SyncError
from lostcard.queue import Queue
from lostcard.sync import BATCH_BYTES, Uploader
from queue_fakes import MemoryStorage, PlainSealer

import heap  # noqa: F401  (on MicroPython: the tests' gc threshold)

KEY = b"\x05" * 32
DEVICE = "T-RESYNC-1"


class Collector:
    """Answers each batch: acknowledged through its last record, with `high` and `accepts`
    under a state MAC that `spoil` may change (None: a collector of the previous release)."""

    def __init__(self):
        self.held = {1: [], 2: [], 3: []}
        self.sizes = []  # bytes of records of each batch
        self.accepts = 4000
        self.spoil = lambda mac: mac
        self.old = False
        self.replay = None

    def post(self, path, body):
        batch = cbor.decode(body)
        items, nonce = batch[4], batch[2]
        high = [max(self.held[lane] + [0]) for lane in (1, 2, 3)]  # before this batch
        self.held[batch[3]] += [seq for seq, _ in items]
        self.sizes.append(sum(len(sealed) for _, sealed in items))
        acked, digest = items[-1][0], protocol.digest(items)
        reply = {1: acked, 2: protocol.ack_mac(kdf, KEY, DEVICE, nonce, acked, digest), 3: 0}
        if not self.old:
            reply.update({4: high, 5: self.accepts, 6: self.spoil(protocol.state_mac(
                kdf, KEY, DEVICE, nonce, acked, digest, high, self.accepts))})
        body = cbor.encode(reply)
        if self.replay is not None:  # a reply of an earlier request instead of this one's
            body, self.replay = self.replay, body
        return 200, body


def _terminal(records=20, lane=3, **kw):
    queue_storage = MemoryStorage()
    Queue.provision(queue_storage, b"\x07" * 32, device_id=DEVICE, ack_key=KEY)
    queue = Queue(queue_storage, PlainSealer, clock=lambda: 1000, rotate_bytes=300)
    seqs = [queue.append({"n": "x" * 40}, lane) for _ in range(records)]
    collector = Collector()
    count = [0]

    def fresh(n):  # a new nonce per request, deterministic
        count[0] += 1
        return count[0].to_bytes(n, "big")

    uploader = Uploader(queue, collector, kdf, fresh, DEVICE, KEY, **kw)
    return queue, collector, uploader, seqs


def test_a_verified_reply_sets_the_batch_size_within_the_terminal_cap():
    # small sizes: the same logic, in what a 64 KiB heap leaves this test
    queue, collector, uploader, seqs = _terminal(records=40, batch_bytes=300, max_batch=700)
    uploader.step()
    assert collector.sizes[0] <= 300 and uploader.batch_bytes == 700  # min(cap, 4000 offered)
    uploader.step()
    assert 300 < collector.sizes[1] <= 700  # more records per request
    collector.accepts = 200  # a collector that accepts less is obeyed at once
    uploader.step()
    uploader.step()
    assert uploader.batch_bytes == 200 and collector.sizes[-1] <= 200


def test_the_default_cap_keeps_a_terminal_at_its_batch_size():
    queue, collector, uploader, seqs = _terminal(records=3)
    uploader.step()
    assert uploader.batch_bytes == BATCH_BYTES  # not the 4000 offered


def test_a_forged_or_missing_state_is_ignored_and_the_ack_still_counts():
    for spoil in ("forged", "missing"):
        queue, collector, uploader, seqs = _terminal(batch_bytes=400, max_batch=600)
        uploader.step()
        queue.ack(3, seqs[-1])  # as if all were acknowledged
        if spoil == "forged":  # someone on the link lowers the high-water: a resend forever
            collector.spoil = lambda mac: bytes([mac[0] ^ 1]) + mac[1:]
        else:
            collector.old = True
        collector.held[3] = []
        queue.append({"n": "new"}, 3)
        before = uploader.batch_bytes
        assert uploader.step() == 1  # acknowledged under the ack MAC
        assert queue.state[5][2] == seqs[-1] + 1  # no rewind
        assert uploader.batch_bytes == before and queue.gaps()[4] == 0


def test_a_replayed_reply_forgets_nothing_and_rewinds_nothing():
    queue, collector, uploader, seqs = _terminal(records=10, batch_bytes=200)
    uploader.step()
    cursor = list(queue.state[5])
    # a genuine reply to another request of this terminal, with the same records
    items = [[seq, sealed] for seq, sealed in queue.pending(3)][:3]
    collector.replay = collector.post("/v1/batch", cbor.encode(
        {2: b"\xff" * 16, 3: 3, 4: items}))[1]
    try:
        uploader.step()
        raise AssertionError("a replayed reply was believed")
    except SyncError:
        pass
    assert queue.state[5] == cursor


def test_a_collector_behind_what_it_acknowledged_gets_what_is_held_again():
    queue, collector, uploader, seqs = _terminal(records=20, batch_bytes=300, max_batch=300)
    while uploader.step():
        pass
    assert queue.state[5][2] == seqs[-1]
    collector.held[3] = seqs[:4]  # restored from a copy taken after the fourth record
    newest = queue.append({"n": "after the restore"}, 3)
    uploader.step()  # its reply shows the collector behind: the lane goes back, unacknowledged
    assert [s for s, _ in queue.pending(3)] == seqs[4:] + [newest]
    while uploader.step():
        pass
    assert sorted(set(collector.held[3])) == seqs + [newest] and queue.gaps()[4] == 0
