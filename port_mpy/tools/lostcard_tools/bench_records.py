"""On-device benchmark of incident records: build + seal, and open, per incident.

    micropython -m lostcard_tools.bench_records FILE RUNS

FILE is JSON Lines of {"event": ..., "decision": ...}, read a line at a time. Prints one JSON line:
the median over incidents of each incident's median microseconds to build and seal it (CBOR +
COSE_Encrypt0 under AES-CCM on cryptolib) and to open it again (COSE + CBOR decode).
"""

import gc
import json
import sys
import time

from lostcard import cbor, cose, keys, record, sealing
from lostcard_mpy import crypto
from lostcard_tools.median import median as _median
from lostcard.collector.fleet import device_root, first_chain


def bench(path, runs):
    chain = first_chain(crypto, device_root(crypto, bytes(32), "BENCH-1"))
    device = keys.DeviceKeys(crypto, "BENCH-1", 0, chain)
    aead = crypto.aead(device.key)
    seal_us = []
    open_us = []
    seq = 1
    with open(path) as f:
        for line in f:
            gc.collect()  # the last incident's garbage first: the heap is 64 KiB
            item = json.loads(line)
            line = None
            gc.collect()
            samples = []
            for _ in range(runs):
                t0 = time.ticks_us()
                sealed = sealing.seal(crypto, device, record.build(
                    item["event"], item["decision"], "BENCH-1", seq, crypto, bytes(32)))
                samples.append(time.ticks_diff(time.ticks_us(), t0))
            seal_us.append(_median(samples))
            samples = []
            for _ in range(runs):
                t0 = time.ticks_us()
                cbor.decode(cose.open(aead, sealed))
                samples.append(time.ticks_diff(time.ticks_us(), t0))
            open_us.append(_median(samples))
            item = None
            seq += 1
    return {"seal_us": _median(seal_us), "open_us": _median(open_us)}


if __name__ == "__main__":
    print(json.dumps(bench(sys.argv[1], int(sys.argv[2]))))
