"""The core's Terminal for the emulator, the same shape as the device's.

Everything stays loaded ("resident" is always true): CPython has the memory, and the queue is
recovered from disk once, not per phase.
"""

from lostcard import terminal as core

from .platform import Platform


class Terminal(core.Terminal):
    def __init__(self, config, platform=None):
        # always resident: unloading modules under CPython would leave two copies of each class
        config = dict(config, resident=True)
        core.Terminal.__init__(self, config, platform or Platform())


sync_forever = core.sync_forever
