"""The Terminal's cost as its backlog grows: `lostcard bench backlog` runs this on MicroPython
(from the .mpy bundle) and on CPython (the core's Terminal on the emulator's platform, in phases
as well), with the same arguments:

    -m lostcard_tools.bench_backlog CONFIG.json DECLINES.jsonl COUNT STEPS

Boots a Terminal on the queue the config names (its backlog already on flash), handles COUNT
declines, then runs STEPS sync steps (-1: until nothing is left to send). Prints one JSON line:
the first on_decline (it scans the whole queue, once per power-on), the median of the others,
and the sync's time, steps and incidents, and what is left queued. A MemoryError ends the run
with exit status 1.
"""

import json
import sys
from array import array


def _next_event(f):
    line = f.readline()
    if not line.strip():  # the end: round again
        f.seek(0)
        line = f.readline()
    return json.loads(line)


def _decline(terminal, event, now, diff):
    """One on_decline's time, in µs; the run ends if it did not store its incident."""
    t0 = now()
    stored = terminal.on_decline(event)["stored"]
    spent = diff(now(), t0)
    if not stored:
        raise SystemExit("an incident was not stored")
    return spent


def main(config_path, events_path, count, steps, make_terminal=None, clock=None):
    """`make_terminal(config)` and `clock` = (now in µs, difference) are CPython's: its
    launcher passes them; MicroPython's are the port's Terminal and time.ticks_us."""
    if clock is None:
        from time import ticks_diff, ticks_us

        clock = ticks_us, ticks_diff
    now, diff = clock
    with open(config_path) as f:
        config = json.load(f)
    if make_terminal is None:
        from lostcard_mpy import Terminal

        make_terminal = Terminal
    terminal = make_terminal(config)
    times = array("I", bytes(4 * max(count, 1)))  # preallocated: no growth while measuring
    with open(events_path) as f:
        for n in range(count):
            times[n] = _decline(terminal, _next_event(f), now, diff)
    ordered = sorted(times[1:count]) or [times[0]]
    median = ordered[len(ordered) // 2]
    ordered = None
    terminal.link_returned(0)
    synced = done_steps = 0
    t0 = now()
    while steps < 0 or done_steps < steps:
        done = terminal.sync_step()
        if not done:
            break
        synced += done
        done_steps += 1
    sync_us = diff(now(), t0)
    left = terminal.status().get("queued")  # None: status() itself ran out of heap
    print(json.dumps({"first_us": times[0], "median_us": median, "sync_us": sync_us,
                      "steps": done_steps, "synced": synced, "left": left}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
