"""A watchlist lookup's budget on MicroPython (< 2 ms, < 1 KiB of heap), for `lostcard bench
device` (port_cpython/lostcard_cpython/bench/watchlist.py, which times CPython itself):

    micropython -m lostcard_tools.bench_watchlist QUEUE_DIR TOKENS.txt

QUEUE_DIR holds an installed `watch.lcu`; TOKENS.txt one hex token a line, some on the list and
some not. Each is looked up once, timed, and the bytes it allocated counted with the collector
off, garbage included. Prints one JSON line: lookups, found, median and worst time (us) and
allocation (bytes).
"""

import gc
import json
import sys
from array import array
from time import ticks_diff, ticks_us

from lostcard import watchlist
from lostcard_mpy.storage import FlashStorage
from lostcard_tools.median import median


def main(queue_dir, tokens_path):
    storage = FlashStorage(queue_dir)
    times, allocated = array("I"), array("I")
    found = 0
    with open(tokens_path) as f:
        for line in f:
            token = bytes.fromhex(line.strip())
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            t0 = ticks_us()
            hit = watchlist.lookup(storage, token)
            times.append(ticks_diff(ticks_us(), t0))
            allocated.append(gc.mem_alloc() - before)
            gc.enable()
            found += hit is not None
    print(json.dumps({"lookups": len(times), "found": found, "median_us": median(times),
                      "worst_us": max(times), "median_bytes": median(allocated),
                      "worst_bytes": max(allocated)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
