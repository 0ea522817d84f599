"""The watchlist lookup in `lostcard bench device`: a full list (4,094 keyed tokens of made-up
cards) installed through lostcard.update into a terminal's queue directory, then looked up on
MicroPython (port_mpy/tools/lostcard_tools/bench_watchlist.py) and on CPython, half the tokens
asked on the list."""

import hashlib
import os
import statistics
import time

from lostcard import update, watchlist
from lostcard.protocol import OBJECT_MAGIC, WATCHLIST, object_mac

from .. import crypto
from ..storage import DirStorage
from .harness import micropython_result

KEY = b"\x66" * 32  # the bench terminal's ack key
DEVICE = "BENCH-W"
ENTRIES = 4094  # the most a watchlist holds
LOOKUPS = 1000


def _install(queue_dir, tokens):
    body = b"".join(sorted(t[:15] + bytes((1 + t[15] % 255,)) for t in tokens))
    mac = object_mac(crypto, KEY, DEVICE, WATCHLIST, 1, hashlib.sha256(body).digest())
    obj = (OBJECT_MAGIC + bytes((WATCHLIST, 0, 0, 0)) + (1).to_bytes(4, "big")
           + len(body).to_bytes(4, "big") + mac + body)
    storage = DirStorage(queue_dir)
    update.add_chunk(storage, WATCHLIST, 1, len(obj), 0, obj)  # whole: fetching is not timed
    update.install(storage, WATCHLIST, crypto, KEY, DEVICE)


def _cpython(queue_dir, asked):
    """CPython's side, in this process: the same lookups on the directory storage, timed (no
    heap figure: CPython has no gc.mem_alloc)."""
    storage = DirStorage(queue_dir)
    times = []
    found = 0
    for token in asked:
        t0 = time.perf_counter_ns()
        found += watchlist.lookup(storage, token) is not None
        times.append((time.perf_counter_ns() - t0) // 1000)
    return {"lookups": len(asked), "found": found, "median_us": statistics.median(times),
            "worst_us": max(times), "median_bytes": 0, "worst_bytes": 0}


def measure(bundle, tmp):
    """(MicroPython's result, CPython's): lookups, found, median and worst us and bytes."""
    tokens = [crypto.hmac_sha256(b"\x77" * 32, b"4000%012d" % n)[:16]
              for n in range(ENTRIES + LOOKUPS // 2)]
    queue_dir = os.path.join(tmp, "watch-queue")
    _install(queue_dir, tokens[:ENTRIES])
    asked = tokens[:ENTRIES:ENTRIES // (LOOKUPS // 2)][:LOOKUPS // 2] + tokens[ENTRIES:]
    path = os.path.join(tmp, "tokens.txt")
    with open(path, "w") as f:
        f.write("".join(t.hex() + "\n" for t in asked))
    mpy = micropython_result(bundle, ["-m", "lostcard_tools.bench_watchlist", queue_dir, path])
    return mpy, _cpython(queue_dir, asked)
