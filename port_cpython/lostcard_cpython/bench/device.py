"""`lostcard bench device`: the Terminal's budgets on MicroPython (from the .mpy bundle) beside
CPython (the emulator's Terminal), through the API a payment application calls.

Each run starts a new terminal (provisioning file, empty queue) and a collector on loopback,
handles the declines, then syncs the backlog (port_mpy/tools/lostcard_tools/bench_device.py).
MicroPython runs at 64 KiB, the budget, then upwards in 4 KiB steps: its peak is the smallest
heap from which three heaps in a row complete the run (every decline stored and synced),
fragmentation included. CPython's peak is tracemalloc's. Then the sync steps that apply updates
(port_mpy/tools/lostcard_tools/bench_update.py: a policy and a full watchlist, fetched a chunk a
step and installed), their smallest heap found the same way.
"""

import json
import os
import subprocess
import sys
import tempfile

from .. import provision
from ..errors import Failed
from .. import scenarios as scenario_file
from ..local_collector import LocalCollector
from ..paths import PORT_MPY
from .harness import built_bundle, heading, last_line, micropython, row
from .watchlist import measure as measure_watchlist

SECRET = bytes(range(7, 39))
BUDGET = 64 << 10
STEP = 4 << 10
UPDATE_ENTRIES = 4094  # a full watchlist: 64 KiB with its header, 64 chunks


def _terminal(tmp, url, name, resident):
    """A new terminal's config and provisioning file; its path."""
    path = os.path.join(tmp, name)
    os.makedirs(path)
    provision.write(os.path.join(path, "prov.cbor"), SECRET, name)
    config = {"device_id": name, "queue_dir": os.path.join(path, "queue"),
              "token_key": "77" * 32, "provisioning": os.path.join(path, "prov.cbor"),
              "collector_url": url, "sync_spread_s": 0, "resident": resident,
              "budget_bytes": 512 << 10}
    with open(os.path.join(path, "lostcard.json"), "w") as f:
        json.dump(config, f)
    return os.path.join(path, "lostcard.json")


def _declines(tmp):
    path = os.path.join(tmp, "declines.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for item in scenario_file.load():
            f.write(json.dumps(item["event"], ensure_ascii=False) + "\n")
    return path


def _cpython(config, declines, count):
    code = ("import tracemalloc, sys; tracemalloc.start(); "
            "sys.argv = ['bench', %r, %r, %r]; import runpy; "
            "runpy.run_module('lostcard_tools.bench_device', run_name='__main__'); "
            "print(tracemalloc.get_traced_memory()[1])" % (config, declines, str(count)))
    env = dict(os.environ, PYTHONPATH=str(PORT_MPY))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=600)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise Failed("CPython device bench failed: %s" % last[0])
    lines = proc.stdout.split()
    return json.loads(proc.stdout.splitlines()[0]), int(lines[-1])


def run(out, count=500):
    with tempfile.TemporaryDirectory() as tmp, built_bundle() as bundle:
        declines = _declines(tmp)
        secret = os.path.join(tmp, "fleet.secret")
        with open(secret, "w") as f:
            f.write(SECRET.hex())
        collector = LocalCollector(os.path.join(tmp, "collector.db"), secret).start()
        runs = [0]

        def mpy(heap):
            runs[0] += 1
            config = _terminal(tmp, collector.url, "BENCH-D-%d" % runs[0], False)
            code, text, _ = micropython(
                bundle, ["-m", "lostcard_tools.bench_device", config, declines, str(count)],
                heap=str(heap))
            result = last_line(text) if code == 0 else None
            # complete: every decline stored and synced (a MemoryError inside the HTTP client
            # ends the sync early but cleanly)
            return result if result and result["synced"] == count and not result["left"] \
                else None

        try:
            at_budget, smallest, found = _smallest(mpy)
            cpython, cpython_peak = _cpython(_terminal(tmp, collector.url, "BENCH-C-1", True),
                                             declines, count)
        finally:
            collector.stop()
        update = _smallest(lambda heap: _update(bundle, tmp, heap))
        watch = measure_watchlist(bundle, tmp)
    _report(out, count, at_budget, found, smallest, cpython, cpython_peak)
    _report_update(out, *update)
    _report_watchlist(out, *watch)


