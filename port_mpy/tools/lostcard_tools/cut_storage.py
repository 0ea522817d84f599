"""Storage that loses power during a write call, for the tests and the demo's day, on MicroPython
and CPython alike: the power cut one level above fake_flash's block device.
"""

from lostcard_tools.fake_flash import PowerCut


def half(size):
    return size // 2


class CutStorage:
    """A storage (the queue's contract: list, read, read_at, append, replace, rename, remove)
    that loses power during its `cut_at`-th write call (appends only, if `appends_only`): an
    append leaves the first `kept(len(data))` bytes of its data in the file (the part the flash
    happened to write), a replace, a rename or a remove does not happen (all three are atomic).
    A cut during a read changes nothing: it is the cut before the next write. `cut_at` None
    never cuts."""

    def __init__(self, inner, cut_at, kept=half, appends_only=False):
        self.inner = inner
        self.cut_at = cut_at
        self.kept = kept
        self.appends_only = appends_only
        self.calls = 0  # write calls counted so far

    def __getattr__(self, name):  # reads, and anything else the wrapped storage offers
        return getattr(self.inner, name)

    def _cut_now(self, counted):
        if counted:
            self.calls += 1
            return self.calls == self.cut_at
        return False

    def append(self, name, data):
        if self._cut_now(True):
            keep = self.kept(len(data))
            if keep:
                self.inner.append(name, data[:keep])
            raise PowerCut(name)
        self.inner.append(name, data)

    def replace(self, name, data):
        if self._cut_now(not self.appends_only):
            raise PowerCut(name)
        self.inner.replace(name, data)

    def remove(self, name):
        if self._cut_now(not self.appends_only):
            raise PowerCut(name)
        self.inner.remove(name)

    def rename(self, old, new):
        if self._cut_now(not self.appends_only):
            raise PowerCut(new)
        self.inner.rename(old, new)
