"""On-device benchmark of the queue on LittleFS: speed, and what each record costs the flash.

    micropython -X heapsize=256K -m lostcard_tools.bench_queue RECORDS PAYLOAD_BYTES

Mounts LittleFS on a RAM block device that counts block writes, bytes programmed and erases
(the heap holds the "flash" here; on a terminal it does not), appends RECORDS sealed-size payloads
through the queue (2 KiB segments, an ack every 50), then the same bytes through a bare LittleFS
file append + close, and prints one JSON line with both.
"""

import json
import os
import sys
import time

from lostcard.queue import Queue
from lostcard_mpy.storage import FlashStorage
from lostcard_tools.fake_flash import RamBlockDevice
from lostcard_tools.fixed_sealer import FixedSealer

BLOCK = 512
BLOCKS = 128


def _mounted():
    bd = RamBlockDevice(BLOCK, BLOCKS)
    # MicroPython's os.VfsLfs2 is vfs.VfsLfs2; the stubs declare it in vfs only
    os.VfsLfs2.mkfs(bd)  # type: ignore[attr-defined]
    os.mount(os.VfsLfs2(bd), "/bench")  # type: ignore[attr-defined]
    return bd


def queue_run(records, size):
    bd = _mounted()
    storage = FlashStorage("/bench/queue")
    Queue.provision(storage, bytes(32))
    q = Queue(storage, lambda e, c: FixedSealer(e, c, size), rotate_bytes=2048,
              budget_bytes=40000)
    before = (bd.writes, bd.bytes_written, bd.erases)
    t0 = time.ticks_us()
    for n in range(1, records + 1):
        q.append(None, 3)
        if n % 50 == 0:
            q.ack(3, n)
    us = time.ticks_diff(time.ticks_us(), t0)
    os.umount("/bench")
    return us, bd.writes - before[0], bd.bytes_written - before[1], bd.erases - before[2]


def bare_run(records, size):
    bd = _mounted()
    payload = bytes(size)
    before = (bd.writes, bd.bytes_written, bd.erases)
    t0 = time.ticks_us()
    for n in range(1, records + 1):
        with open("/bench/bare", "ab") as f:
            f.write(payload)
        if n % 50 == 0:
            os.remove("/bench/bare")
    us = time.ticks_diff(time.ticks_us(), t0)
    os.umount("/bench")
    return us, bd.writes - before[0], bd.bytes_written - before[1], bd.erases - before[2]


def main(records, size):
    out = {}
    for name, run in (("queue", queue_run), ("bare", bare_run)):
        us, progs, written, erases = run(records, size)
        out[name] = {"appends_per_s": records * 1000000 // max(us, 1), "progs": progs,
                     "bytes_written": written, "erases": erases}
    out["records"] = records
    out["record_bytes"] = size
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
