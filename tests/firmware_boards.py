"""The firmware the tests run: lostcard frozen into MicroPython 1.28.0 (`lostcard build-firmware`),
the 32-bit unix build as a program and the Cortex-M3 board in QEMU on its serial console.

The source is ../shared/micropython/micropython-1.28.0.tar.xz beside the checkout (or
$LOSTCARD_MICROPYTHON_SRC). A clone elsewhere skips the firmware tests with that reason; CI (`CI`
set) fails instead. Builds are cached (~/.cache/lostcard/firmware), so only the first session pays.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lostcard_cpython import firmware, paths

SOURCE = Path(os.environ.get("LOSTCARD_MICROPYTHON_SRC")
              or paths.ROOT.parent / "shared" / "micropython" / "micropython-1.28.0.tar.xz")


def build(board, out, heap=firmware.DEFAULT_HEAP):
    if not SOURCE.exists():
        reason = "no MicroPython source at %s (set LOSTCARD_MICROPYTHON_SRC)" % SOURCE
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(firmware.build_firmware(SOURCE, board, out, heap)["path"])


def tools_only(bundle, out):
    """The test bundle without the device packages: frozen lostcard must be the one imported
    (sys.path puts '' before '.frozen', so a lostcard/ directory in the working one would win)."""
    shutil.copytree(bundle, out, ignore=shutil.ignore_patterns("lostcard", "lostcard_mpy"))
    return out


def unix32(exe, args, cwd, heap="48K", path=(), timeout=300):
    env = dict(os.environ, MICROPYPATH=":".join([".frozen"] + [str(p) for p in path]))
    env["LOSTCARD_FIXTURES"] = str(paths.FIXTURES)
    return subprocess.run([str(exe), "-X", "heapsize=" + heap] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
