"""Fake flash for the tests and the tools: a RAM block device for LittleFS that counts what it
is asked to write and can lose power at any block write. Power cuts one level up, at the storage's
calls: cut_storage.py. Apart because the LittleFS power-cut test runs in a 64 KiB heap that has no
room for the other.

A power cut raises PowerCut where the write was cut short; what reached the flash stays.
"""


class PowerCut(BaseException):
    """The power went. Not an Exception: no `except Exception` of the code under test may carry
    on after it as if a running terminal had seen an error."""


class RamBlockDevice:
    """A block device for os.VfsLfs2 in RAM (`data`, kept across mounts), counting block writes,
    bytes written and erases. At the `cut_at`-th block write (counted in `writes`) the power goes:
    `mode` "stop" writes nothing of that block, "half" its first half, "garble" all of it garbled;
    PowerCut is raised, and the device is dead from then on: what the abandoned mount still tries
    to write (file finalisers) fails, as on a terminal whose power went.

    Once dead, its methods allocate nothing: the abandoned mount's files are finalised by the
    garbage collector with the heap locked (raising PowerCut then becomes a MemoryError, a failed
    write too). Alive, it copies by slices: a byte loop would make the queue's benchmark measure
    this fake (ten times slower) rather than the code.
    """

    def __init__(self, block_size, blocks, data=None):
        self.block_size = block_size
        self.blocks = blocks
        self.data = bytearray(block_size * blocks) if data is None else data
        self.cut_at = None
        self.mode = "stop"
        self.dead = False
        self.writes = 0
        self.bytes_written = 0
        self.erases = 0

    def readblocks(self, block, buf, offset=0):
        start = block * self.block_size + offset
        data = self.data
        if not self.dead:
            buf[:] = memoryview(data)[start:start + len(buf)]  # a view: copies fragment a small heap
            return
        for i in range(len(buf)):
            buf[i] = data[start + i]

    def writeblocks(self, block, buf, offset=None):
        if self.dead:
            raise PowerCut()
        start = block * self.block_size + (offset or 0)
        data = self.data
        self.writes += 1
        if self.cut_at is not None and self.writes >= self.cut_at:
            self.dead = True
            mode = self.mode
            n = len(buf) // 2 if mode == "half" else len(buf) if mode == "garble" else 0
            for i in range(n):
                data[start + i] = buf[i] if mode == "half" else (buf[i] * 31 + 7) & 0xFF
            raise PowerCut()
        data[start:start + len(buf)] = buf
        self.bytes_written += len(buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            self.erases += 1
        return 0
