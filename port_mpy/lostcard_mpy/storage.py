"""The queue's file store on a terminal: a directory on LittleFS (os.VfsLfs2).

LittleFS commits a file's new content atomically when the file is flushed or closed (copy on
write), and its rename atomically replaces the target, so each call below is durable, and all or
nothing, when it returns. os.sync() does nothing on LittleFS and is not needed.
"""

import os


class FlashStorage:
    def __init__(self, path):
        self.path = path.rstrip("/")
        self._name = self._at = ""  # reader's last file and its path
        # each missing directory on the way, as the contract's "created if missing" says
        # (MicroPython has no os.makedirs)
        at = 0
        while at >= 0:
            at = self.path.find("/", at + 1)
            try:
                os.mkdir(self.path if at < 0 else self.path[:at])
            except OSError:
                pass  # already there; a real failure shows at the first read or write

    def list(self):
        # an iterator: a long backlog's names never sit in the heap all at once
        for entry in os.ilistdir(self.path):
            if not entry[0].endswith(".tmp"):
                yield entry[0]

    def read(self, name):
        with open(self.path + "/" + name, "rb") as f:
            return f.read()

    def append(self, name, data):
        with open(self.path + "/" + name, "ab") as f:
            f.write(data)  # committed when the file closes

    def replace(self, name, data):
        tmp = self.path + "/" + name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self.path + "/" + name)

    def reader(self, name):
        # a watchlist lookup opens one file at every decline: its path is made once (64 bytes)
        if name != self._name:
            self._name, self._at = name, self.path + "/" + name
        return open(self._at, "rb")

    def read_at(self, name, offset, n):
        with self.reader(name) as f:
            f.seek(offset)
            return f.read(n)

    def rename(self, old, new):
        os.rename(self.path + "/" + old, self.path + "/" + new)

    def remove(self, name):
        os.remove(self.path + "/" + name)

    def free(self):
        # LittleFS counts the blocks in use by walking the file system, sometimes some twice:
        # on a full flash the free count (blocks less used) wraps around to ~2**32. Two blocks
        # are kept back for its copy-on-write of a file's last block and of its metadata
        st = os.statvfs(self.path)
        return max(0, (st[4] if st[4] <= st[2] else 0) - 2) * st[0]
