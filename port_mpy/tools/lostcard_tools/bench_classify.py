"""On-device benchmark of the decision core.

    micropython -m lostcard_tools.bench_classify FILE RUNS   time and measure every scenario
    micropython -m lostcard_tools.bench_classify EVENT load  load one event (JSON) and stop
    micropython -m lostcard_tools.bench_classify EVENT decide  load it, then decide it

Reads labelled scenarios (JSON Lines) one line at a time, so the file never has to fit in the heap.
The first prints one JSON line: the median over scenarios of each scenario's median time per
decision in microseconds, and the median and largest heap allocation of one decision with the
collector off (an upper bound on its live peak). The last two differ only by the decision, so the
smallest heaps they run in differ by its live peak; they exit 1 on a MemoryError.
"""

import gc
import json
import sys
import time

from lostcard.decision import classify
from lostcard_tools.median import median as _median


def _events(path):
    with open(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)["event"]


def bench(path, runs):
    medians = []
    allocs = []
    worst = None
    for event in _events(path):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        classify(event)
        allocs.append(gc.mem_alloc() - before)
        gc.enable()
        if allocs[-1] == max(allocs):
            worst = event.get("id")
        samples = []
        for _ in range(runs):
            t0 = time.ticks_us()
            classify(event)
            samples.append(time.ticks_diff(time.ticks_us(), t0))
        medians.append(_median(samples))
    return {"median_us": _median(medians), "decisions": len(medians) * runs,
            "alloc_median": _median(allocs), "alloc_max": max(allocs), "alloc_max_id": worst}


def decide_one(path, decide):
    with open(path) as f:
        event = json.load(f)
    gc.collect()
    if decide:
        return "internal: MemoryError" not in classify(event)["errors"]
    return True


if __name__ == "__main__":
    if sys.argv[2] in ("load", "decide"):
        sys.exit(0 if decide_one(sys.argv[1], sys.argv[2] == "decide") else 1)
    print(json.dumps(bench(sys.argv[1], int(sys.argv[2]))))
