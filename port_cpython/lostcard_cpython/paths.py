"""Where the checkout's parts are, and where the MicroPython tools are installed."""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
PORT_MPY = ROOT / "port_mpy"
FIXTURES = ROOT / "fixtures"
SCENARIOS = FIXTURES / "scenarios.jsonl"
SAFETY_SCENARIOS = FIXTURES / "safety-scenarios.jsonl"
RING = FIXTURES / "ring.jsonl"  # the demo's ring: one card cloned at two terminals, then seen at a third


def tool(name):
    """Path of a console tool installed beside this Python (venv) or on PATH; None if absent."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def micropython_env(*dirs):
    """Environment for a MicroPython child: frozen modules first, then the given source dirs."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen"] + [str(d) for d in dirs])
    return env
