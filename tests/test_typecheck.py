"""The code that runs on a terminal uses only what MicroPython has: mypy over core/ and port_mpy/
against MicroPython's own stubs.

CPython's typeshed knows every CPython module and function, so an ordinary type check cannot tell
that `subprocess` or `time.monotonic` is missing on a terminal. Here mypy runs with the stubs of
MicroPython's unix port (micropython-unix-stubs, the interpreter the other tests run on, over
micropython-stdlib-stubs) as its typeshed and as its only other import path, without site-packages:
a module or function MicroPython lacks is an error, and fails the build. Options: [tool.mypy] in
pyproject.toml, which reads the stub directory from $LOSTCARD_MPY_STUBS.

What the stubs can tell: every module MicroPython lacks (subprocess, hmac, dataclasses, ...), and
what is missing from the modules that are MicroPython's own (time.monotonic, gc.get_objects).
Their builtins, sys, os, json and struct are trimmed copies of CPython's and still declare some
CPython extras (str.removeprefix, os.getpid, sys.getsizeof): only running the code on the real
interpreter (test_micropython.py, the benches) catches those.

The stub packages install as loose top-level modules (`time.pyi`, `cryptolib.pyi`, `requests/`)
and a typeshed-shaped `stdlib/` in site-packages, beside every CPython package there; mypy does not
find such modules in site-packages, and pointing it at all of site-packages would let CPython's
packages satisfy imports. So the check links just the stub packages' files into a directory of
their own and points mypy there. By hand (extra arguments go to mypy):

    .venv/bin/python tests/test_typecheck.py
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB_DISTRIBUTIONS = ("micropython-stdlib-stubs", "micropython-unix-stubs")


def stub_tree(dest):
    """Link every stub file of the MicroPython stub distributions into `dest`, as they lie in
    site-packages: `dest` then serves as mypy's typeshed (dest/stdlib/VERSIONS) and mypy_path."""
    dest = Path(dest)
    for name in STUB_DISTRIBUTIONS:
        dist = distribution(name)
        for file in dist.files or ():
            if file.suffix != ".pyi" and file.name != "VERSIONS":
                continue
            target = dest / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(Path(dist.locate_file(file)).resolve())
    assert (dest / "stdlib" / "VERSIONS").is_file(), "micropython-stdlib-stubs has no stdlib/"
    return dest


def mypy(args, stubs, cache_dir):
    """Run the venv's mypy from the repository root under [tool.mypy]; (exit code, output)."""
    exe = Path(sys.executable).parent / "mypy"
    assert exe.exists(), "mypy not installed beside %s: pip install -e '.[test]'" % sys.executable
    env = dict(os.environ, LOSTCARD_MPY_STUBS=str(stubs))
    env.pop("MYPYPATH", None)  # the import path is the config's alone
    proc = subprocess.run([str(exe), "--cache-dir", str(cache_dir), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def test_core_and_port_use_only_micropython_apis(tmp_path):
    code, out = mypy([], stub_tree(tmp_path / "stubs"), tmp_path / "cache")
    assert code == 0, "mypy against the MicroPython stubs failed:\n" + out


def test_a_cpython_only_api_fails_the_check(tmp_path):
    """The same check, given a module that uses what CPython has and MicroPython does not:
    modules (subprocess; hmac, which kdf.py exists for) and a function of a module MicroPython
    does have (time.monotonic: MicroPython counts ticks_ms). Each is an error on its own line,
    and the MicroPython spelling passes."""
    stubs = stub_tree(tmp_path / "stubs")
    bad = tmp_path / "cpython_only.py"
    bad.write_text(textwrap.dedent("""\
        import hmac
        import subprocess
        import time


        def elapsed(t0):
            return time.monotonic() - t0
        """))
    code, out = mypy([str(bad)], stubs, tmp_path / "cache")
    assert code == 1, out
    for line, error in ((1, 'Cannot find implementation or library stub for module named "hmac"'),
                        (2, 'Cannot find implementation or library stub for module named '
                            '"subprocess"'),
                        (7, 'Module has no attribute "monotonic"')):
        assert "cpython_only.py:%d: error: %s" % (line, error) in out, out
    assert "Found 3 errors in 1 file" in out, out

    good = tmp_path / "micropython_ok.py"
    good.write_text(textwrap.dedent("""\
        import time


        def elapsed(t0):
            return time.ticks_diff(time.ticks_ms(), t0)
        """))
    code, out = mypy([str(good)], stubs, tmp_path / "cache")
    assert code == 0, out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        code, out = mypy(sys.argv[1:], stub_tree(Path(tmp) / "stubs"), Path(tmp) / "cache")
        print(out, end="")
        print("(%.1f s)" % (time.monotonic() - started), file=sys.stderr)
    sys.exit(code)
