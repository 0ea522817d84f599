import sys
from pathlib import Path

# The core tests in tests/mpy/ are plain modules shared with MicroPython; make them importable.
sys.path.insert(0, str(Path(__file__).parent / "mpy"))
