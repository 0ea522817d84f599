"""Run test functions of one module on whichever interpreter runs this file.

    micropython -X heapsize=64K runner.py test_core test_luhn test_expiry ...

Prints PASS/FAIL per test and exits 1 if any failed; tests/test_micropython.py drives it from pytest.
"""

import sys

import heap


def _report(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback

        traceback.print_exception(exc)


def main():
    module = __import__(sys.argv[1])
    failed = 0
    for name in sys.argv[2:]:
        heap.tidy()  # start each test from a compacted heap, as a terminal's main loop would
        try:
            getattr(module, name)()
            print("PASS", name)
        except Exception as exc:
            failed += 1
            print("FAIL", name)
            _report(exc)
    sys.exit(1 if failed else 0)


main()
