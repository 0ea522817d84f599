"""`lostcard bench classify`: time per decision on both interpreters, and the heap MicroPython
needs for the core and for one decision.

Both sides time every scenario `runs` times and report the median over scenarios of the
per-scenario median, so a few slow scenarios cannot hide in a mean.
"""

import gc
import json
import statistics
import tempfile

from lostcard.decision import classify

from .. import scenarios as scenario_file
from ..paths import SCENARIOS
from .harness import built_bundle, heading, median_us, micropython, micropython_result, row


def cpython_classify(runs):
    medians = [median_us(lambda event=item["event"]: classify(event), runs)
               for item in scenario_file.load()]
    return {"median_us": statistics.median(medians), "decisions": len(medians) * runs}


def import_cost(bundle):
    """Heap bytes the core holds once imported (after a collection)."""
    return micropython_result(bundle, ["-c", "import gc; gc.collect(); a = gc.mem_alloc(); "
                                       "import lostcard.decision; gc.collect(); "
                                       "print(gc.mem_alloc() - a)"], heap="256K")


def smallest_heap(bundle, args, low=16 << 10, high=256 << 10, step=64):
    """Smallest heap in bytes (to `step`) in which MicroPython runs `args` successfully."""
    low, high = low // step, high // step
    while low < high:
        mid = (low + high) // 2
        code, _, _ = micropython(bundle, args, heap=str(mid * step), timeout=120)
        if code == 0:
            high = mid
        else:
            low = mid + 1
    return low * step


def decision_peak(bundle, event):
    """Live heap one decision of `event` needs: the smallest heap that decides it, less the
    smallest that only loads it (both import the core the same way)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(event, f)
        f.flush()
        script = ["-m", "lostcard_tools.bench_classify", f.name]
        return smallest_heap(bundle, script + ["decide"]) - smallest_heap(bundle, script + ["load"])


def run(out, runs):
    with built_bundle() as bundle:
        gc.collect()
        cp = cpython_classify(runs)
        # counting allocation with the collector off needs room for a decision's garbage; the
        # heap budgets are the bisected rows below, with the collector on
        mp = micropython_result(bundle, ["-m", "lostcard_tools.bench_classify", str(SCENARIOS),
                                         str(runs)], heap="128K")
        out.write("lostcard bench classify: %d scenarios x %d runs per interpreter\n"
                  % (cp["decisions"] // runs, runs))
        heading(out, "CPython", "MicroPython")
        row(out, "median time per decision (us)", cp["median_us"], mp["median_us"],
            mp["median_us"] / cp["median_us"])
        worst = [i["event"] for i in scenario_file.load()
                 if i["event"].get("id") == mp["alloc_max_id"]]
        rows = (("heap held by the imported core (B)", import_cost(bundle)),
                ("heap allocated per decision, median (B)", mp["alloc_median"]),
                ("heap allocated per decision, max (B)", mp["alloc_max"]),
                ("peak heap of the costliest decision (B)", decision_peak(bundle, worst[0])),
                ("smallest heap: import + one decision (B)", smallest_heap(bundle, [
                    "-c", "from lostcard.decision import classify; "
                    "classify({'response': {'code': '41'}})"])))
        for label, value in rows:
            out.write("%-44s %12s %14d\n" % (label, "-", value))
    out.write("MicroPython: unix port (64-bit) running the mpy-cross bundle. Allocation is counted\n"
              "with the collector off (an upper bound on the live peak). Peak and smallest heaps\n"
              "are found by bisection (64 B steps) with the collector on. Costliest decision: %s\n"
              % mp["alloc_max_id"])
