"""Power cuts at every write: on CPython through a fault-injecting store, on MicroPython through
LittleFS on a block device that cuts the power (tests/mpy/littlefs_powercuts.py), and the real directory
store with fsync.
"""


import pytest

from lostcard import record, sealing
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.decision import classify
from lostcard.queue import Queue
from lostcard_cpython import crypto, scenarios
from lostcard_cpython.storage import DirStorage
from lostcard_tools.cut_storage import CutStorage
from lostcard_tools.fake_flash import PowerCut
from lostcard.collector.fleet import device_root, first_chain
from micropython_process import micropython
from queue_fakes import MemoryStorage, cursors_after

SECRET = b"\x24" * 32
DEVICE = "T-PWR-1"
# "rew3": a collector restored from an older copy holds lane 3 only through its first record
PLAN = (1, 3, 3, 2, 1, 3, "ack3", 2, 3, 1, "ack1", 3, 2, 3, 3, 3, 1, 3, "ack3", 3, 3, "rew3", 3,
        1)
BUDGET = 1500  # small enough that the plan evicts routine segments


def _storage(files, cut_at=None):
    """The durable `files`: only what a completed, fsynced call wrote. The `cut_at`-th write call
    is cut short: an append leaves a prefix of its bytes (the part the disk happened to write), a
    replace or a remove does not happen (rename and unlink are atomic)."""
    return CutStorage(MemoryStorage(files), cut_at, kept=lambda size: (cut_at * 7919) % (size + 1))


SEALED = [0]  # the highest sequence number ever sealed: its bytes may have reached the disk


class TrackingSealer(sealing.Sealer):
    def seal(self, r, seq):
        SEALED[0] = max(SEALED[0], seq)
        return sealing.Sealer.seal(self, r, seq)


def _sealer(epoch, chain):
    return TrackingSealer(crypto, DEVICE, epoch, chain)


EVENTS = [item["event"] for item in scenarios.load()[:8]]


def _workload(q, done):
    for n, step in enumerate(PLAN):
        if isinstance(step, str) and step.startswith("rew"):
            lane = int(step[-1])
            high = [s for kind, l, s in done if kind == "append" and l == lane][0]
            done.append(("rewinding", lane, high))
            q.rewind(lane, high)
            done.append(("rewound", lane, high))
        elif isinstance(step, str):
            lane = int(step[-1])
            through = [s for kind, l, s in done if kind == "append" and l == lane][-1]
            done.append(("acking", lane, through))
            q.ack(lane, through)
            done.append(("ack", lane, through))
        else:
            event = EVENTS[n % len(EVENTS)]
            r = record.build(event, classify(event), DEVICE, 0, crypto, b"t" * 32)
            done.append(("append", step, q.append(r, step)))


def _check(q, done):
    acked = cursors_after(q, done)
    returned = [(lane, seq) for kind, lane, seq in done if kind == "append"]
    in_flight = max([seq for _, seq in returned] + [0]) + 1
    fleet = FleetKeys(crypto, SECRET)
    stats = q.stats()
    assert stats["corrupt"] == 0, "a cut is not corruption"
    highest = 0
    for lane in (1, 2, 3):
        got = []
        for seq, sealed in q.pending(lane):
            incident = record_check.open_sealed(crypto, fleet, sealed)  # still opens, bound
            assert incident[record.K_SEQ] == seq
            got.append(seq)
        assert got == sorted(set(got))
        missing = [seq for l, seq in returned if l == lane and seq > acked[lane] and seq not in got]
        # only evicted records may be missing, and every one of them is counted (acknowledged
        # ones a rewind asks for again as lost to the restore)
        assert len(missing) <= stats["evicted"][lane] + stats["lost_to_restore"], (
            "lost", lane, missing, stats["evicted"])
        for seq in got:
            assert seq > acked[lane], ("acknowledged record came back", lane, seq)
            assert seq in [s for l, s in returned if l == lane] or seq >= in_flight, seq
        highest = max([highest] + got)
    highest = max([highest] + [seq for _, seq in returned])
    sealed_before = SEALED[0]
    event = EVENTS[0]
    seq = q.append(record.build(event, classify(event), DEVICE, 0, crypto, b"t" * 32), 2)
    # above every number ever sealed, not only those found: a torn record's bytes may remain
    assert seq > highest and seq > sealed_before, ("sequence number reused", seq, sealed_before)


def _provisioned():
    files = {}
    chain = first_chain(crypto, device_root(crypto, SECRET, DEVICE))
    Queue.provision(_storage(files), chain)
    return files


def test_every_cut_on_cpython_keeps_every_acknowledged_append():
    total = None
    cut_at = 1
    while True:
        files = _provisioned()
        storage = _storage(files, cut_at)
        done = []
        SEALED[0] = 0
        q = Queue(storage, _sealer, rotate_bytes=150, budget_bytes=BUDGET)
        try:
            _workload(q, done)
            total = storage.calls
            break  # the workload finished before the cut: every cut point was covered
        except PowerCut:
            pass
        _check(Queue(_storage(files), _sealer, rotate_bytes=150, budget_bytes=BUDGET),
               done)
        cut_at += 1
    # the uncut run rotated segments (advancing the key), evicted, reserved numbers, acknowledged
    stats = q.stats()
    assert q.sealer.epoch >= 3 and total == cut_at - 1 and total >= 15
    assert stats["evicted"][3] > 0 and stats["evicted"][1] == 0
    # ... and evicted acknowledged segments, and rewound lane 3 past some of them
    assert q.state[11][0] > 0 and stats["lost_to_restore"] > 0


@pytest.mark.parametrize("mode", ["stop", "half", "garble"])
def test_every_block_write_cut_on_littlefs_small_workload(bundle, mode):
    proc = micropython(bundle, ["-m", "littlefs_powercuts", mode, "1", "100000", "1", "1"])
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("OK"), proc.stderr[-2000:] + last
    cuts, writes = [int(w) for w in last.split() if w.isdigit()]
    assert cuts == writes and cuts >= 40  # exhaustive: a cut at every block write


def test_block_write_cuts_on_littlefs_sampled_larger_workload(bundle):
    proc = micropython(bundle, ["-m", "littlefs_powercuts", "half", "2", "100000", "3", "3"])
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("OK"), proc.stderr[-2000:] + last
    cuts, writes = [int(w) for w in last.split() if w.isdigit()]
    assert writes >= 120 and cuts >= writes // 3 - 1


def test_directory_storage_keeps_the_queue_across_restarts(tmp_path):
    chain = first_chain(crypto, device_root(crypto, SECRET, DEVICE))
    storage = DirStorage(str(tmp_path / "q"))
    Queue.provision(storage, chain)
    q = Queue(storage, _sealer, rotate_bytes=300)
    event = EVENTS[1]
    seqs = [q.append(record.build(event, classify(event), DEVICE, 0, crypto, b"t" * 32), p)
            for p in (1, 3, 3, 1)]
    q.ack(1, seqs[0])
    again = Queue(DirStorage(str(tmp_path / "q")), _sealer, rotate_bytes=300)
    assert [s for s, _ in again.pending(1)] == [seqs[3]]
    assert [s for s, _ in again.pending(3)] == seqs[1:3]
    assert not [n for n in (tmp_path / "q").iterdir() if n.name.endswith(".tmp")]
