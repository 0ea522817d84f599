"""One probe of `lostcard bench firmware`: a terminal's step at a heap made smaller by a ballast.

    import lostcard_tools.bench_heap as b; b.main(STEP, CONFIG, BALLAST, DECLINES, COUNT)

BALLAST bytes are taken from the heap first, so that the step runs in what is left: that is how a
board whose heap is fixed at build time (the QEMU Cortex-M3) is probed at smaller heaps (the unix
interpreters take -X heapsize and no ballast). STEP is "boot" (import and Terminal()), "declines" (COUNT
declines from the DECLINES file) or "sync" (one sync step). Prints "OK <json>" (the on_decline
times in ticks_us: instructions/1000 under QEMU's -icount shift=0) or dies with MemoryError.
"""

import gc
import json

from time import ticks_diff, ticks_us


def main(step, config_path, ballast, declines=None, count=0):
    gc.collect()
    hold = bytearray(ballast)  # noqa: F841  (held until the step ends)
    from lostcard_mpy import Terminal

    with open(config_path) as f:
        terminal = Terminal(json.load(f))
    times = []
    if step == "declines":
        times = bytearray(4 * count)  # one block, before the loop: no growth while measuring
        with open(declines) as f:
            for n in range(count):
                event = json.loads(f.readline())
                t0 = ticks_us()
                if not terminal.on_decline(event)["stored"]:
                    # not SystemExit: in a board's raw REPL that soft-reboots it, and the bench
                    # would wait for an answer that never comes instead of counting a failed heap
                    raise RuntimeError("not stored")
                times[4 * n:4 * n + 4] = ticks_diff(ticks_us(), t0).to_bytes(4, "little")
                event = None
        times = sorted(int.from_bytes(times[i:i + 4], "little") for i in range(0, 4 * count, 4))
    elif step == "sync":
        terminal.link_returned(0)
        if not terminal.sync_step():
            raise RuntimeError("sync step failed: %s" % terminal.last_error)
    print("OK", json.dumps({"median_us": times[len(times) // 2] if times else 0}))
