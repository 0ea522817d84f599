"""The CPython port's platform (the contract: lostcard/platform.py): fsynced files, httpx,
pyca/cryptography, the system clock and os.urandom.
"""

import os
import time

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

    def transport(self, url, ca=None):
        from .transport import HttpTransport

        return HttpTransport(url, ca, timeout=5)

    def clock(self):
        return time.time()

    def random_bytes(self, n):
        return os.urandom(n)
