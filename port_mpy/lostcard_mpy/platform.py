"""The MicroPython port's platform (the contract: lostcard/platform.py): LittleFS storage, HTTP
over `socket` (and `tls`, the certificate verified), AES-CCM over `cryptolib`, time.time and
os.urandom.
"""

import os
import time

from lostcard_mpy.storage import FlashStorage


class Platform:
    keep = ("lostcard", "lostcard.errors", "lostcard.terminal", "lostcard_mpy",
            "lostcard_mpy.terminal", "lostcard_mpy.platform", "lostcard_mpy.storage")

    def crypto(self):
        from lostcard_mpy import crypto

        return crypto

    def hmac(self):
        from lostcard import kdf  # HMAC over hashlib, without the AES code

        return kdf

    storage = FlashStorage
    clock = staticmethod(time.time)
    random_bytes = staticmethod(os.urandom)

    def transport(self, url, ca=None):
        from lostcard_mpy.transport import HttpTransport

        return HttpTransport(url, ca)
