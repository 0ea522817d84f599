"""Power cuts on real LittleFS: the queue's guarantees at every block write of a workload.

    micropython littlefs_powercuts.py MODE FIRST LAST STEP ROUNDS

LittleFS is mounted on a RAM block device that cuts the power after its N-th block write
(MODE "stop"), or leaves that block half written ("half") or garbled ("garble"). For each N the
workload runs on a freshly formatted device until the cut; then the device is mounted again, the
queue recovers, and the invariants are checked: every append that returned is present exactly
once, in order, unless acknowledged; no acknowledged record is back; no sequence number is
reused; the queue takes new appends. Prints "OK <cuts> cuts" or raises.
"""

import gc
import os
import sys

from lostcard.queue import Queue
from lostcard_mpy.storage import FlashStorage
from lostcard_tools.fake_flash import PowerCut, RamBlockDevice
from plain_sealer import PlainSealer, cursors_after, opened

import heap  # noqa: F401  (on MicroPython: the tests' gc threshold)

SEALED = [0]  # the highest sequence number ever sealed: its bytes may have reached the flash


class TrackingSealer(PlainSealer):
    def seal(self, record, seq):
        SEALED[0] = max(SEALED[0], seq)
        return PlainSealer.seal(self, record, seq)


BLOCK = 256
BLOCKS = 48
MOUNT = "/q"
FLASH = bytearray(BLOCK * BLOCKS)  # one flash for every run: a 16 KiB block per run would fragment


ROUNDS = [1]  # how many times the workload's plan runs: 1 small, more for the sampled large run


def workload(q, done):
    """Appends across the lanes, rotations (small segments) and acks; `done` records what
    returned: ("append", lane, seq) or ("ack", lane, through), and ("acking", lane, through)
    just before an ack starts (it may or may not have taken effect when the power goes)."""
    plan = (1, 3, 3, 2, 1, 3, "ack3", 2, 3, 1, "ack1", 3, 2, "rew3") * ROUNDS[0]
    for step in plan:
        if step == "rew3":  # a collector restored from an older copy: lane 3 through its first
            high = [s for kind, lane, s in done if kind == "append" and lane == 3][0]
            done.append(("rewinding", 3, high))
            q.rewind(3, high)
            done.append(("rewound", 3, high))
        elif step == "ack3":
            through = [s for kind, lane, s in done if kind == "append" and lane == 3][-2]
            done.append(("acking", 3, through))
            q.ack(3, through)
            done.append(("ack", 3, through))
        elif step == "ack1":
            through = [s for kind, lane, s in done if kind == "append" and lane == 1][-1]
            done.append(("acking", 1, through))
            q.ack(1, through)
            done.append(("ack", 1, through))
        else:
            seq = q.append({"step": len(done)}, step)
            done.append(("append", step, seq))


def open_queue(bd):
    os.mount(os.VfsLfs2(bd), MOUNT)
    # a small budget, so that the larger workload evicts routine segments under cuts too
    return Queue(FlashStorage(MOUNT + "/queue"), TrackingSealer, rotate_bytes=120,
                 budget_bytes=400)


def check(q, done):
    acked = cursors_after(q, done)
    returned = [(lane, seq) for kind, lane, seq in done if kind == "append"]
    in_flight = 1
    highest = 0  # every number a returned or a durable record used
    for lane, seq in returned:
        highest = max(highest, seq)
        in_flight = seq + 1
    stats = q.stats()
    evicted = stats["evicted"]
    for lane in (1, 2, 3):
        # both in sequence order, so one pass compares them without building lists of records
        want = [seq for l, seq in returned if l == lane and seq > acked[lane]]
        missed = 0
        i = 0
        previous = 0
        for stored, payload in q.pending(lane):
            seq = opened(payload)[0]
            assert seq == stored and seq > previous, ("out of order or twice", lane, seq)
            previous = seq
            assert seq > acked[lane], ("acked came back", lane, seq)
            while i < len(want) and want[i] < seq:  # evicted before it: must be counted
                missed += 1
                i += 1
            if i < len(want) and want[i] == seq:
                i += 1
            else:  # only the append in flight may be there unannounced
                assert seq >= in_flight, ("unknown record", lane, seq)
            highest = max(highest, seq)
        missed += len(want) - i
        # acknowledged records a rewind asked for again are counted as lost to the restore
        assert missed <= evicted[lane] + stats["lost_to_restore"], ("lost", lane, missed, evicted[lane])
    assert q.stats()["corrupt"] == 0, "a cut is not corruption"
    # above every number ever sealed, not just those found: a torn record's bytes may remain
    sealed_before = SEALED[0]
    seq = q.append({"after": 1}, 2)
    assert seq > highest and seq > sealed_before, ("reused", seq, highest, sealed_before)
    assert [s for s, _ in q.pending(2)][-1] == seq


def run(cut_at, mode):
    for i in range(len(FLASH)):  # factory-fresh flash
        FLASH[i] = 0xFF
    SEALED[0] = 0
    bd = RamBlockDevice(BLOCK, BLOCKS, FLASH)
    os.VfsLfs2.mkfs(bd)
    os.mount(os.VfsLfs2(bd), MOUNT)
    storage = FlashStorage(MOUNT + "/queue")
    Queue.provision(storage, b"\x07" * 32)
    os.umount(MOUNT)
    done = []
    bd.cut_at, bd.mode = cut_at, mode
    bd.writes = 0
    cut = False
    try:
        q = open_queue(bd)
        workload(q, done)
    except PowerCut:
        cut = True
    try:
        os.umount(MOUNT)
    except (OSError, PowerCut):
        pass
    writes = bd.writes
    bd.dead = True
    q = None
    gc.collect()  # finalisers of the abandoned mount's files run now, against the dead device
    bd = RamBlockDevice(BLOCK, BLOCKS, bd.data)  # power back on: the same flash, a fresh mount
    q = open_queue(bd)
    try:
        # the append in flight when the power went may or may not have become durable
        check(q, done)
    finally:
        os.umount(MOUNT)
    return cut, writes


def main(mode, first, last, step):
    cuts = 0
    n = first
    while n <= last:
        cut, writes = run(n, mode)
        if not cut:  # the workload finished before the n-th write: every cut point is covered
            break
        cuts += 1
        n += step
        gc.collect()
    print("OK %d cuts, workload %d block writes" % (cuts, run(None, mode)[1]))


if __name__ == "__main__":
    ROUNDS[0] = int(sys.argv[5])
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
