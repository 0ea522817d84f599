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
# before the heap is exhausted keeps the phases' garbage from spreading over it. The smallest heap
# for `lostcard bench device` is 84 KiB with it, 92-108 KiB without (fragmentation makes the
# latter swing with the modules' sizes)
GC_THRESHOLD = 4096


class Terminal(core.Terminal):
    def __init__(self, config):
        # the interpreter's setting, so "gc_threshold": null leaves the firmware's own choice
        default = None if config.get("resident", False) else GC_THRESHOLD
        if config.get("gc_threshold", default) is not None:
            gc.threshold(int(core.config_number(config, "gc_threshold", default)))
        if str(config.get("collector_url"))[:5].lower() == "https" \
                and not config.get("collector_ca"):
            # no trust store on a terminal: without its CA, https would verify nothing
            raise core.ConfigError("an https collector_url needs collector_ca")
        core.Terminal.__init__(self, config, Platform())


sync_forever = core.sync_forever