def _smallest(run):
    """(the result at BUDGET, the smallest heap, its result): from BUDGET upwards, the first of
    three heaps in a row at which `run(heap)` completes (a fragmented heap can fail above one
    that passed); a result None if none up to 1 MiB did."""
    at_budget = run(BUDGET)
    smallest, found, passed, heap = BUDGET, None, 0, BUDGET
    while passed < 3 and heap <= 1 << 20:
        result = at_budget if heap == BUDGET else run(heap)
        if result is None:
            passed, found = 0, None
        else:
            if passed == 0:
                smallest, found = heap, result
            passed += 1
        heap += STEP
    return at_budget, smallest, found


def _update(bundle, tmp, heap):
    """One run of the update's sync steps (lostcard_tools.bench_update): a policy, then a full
    watchlist, on a new queue; its result, None unless both were installed."""
    path = tempfile.mkdtemp(dir=tmp)
    code, text, _ = micropython(bundle, ["-m", "lostcard_tools.bench_update", path,
                                         str(UPDATE_ENTRIES)], heap=str(heap))
    result = last_line(text) if code == 0 else None
    return result if result and result["policy"] == result["watchlist"] == 1 else None


def _report_update(out, at_budget, smallest, result):
    out.write("\nsync steps applying updates (MicroPython, phases): a check-in, a policy, then a "
              "watchlist of %d entries a chunk a step, each installed once whole\n"
              % UPDATE_ENTRIES)
    if result is None:
        out.write("no heap up to 1 MiB completed them\n")
        return
    out.write("%-44s %12d\n" % ("steps", result["steps"]))
    out.write("%-44s %12.2f\n" % ("step median (ms)", result["median_us"] / 1000))
    out.write("%-44s %12.2f\n" % ("step worst (ms)",
                                   result["worst_us"] / 1000))
    out.write("%-44s %12d\n" % ("peak heap (bytes; smallest heap)", smallest))
    out.write("%-44s %12s\n" % ("runs at -X heapsize=64K (budget)",
                                 "yes" if at_budget is not None else "NO (MemoryError)"))


def _report(out, count, at_budget, mpy, smallest, cpy, cpy_peak):
    out.write("lostcard bench device: %d declines (classify + seal + durable append), then a full "
              "sync to a collector on loopback\n" % count)
    heading(out, "MicroPython", "CPython")
    if mpy is None:
        out.write("MicroPython: no heap up to 1 MiB completed the run\n")
        return
    for label, key in (("import + Terminal() (ms)", "import_us"),
                       ("first on_decline, cold (ms)", "first_us"),
                       ("on_decline median (ms)", "median_us"),
                       ("on_decline worst (ms)", "worst_us"),
                       ("sync of the backlog (ms)", "sync_us")):
        m, c = mpy[key] / 1000, cpy[key] / 1000
        row(out, label, m, c, m / c if c else 0, digits=2)
    out.write("%-44s %12d %14d\n" % ("incidents synced", mpy["synced"], cpy["synced"]))
    out.write("%-44s %12d %14d\n" % ("incidents left in the queue", mpy["left"], cpy["left"]))
    out.write("%-44s %12d %14d\n" % ("peak heap (bytes; MPy: smallest heap)", smallest, cpy_peak))
    out.write("%-44s %12s\n" % ("runs at -X heapsize=64K (budget)",
                                "yes" if at_budget is not None else "NO (MemoryError)"))


def _report_watchlist(out, mpy, cpy):
    out.write("\nwatchlist lookup: %d tokens asked of a full list (4,094), %d on it\n"
              % (mpy["lookups"], mpy["found"]))
    heading(out, "MicroPython", "CPython")
    for label, key in (("lookup median (ms; budget < 2)", "median_us"),
                       ("lookup worst (ms)", "worst_us")):
        m, c = mpy[key] / 1000, cpy[key] / 1000
        row(out, label, m, c, m / c if c else 0, digits=3)
    for label, key in (("heap allocated per lookup, median (bytes)", "median_bytes"),
                       ("heap allocated per lookup, worst (bytes)", "worst_bytes")):
        out.write("%-44s %12d %14s\n" % (label, mpy[key], "n/a"))
    for label, met in (("budget < 2 ms a lookup (median)", mpy["median_us"] < 2000),
                       ("budget < 1 KiB of heap a lookup (every one)", mpy["worst_bytes"] < 1024)):
        out.write("%-44s %12s\n" % (label, "met" if met else "NOT met"))
