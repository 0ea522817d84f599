"""The queue's file store on CPython: a directory, each write fsynced before it returns.

append: write, flush, fsync the file (and the directory when the file is new).
replace: write a temporary file, fsync it, rename over the target, fsync the directory: readers
see the old or the new content, never a mix. rename: os.replace (atomic), then fsync the directory.
"""

import os


class DirStorage:
    def __init__(self, path):
        self.path = path
        if not os.path.isdir(path):
            os.makedirs(path, 0o700)  # the queue state holds the chain and ack keys
            parent = os.path.dirname(os.path.abspath(path))
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        # a file created just before a crash may not have had its directory entry synced yet
        self._sync_dir()

    def _p(self, name):
        return os.path.join(self.path, name)

    def _sync_dir(self):
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def list(self):
        return [n for n in os.listdir(self.path) if not n.endswith(".tmp")]

    def read(self, name):
        with open(self._p(name), "rb") as f:
            return f.read()

    def append(self, name, data):
        new = not os.path.exists(self._p(name))
        with open(self._p(name), "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if new:
            self._sync_dir()

    def replace(self, name, data):
        tmp = self._p(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._p(name))
        self._sync_dir()

    def reader(self, name):
        return open(self._p(name), "rb")

    def read_at(self, name, offset, n):
        with self.reader(name) as f:
            f.seek(offset)
            return f.read(n)

    def rename(self, old, new):
        os.replace(self._p(old), self._p(new))
        self._sync_dir()

    def remove(self, name):
        os.remove(self._p(name))
        self._sync_dir()

    def free(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize
