"""The core's Terminal for the emulator, the same shape as the device's.

Everything stays loaded ("resident" is always true): CPython has the memory, and the queue is
recovered from disk once, not per phase.
"""

import os
import time

from lostcard import terminal as core

from . import crypto


class Platform:
    keep = ()

    def crypto(self):
        return crypto

    def hmac(self):
        return crypto

    def storage(self, path):
        from .storage import DirStorage

        return DirStorage(path)

    def transport(self, url):
        from .transport import HttpTransport

        return HttpTransport(url, timeout=5)

    def clock(self):
        return time.time()

    def random_bytes(self, n):
        return os.urandom(n)


class Terminal(core.Terminal):
    def __init__(self, config, platform=None):
        # always resident: unloading modules under CPython would leave two copies of each class
        config = dict(config, resident=True)
        core.Terminal.__init__(self, config, platform or Platform())


sync_forever = core.sync_forever
