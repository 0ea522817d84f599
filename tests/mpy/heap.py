"""Heap chores for the tests that run on both interpreters.

MicroPython's 64 KiB heap fragments unless a long test collects its garbage between rounds;
CPython needs none of that, and a full collection costs it milliseconds a call (the bit-flip test
of record_check spent 20 s of the suite in gc.collect()).
"""

import gc
import sys

_MICROPYTHON = sys.implementation.name == "micropython"


def tidy():
    """Collect the garbage now on MicroPython; nothing on CPython."""
    if _MICROPYTHON:
        gc.collect()
