"""On-device benchmark of the decision core: `micropython -m lostcard_mpy.bench_classify FILE RUNS`.

Reads labelled scenarios (JSON Lines) one line at a time, so the file never has to fit in the heap,
and prints one JSON line: the median over scenarios of each scenario's median time per decision in
microseconds, and the most any one decision allocated with the collector off (an upper bound on its
peak heap use).
"""

import gc
import json
import sys
import time

from lostcard import classify


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) // 2


def bench(path, runs):
    medians = []
    peak = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            event = json.loads(line)["event"]
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            classify(event)
            peak = max(peak, gc.mem_alloc() - before)
            gc.enable()
            samples = []
            for _ in range(runs):
                t0 = time.ticks_us()
                classify(event)
                samples.append(time.ticks_diff(time.ticks_us(), t0))
            medians.append(_median(samples))
            event = None
    return {"median_us": _median(medians), "decisions": len(medians) * runs,
            "peak_alloc_bytes": peak}


if __name__ == "__main__":
    print(json.dumps(bench(sys.argv[1], int(sys.argv[2]))))
