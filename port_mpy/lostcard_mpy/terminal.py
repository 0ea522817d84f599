"""lostcard_mpy.Terminal: the core's Terminal on a MicroPython terminal (docs/DEVICE.md).

    from lostcard_mpy import Terminal
    t = Terminal({"device_id": "T-0001", "queue_dir": "/flash/lostcard", "token_key": KEY_HEX,
                  "collector_url": "http://collector:8080", "provisioning": "/flash/prov.cbor"})

Runs in phases by default (config "resident": False): the heap holds the largest phase, not
the sum. Set "resident": True when the bundle is frozen into firmware (bytecode in flash).
"""

import os
import time

from lostcard import terminal as core
from lostcard_mpy.storage import FlashStorage


class Platform:
    keep = ("lostcard", "lostcard.errors", "lostcard.terminal", "lostcard_mpy",
            "lostcard_mpy.terminal", "lostcard_mpy.storage")

    def crypto(self):
        from lostcard_mpy import crypto

        return crypto

    def hmac(self):
        from lostcard import kdf  # HMAC over hashlib, without the AES code

        return kdf

    storage = FlashStorage
    clock = staticmethod(time.time)
    random_bytes = staticmethod(os.urandom)

    def transport(self, url):
        from lostcard_mpy.transport import HttpTransport

        return HttpTransport(url)


class Terminal(core.Terminal):
    def __init__(self, config):
        core.Terminal.__init__(self, config, Platform())


sync_forever = core.sync_forever
