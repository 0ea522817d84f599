"""The core's tests on the real MicroPython interpreter (unix port) under a 64 KiB heap.

Every test function of tests/mpy/test_*.py becomes one pytest item here, run by runner.py on
MicroPython from the .mpy bundle a terminal would carry; the same files also run under CPython
through pytest. Decisions for every fixture must match CPython's exactly.
"""

import json
import re

import pytest

from lostcard.decision import classify
from lostcard_cpython import mpybuild, paths, scenarios
from micropython_process import MPY_TESTS, micropython


def _mpy_test_items():
    for path in sorted(MPY_TESTS.glob("test_*.py")):  # one module per run keeps the heap small
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.M):
            yield path.stem, name


@pytest.mark.parametrize("module,name", list(_mpy_test_items()))
def test_on_micropython(bundle, module, name):
    proc = micropython(bundle, ["-m", "runner", module, name])
    assert proc.returncode == 0 and proc.stdout.strip() == "PASS " + name, \
        proc.stdout + proc.stderr


def test_fixture_decisions_match_cpython(bundle):
    proc = micropython(bundle, ["-m", "decide_fixtures", str(paths.SCENARIOS)])
    assert proc.returncode == 0, proc.stderr
    mpy = [json.loads(line) for line in proc.stdout.splitlines()]
    items = scenarios.load()
    assert len(mpy) == len(items)
    for item, got in zip(items, mpy):
        assert got == classify(item["event"]), item["name"]


@pytest.mark.parametrize("source", [p for root, package in mpybuild.PACKAGES
                                    for p in sorted((root / package).glob("*.py"))],
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_mpy_cross_compiles(source, tmp_path):
    mpybuild.compile_file(source, tmp_path / "out.mpy")  # raises BuildError with mpy-cross's words
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # the .mpy magic


def test_mpy_cross_rejects_what_micropython_cannot_run(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return (yield from)\n")
    with pytest.raises(mpybuild.BuildError):
        mpybuild.compile_file(bad, tmp_path / "bad.mpy")


def test_fuzzed_decisions_match_cpython(bundle):
    # the seeded generator of test_fuzz, run on both interpreters, decision for decision
    import test_fuzz

    proc = micropython(bundle, ["-c", "import test_fuzz; test_fuzz.print_decisions(400)"])
    assert proc.returncode == 0, proc.stderr + proc.stdout[-500:]
    mpy = [json.loads(line) for line in proc.stdout.splitlines()]
    rng = test_fuzz.XorShift(test_fuzz.SEED)
    cpy = [classify(test_fuzz.random_event(rng)) for _ in range(400)]
    assert len(mpy) == 400
    for i, (got, want) in enumerate(zip(mpy, cpy)):
        assert got == want, i
