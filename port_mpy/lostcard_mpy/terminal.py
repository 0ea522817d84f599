"""lostcard_mpy.Terminal: the core's Terminal on a MicroPython terminal (docs/DEVICE.md).

    from lostcard_mpy import Terminal
    t = Terminal({"device_id": "T-0001", "queue_dir": "/flash/lostcard", "token_key": KEY_HEX,
                  "collector_url": "http://collector:8080", "provisioning": "/flash/prov.cbor"})

Runs in phases by default (config "resident": False): the heap holds the largest phase, not
the sum. Set "resident": True when the bundle is frozen into firmware (bytecode in flash).
"""

import gc

from lostcard import terminal as core
from lostcard_mpy.platform import Platform

# bytes allocated between two garbage collections in phases mode (gc.threshold): collecting
# before the heap is exhausted keeps the phases' garbage from spreading over it; the smallest heap
# for `lostcard bench device` fell from 98 to 86 KiB with it
GC_THRESHOLD = 4096


class Terminal(core.Terminal):
    def __init__(self, config):
        if not config.get("resident", False):
            gc.threshold(GC_THRESHOLD)
        core.Terminal.__init__(self, config, Platform())


sync_forever = core.sync_forever
