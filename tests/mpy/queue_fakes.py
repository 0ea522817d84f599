"""Fakes for queue tests on both interpreters: storage in memory, and (plain_sealer.py) a sealer
without crypto.
"""

from plain_sealer import PlainSealer, cursors_after, opened  # noqa: F401  (the tests' one import)


class MemoryStorage:
    """The storage contract, in a dict (`files`, kept across restarts if given): every call is
    durable and atomic when it returns."""

    def __init__(self, files=None):
        self.files = {} if files is None else files

    def list(self):
        return list(self.files)

    def read(self, name):
        if name not in self.files:  # as a real file store: the queue tells ENOENT apart
            raise OSError(2, name)
        return bytes(self.files[name])

    def append(self, name, data):
        self.files[name] = self.files.get(name, b"") + bytes(data)

    def replace(self, name, data):
        self.files[name] = bytes(data)

    def read_at(self, name, offset, n):
        return self.read(name)[offset:offset + n]

    def reader(self, name):
        import io  # here: the queue tests' 64 KiB heap has no room to spare at import

        return io.BytesIO(self.read(name))

    def rename(self, old, new):
        self.files[new] = self.read(old)
        del self.files[old]

    def remove(self, name):
        if name not in self.files:
            raise OSError(2, name)  # ENOENT, as both ports say it
        del self.files[name]

    def free(self):
        return 1 << 30  # RAM: never the limit (the budget is)
