"""A stand-in sealer for the queue benchmarks on both interpreters (a module of its own, so that
CPython's benchmark imports nothing of the MicroPython port)."""


class FixedSealer:
    """Stands in for sealing.Sealer with payloads of a sealed incident's size: the flash cost of
    a record does not depend on what its bytes say."""

    def __init__(self, epoch, chain, size=204):
        self.epoch = epoch
        self._chain = chain
        self.size = size

    def seal(self, record, seq):
        return bytes(self.size)

    def advance(self):
        self.epoch += 1

    def chain(self):
        return self._chain
