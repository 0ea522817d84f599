"""lostcard's MicroPython port: what a terminal needs beyond the portable core.

`from lostcard_mpy import Terminal` loads the terminal API on first use; importing any other
module of the port loads nothing else.
"""

import sys


def __getattr__(name):
    # MicroPython asks here, not the import system, for a submodule no longer bound to the
    # package (the Terminal unloads its phases' modules): import it by its full name
    module = "lostcard_mpy." + ("terminal" if name in ("Terminal", "sync_forever") else name)
    try:
        __import__(module)
    except ImportError:
        raise AttributeError(name)
    found = sys.modules[module]
    return found if module.endswith("." + name) else getattr(found, name)
