"""`lostcard bench queue`: appends per second through the queue on both interpreters, and on
MicroPython what each record costs LittleFS (bytes written, block writes and erases) beside a
bare durable append of the same bytes."""

import tempfile
import time

from .harness import built_bundle, heading, micropython_result, row

ACK_EVERY = 50  # records; port_mpy/tools/lostcard_tools/bench_queue.py acks as often


def cpython_queue(records, size):
    """Appends per second through the queue into fsync'd files, sealed-size payloads."""
    from lostcard.queue import Queue
    from lostcard_tools.fixed_sealer import FixedSealer  # the MicroPython run's stand-in

    from ..storage import DirStorage

    with tempfile.TemporaryDirectory() as path:
        storage = DirStorage(path)
        Queue.provision(storage, bytes(32))
        q = Queue(storage, lambda e, c: FixedSealer(e, c, size), rotate_bytes=2048,
                  budget_bytes=40000)
        t0 = time.perf_counter()
        for n in range(1, records + 1):
            q.append(None, 3)
            if n % ACK_EVERY == 0:
                q.ack(3, n)
        return records / (time.perf_counter() - t0)


def run(out, records, size=204):
    with built_bundle() as bundle:
        # the RAM block device stands for flash, which is not heap on a terminal: a larger heap
        mp = micropython_result(bundle, ["-m", "lostcard_tools.bench_queue", str(records),
                                         str(size)], heap="256K")
    cp = cpython_queue(records, size)
    q, bare = mp["queue"], mp["bare"]
    out.write("lostcard bench queue: %d appends of %d-byte sealed records (acks every %d)\n"
              % (records, size, ACK_EVERY))
    heading(out, "CPython", "MicroPython")
    row(out, "appends per second", cp, q["appends_per_s"], q["appends_per_s"] / cp, digits=0,
        ratio_digits=2)
    out.write("CPython: files with fsync on this machine's disk; MicroPython: LittleFS on a RAM\n"
              "block device, so its rate is the code's, not a flash chip's.\n")
    out.write("\nflash cost per record on LittleFS (512-byte blocks):\n")
    heading(out, "queue", "bare append")
    rows = (("bytes written per record", q["bytes_written"] / records, bare["bytes_written"] / records),
            ("write amplification (bytes / record size)", q["bytes_written"] / records / size,
             bare["bytes_written"] / records / size),
            ("block writes per record", q["progs"] / records, bare["progs"] / records),
            ("blocks erased per record", q["erases"] / records, bare["erases"] / records),
            ("appends per second", q["appends_per_s"], bare["appends_per_s"]))
    for label, a, b in rows:
        row(out, label, a, b, a / b if b else 0, digits=2, ratio_digits=2)
    out.write("bare: the same bytes appended to one LittleFS file and closed each time (what a\n"
              "durable append costs the file system itself), the file removed every %d records.\n"
              % ACK_EVERY)
