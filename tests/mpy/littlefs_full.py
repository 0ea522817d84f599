"""The queue on a file system smaller than its budget: LittleFS on a small RAM block device.

    micropython -m littlefs_full

The budget (1 MiB) never binds: the 12 KiB flash (48 blocks of 256 bytes) fills first, many times
over, under a stream of routine records with an urgent one in every thirty. The storage tells its
free space (FlashStorage.free, statvfs), so the queue evicts before a write fails. Append never
raises; every urgent record gets its number and stays; every routine one that got a number is
pending or counted as evicted; a remount finds the same. Prints "OK <appends that returned a
number> <routine evicted> <writes refused with ENOSPC>".
"""

import os
from array import array

from lostcard.queue import Queue
from lostcard_mpy.storage import FlashStorage
from lostcard_tools.fake_flash import RamBlockDevice
from plain_sealer import PlainSealer

import heap  # noqa: F401  (on MicroPython: the tests' gc threshold)

MOUNT = "/full"
ENOSPC = [0]


class Counting(FlashStorage):
    """FlashStorage counting the writes the file system refused for lack of room."""

    def _counted(self, write, name, data):
        try:
            write(self, name, data)
        except OSError as exc:
            ENOSPC[0] += exc.args[0] == 28
            raise

    def append(self, name, data):
        self._counted(FlashStorage.append, name, data)

    def replace(self, name, data):
        self._counted(FlashStorage.replace, name, data)


def _open(storage_class):
    return Queue(storage_class(MOUNT + "/queue"), PlainSealer, rotate_bytes=400,
                 budget_bytes=1 << 20)


def _check(q, returned):
    """The routine records evicted; `returned` is {lane: array of the numbers appends returned}."""
    evicted = q.stats()["evicted"]
    for lane in (1, 3):
        want = returned[lane]
        kept = i = 0
        for seq, _ in q.pending(lane):  # both in order: one pass, no list of records
            while i < len(want) and want[i] < seq:
                i += 1
            kept += i < len(want) and want[i] == seq
        missing = len(want) - kept
        assert missing <= evicted[lane], ("lost silently", lane, missing, evicted[lane])
    assert evicted[1] == 0 and len(returned[1]) == 8, ("urgent lost", evicted)
    return evicted[3]


def main():
    storage_class = Counting
    bd = RamBlockDevice(256, 48)
    os.VfsLfs2.mkfs(bd)  # type: ignore[attr-defined]
    os.mount(os.VfsLfs2(bd), MOUNT)  # type: ignore[attr-defined]
    Queue.provision(storage_class(MOUNT + "/queue"), b"\x07" * 32)
    q = _open(storage_class)
    returned = {1: array("i"), 3: array("i")}
    for n in range(240):
        lane = 1 if n % 30 == 0 else 3
        seq = q.append({"n": n, "pad": "x" * 60}, lane)
        assert seq is not None or lane == 3, ("urgent record refused", n)
        if seq is not None:
            returned[lane].append(seq)
    evicted = _check(q, returned)
    assert evicted > 0, "the flash never filled"
    os.umount(MOUNT)
    os.mount(os.VfsLfs2(bd), MOUNT)  # type: ignore[attr-defined]
    assert _check(_open(storage_class), returned) == evicted  # counted persistently
    os.umount(MOUNT)
    print("OK %d %d %d" % (len(returned[1]) + len(returned[3]), evicted, ENOSPC[0]))


if __name__ == "__main__":
    main()
