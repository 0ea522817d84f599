"""Heap chores for the tests that run on both interpreters.

MicroPython's 64 KiB heap fragments unless a long test collects its garbage between rounds;
CPython needs none of that, and a full collection costs it milliseconds a call (the bit-flip test
of record_check spent 20 s of the suite in gc.collect()).

Importing this module on MicroPython also sets the collector's allocation threshold, the
documented defence against fragmentation (gc.threshold): collect after every THRESHOLD bytes
allocated rather than only when the heap is exhausted, so garbage is freed before it is spread
over the whole heap. Without it, whether a test fits in 64 KiB swung by kilobytes with the order
of the loaded modules' allocations (the bit-flip test passed at 65 and 67 KiB, failed at 64 and 66).
"""

import gc
import sys

_MICROPYTHON = sys.implementation.name == "micropython"
# the 64 KiB heap: a test may leave to the cross-interpreter comparisons what would hold two
# decisions in it at once
SMALL = _MICROPYTHON
THRESHOLD = 4096

if _MICROPYTHON:
    gc.threshold(THRESHOLD)


def tidy():
    """Collect the garbage now on MicroPython; nothing on CPython."""
    if _MICROPYTHON:
        gc.collect()
