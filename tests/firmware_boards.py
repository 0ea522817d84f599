"""The firmware the tests run: lostcard frozen into MicroPython 1.28.0 (`lostcard build-firmware`),
the 32-bit unix build as a program and the Cortex-M3 board in QEMU on its serial console.

The source is ../shared/micropython/micropython-1.28.0.tar.xz beside the checkout (or
$LOSTCARD_MICROPYTHON_SRC). A clone elsewhere skips the firmware tests with that reason; CI (`CI`
set) fails instead. Builds are cached (~/.cache/lostcard/firmware), so only the first session pays.
"""

import os
import subprocess
from pathlib import Path

import pytest

from lostcard_cpython import firmware, paths

SOURCE = firmware.DEFAULT_SOURCE
tools_only = firmware.tools_only


def build(board, out, heap=firmware.DEFAULT_HEAP):
    if not SOURCE.exists():
        reason = "no MicroPython source at %s (set LOSTCARD_MICROPYTHON_SRC)" % SOURCE
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(firmware.build_firmware(SOURCE, board, out, heap)["path"])


def unix32(exe, args, cwd, heap="48K", path=(), timeout=300):
    env = paths.micropython_env(*path)  # frozen modules first
    env["LOSTCARD_FIXTURES"] = str(paths.FIXTURES)
    return subprocess.run([str(exe), "-X", "heapsize=" + heap] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
