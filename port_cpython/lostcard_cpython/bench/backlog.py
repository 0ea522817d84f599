"""`lostcard bench backlog`: what a backlog of queued incidents costs the Terminal in phases mode
(the queue reopened at every call), on CPython and on MicroPython (the .mpy bundle).

One backlog is made once (the emulator's Terminal declining the fixtures), then each run starts
on a copy of it: a power-on, `on_decline` COUNT times, a sync to a collector on loopback of its
own (port_mpy/tools/lostcard_tools/bench_backlog.py). The first on_decline of a power-on scans
the whole queue; the median leaves it out, and each figure is the median of three runs, empty
and backlog taken in turn. MicroPython's peak heap is the smallest heap from
which three heaps in a row (4 KiB apart) complete a few declines and sync steps. Goals (issue
11): on_decline median with the backlog within 1.5x of an empty queue's; the phases mode's full
sync within 2x of resident mode's; the phases mode's peak heap with the backlog <= 80 KiB.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .. import provision
from ..local_collector import LocalCollector
from ..platform import Platform
from .device import SECRET, _declines
from .harness import built_bundle, last_line, micropython

DECLINE_GOAL, SYNC_GOAL, HEAP_GOAL = 1.5, 2.0, 80 << 10
HEAP_STEP = 4 << 10
ROUNDS = 3
TIMING_HEAP = "512K"  # the timed MicroPython runs: room enough that the heap is not measured


class _Everything:
    def __contains__(self, name):
        return True


class _PhasedPlatform(Platform):
    """The emulator's platform for the core's Terminal in phases: each call reopens the queue
    (what is measured). No module is unloaded (CPython would hold two copies of each), and one
    HTTP client serves every sync step: making an httpx client costs ~30 ms, which would be
    most of the phases' sync, where MicroPython's costs nothing."""
    keep = _Everything()
    _transport = None

    def transport(self, url, ca=None):
        self._transport = self._transport or Platform.transport(self, url, ca)
        return self._transport


CLOCK = (lambda: time.perf_counter_ns() // 1000, lambda a, b: a - b)  # the tool's, in µs


def phased_terminal(config):
    from lostcard.terminal import Terminal

    return Terminal(config, _PhasedPlatform())


class _Runs:
    """Terminals on copies of one backlog, in a temporary directory."""

    def __init__(self, tmp, bundle, backlog):
        self.tmp, self.bundle, self.declines = tmp, bundle, _declines(tmp)
        self.secret = os.path.join(tmp, "fleet.secret")
        with open(self.secret, "w") as f:
            f.write(SECRET.hex())
        self.runs = 0
        self.queues = {0: self._queue(0), backlog: self._queue(backlog)}

    def _config(self, queue, url, resident):
        self.runs += 1
        path = os.path.join(self.tmp, "run-%d" % self.runs)
        shutil.copytree(queue, path)
        config = {"device_id": "BENCH-BACKLOG", "queue_dir": path, "token_key": "77" * 32,
                  "collector_url": url, "sync_spread_s": 0, "resident": resident,
                  "budget_bytes": 8 << 20}
        with open(path + ".json", "w") as f:
            json.dump(config, f)
        return path + ".json"

    def _queue(self, incidents):
        """A provisioned queue holding `incidents` declines of the fixtures."""
        from ..terminal import Terminal

        path = os.path.join(self.tmp, "backlog-%d" % incidents)
        os.makedirs(path)
        provision.write(path + ".prov", SECRET, "BENCH-BACKLOG")
        terminal = Terminal({"device_id": "BENCH-BACKLOG", "queue_dir": path,
                             "token_key": "77" * 32, "provisioning": path + ".prov",
                             "budget_bytes": 8 << 20})
        with open(self.declines) as f:
            events = [json.loads(line) for line in f if line.strip()]
        for n in range(incidents):
            terminal.on_decline(events[n % len(events)])
        return path

    def run(self, interpreter, incidents, resident, count, steps, url=None, heap=TIMING_HEAP):
        """The tool's result on a copy of the backlog; None if MicroPython failed in a heap
        smaller than the timed runs'."""
        args = [self._config(self.queues[incidents], url or "http://127.0.0.1:9", resident),
                self.declines, str(count), str(steps)]
        if interpreter == "micropython":
            code, out, err = micropython(self.bundle, ["-m", "lostcard_tools.bench_backlog"]
                                         + args, heap=str(heap))
        else:
            launch = ("import sys; from lostcard_tools import bench_backlog; "
                      "from lostcard_cpython.bench.backlog import CLOCK, phased_terminal; "
                      "bench_backlog.main(sys.argv[1], sys.argv[2], int(sys.argv[3]), "
                      "int(sys.argv[4]), phased_terminal, CLOCK)")
            proc = subprocess.run([sys.executable, "-c", launch] + args, capture_output=True,
                                  text=True, timeout=1200)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        if code != 0:
            # in a heap too small, MicroPython may not even have the room to say why
            if heap != TIMING_HEAP:
                return None
            raise SystemExit("%s backlog bench failed (exit %d):\n%s%s"
                             % (interpreter, code, err, out))
        return last_line(out)

    def synced(self, interpreter, incidents, resident):
        """A full sync of the backlog (and one decline before it), to a collector of its own."""
        collector = LocalCollector(os.path.join(self.tmp, "c-%d.db" % self.runs),
                                   self.secret).start()
        try:
            return self.run(interpreter, incidents, resident, 1, -1, collector.url)
        finally:
            collector.stop()

    def smallest_heap(self, incidents, url, count=10, steps=10):
        """The smallest MicroPython heap from which three in a row complete, phases mode."""
        heap, streak = 64 << 10, 0
        while heap <= 256 << 10:
            result = self.run("micropython", incidents, False, count, steps, url, heap)
            # complete: every step sent a batch, or nothing was left to send (a MemoryError in
            # the HTTP client ends a sync step early, but cleanly)
            complete = result and (result["steps"] == steps or not result["left"])
            streak = streak + 1 if complete else 0
            if streak == 3:
                return heap - 2 * HEAP_STEP
            heap += HEAP_STEP
        return None


