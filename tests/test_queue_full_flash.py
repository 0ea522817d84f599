"""The queue on a file system smaller than its budget, on real LittleFS (tests/mpy/littlefs_full.py
on MicroPython): urgent records are kept by evicting routine ones, and every routine record that
goes is counted. The same rules over in-memory storage, on both interpreters:
tests/mpy/test_queue.py.
"""

from micropython_process import micropython


def test_a_full_littlefs_keeps_urgent_records_and_counts_every_routine_one_it_drops(bundle):
    proc = micropython(bundle, ["-m", "littlefs_full"])
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("OK"), proc.stderr[-2000:] + last
    stored, evicted, refused = [int(w) for w in last.split()[1:]]
    # the flash filled many times over, and the free-space hook made room before any write failed
    assert evicted >= 100 and stored >= 200 and refused == 0
