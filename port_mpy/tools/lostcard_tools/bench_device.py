"""The terminal's budgets, measured through its API: `lostcard bench device` runs this on MicroPython
(from the .mpy bundle) and on CPython (the emulator's Terminal), with the same arguments:

    -m lostcard_tools.bench_device CONFIG.json DECLINES.jsonl COUNT

Imports and builds the Terminal (provisioning its queue), handles COUNT declines cycling through
the file (classify, seal, durable append), then syncs the whole backlog to the collector in the
config. Prints one JSON line: import and first-decline times, median and worst on_decline, the
sync's time and count. A MemoryError ends the run with exit status 1: the harness finds the
smallest heap that completes it.
"""

import gc
import json
import sys

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython
    from time import perf_counter_ns

    def ticks_us():
        return perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b


def _events(path):
    while True:  # cycle: the file is read a line at a time, never held whole
        with open(path) as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def main(config_path, events_path, count):
    from array import array

    gc.collect()
    t0 = ticks_us()
    if sys.implementation.name == "micropython":
        from lostcard_mpy import Terminal
    else:
        from lostcard_cpython.terminal import Terminal
    with open(config_path) as f:
        terminal = Terminal(json.load(f))
    import_us = ticks_diff(ticks_us(), t0)
    times = array("I", bytes(4 * count))  # one block, preallocated: no growth while measuring
    events = _events(events_path)
    for n in range(count):
        event = next(events)
        t0 = ticks_us()
        decision = terminal.on_decline(event)
        times[n] = ticks_diff(ticks_us(), t0)
        if not decision["stored"]:
            raise SystemExit("not stored: " + decision["store_error"])
        decision = event = None
    first = times[0]
    ordered = sorted(times[1:]) if count > 1 else [first]
    median, worst = ordered[len(ordered) // 2], ordered[-1]
    ordered = times = None
    terminal.link_returned()
    t0 = ticks_us()
    synced = 0
    while True:
        done = terminal.sync_step()
        if not done:
            break
        synced += done
    sync_us = ticks_diff(ticks_us(), t0)
    status = terminal.status()
    print(json.dumps({"import_us": import_us, "first_us": first,
                      "median_us": median, "worst_us": worst,
                      "sync_us": sync_us, "synced": synced, "left": status["queued"],
                      "link": status["link"]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