def _goal(out, label, value, goal, unit=""):
    out.write("%-58s %10s  goal <= %-9s %s\n" % (label, "-" if value is None else value + unit,
                                                  goal + unit, "met" if value is not None
                                                  and float(value) <= float(goal) else "NOT met"))


def run(out, count=200, backlog=5000):
    with tempfile.TemporaryDirectory() as tmp, built_bundle() as bundle:
        runs = _Runs(tmp, bundle, backlog)
        declines = {}
        for interpreter in ("cpython", "micropython"):
            # empty and backlog in turn, ROUNDS times, the median run of each: a machine busy
            # with something else then weighs on both sides alike
            results = {0: [], backlog: []}
            for _ in range(ROUNDS):
                for incidents in results:
                    results[incidents].append(runs.run(interpreter, incidents, False, count, 0))
            for incidents, done in results.items():
                done.sort(key=lambda result: result["median_us"])
                declines[interpreter, incidents] = done[len(done) // 2]
        syncs = {(interpreter, resident): runs.synced(interpreter, backlog, resident)
                 for interpreter in ("cpython", "micropython") for resident in (False, True)}
        collector = LocalCollector(os.path.join(tmp, "heap.db"), runs.secret).start()
        try:
            heaps = {incidents: runs.smallest_heap(incidents, collector.url)
                     for incidents in (0, backlog)}
        finally:
            collector.stop()
    _report(out, count, backlog, declines, syncs, heaps)


def _report(out, count, backlog, declines, syncs, heaps):
    out.write("lostcard bench backlog: phases mode (the queue reopened at every call) with %d "
              "incidents queued\nbeside an empty queue; %d declines a run, then a full sync\n\n"
              % (backlog, count))
    out.write("%-36s %12s %14s\n" % ("", "CPython", "MicroPython"))
    for label, key, incidents, scale in (
            ("on_decline median, empty (ms)", "median_us", 0, 1000),
            ("on_decline median, backlog (ms)", "median_us", backlog, 1000),
            ("first on_decline, backlog (ms)", "first_us", backlog, 1000)):
        out.write("%-36s %12.2f %14.2f\n" % (label, declines["cpython", incidents][key] / scale,
                                             declines["micropython", incidents][key] / scale))
    for resident, label in ((True, "resident"), (False, "phases")):
        out.write("%-36s %12.2f %14.2f\n" % ("full sync of the backlog, %s (s)" % label,
                                             syncs["cpython", resident]["sync_us"] / 1e6,
                                             syncs["micropython", resident]["sync_us"] / 1e6))
    out.write("%-36s %12d %14d\n" % ("incidents synced, phases", syncs["cpython", False]["synced"],
                                     syncs["micropython", False]["synced"]))
    out.write("(the first on_decline of a power-on scans the whole queue; the medians leave it "
              "out. CPython's\nTerminal is always resident; here, in phases, it keeps one "
              "HTTP client for all its steps)\n\ngoals:\n")
    for interpreter, name in (("cpython", "CPython"), ("micropython", "MicroPython")):
        ratio = declines[interpreter, backlog]["median_us"] / declines[interpreter, 0]["median_us"]
        _goal(out, "%s on_decline median, backlog / empty" % name, "%.2f" % ratio,
              "%.1f" % DECLINE_GOAL, "x")
        ratio = syncs[interpreter, False]["sync_us"] / syncs[interpreter, True]["sync_us"]
        _goal(out, "%s full sync, phases / resident" % name, "%.2f" % ratio, "%.1f" % SYNC_GOAL,
              "x")
    for incidents in (0, backlog):
        heap = heaps[incidents]
        _goal(out, "MicroPython phases peak heap, %d queued (KiB)" % incidents,
              None if heap is None else "%d" % (heap >> 10), "%d" % (HEAP_GOAL >> 10))
