"""Text tables: '|'-separated rows looked up by their first field.

The numbers of the policy live in RAM as single strings (one heap block each on MicroPython, where
the same data as dicts of lists cost several times more). Its words, texts.txt, stay on flash on a
terminal and are read a line at a time, so that ~9 KiB of explanations and terminal texts cost no
heap; CPython reads the file into memory once; firmware freezes it (a generated module whose
table has the FileTable's row()). `row` works on every kind of table.
"""

import sys


CHUNK = 768  # bytes of the file in memory during a lookup; longer than any row


class FileTable:
    """A table in a file, searched chunk by chunk in one reused buffer: a lookup allocates little
    more than the row it returns, however long the file."""

    def __init__(self, path, chunk=CHUNK):
        self.path = path
        self._buf = bytearray(chunk)

    def row(self, key):
        needle = ("\n" + key + "|").encode()
        keep = len(needle) - 1  # a match may straddle two chunks
        buf = self._buf
        view = memoryview(buf)
        tail = view[keep:]
        with open(self.path, "rb") as f:
            buf[0] = 10  # a newline before the first row, so that it matches like the rest
            have = 1 + f.readinto(view[1:])
            while True:
                at = buf.find(needle, 0, have)
                if at >= 0:
                    return self._rest_of_row(f, view, at + len(needle), have)
                if have < len(buf):  # the file ended
                    return None
                buf[:keep] = view[have - keep:have]  # a view, not a copy of the bytes
                have = keep + f.readinto(tail)

    def _rest_of_row(self, f, view, start, have):
        buf = self._buf
        end = buf.find(b"\n", start, have)
        if end < 0 and have == len(buf):  # the row runs past the chunk: slide it to the front
            buf[:have - start] = buf[start:have]
            have = have - start
            start = 0
            have += f.readinto(view[have:])
            end = buf.find(b"\n", 0, have)
        return str(view[start:end if end >= 0 else have], "utf-8").split("|")


def load(path):
    """The table in `path`: on flash for MicroPython, in memory for CPython."""
    if sys.implementation.name == "micropython":
        return FileTable(path)
    with open(path, encoding="utf-8") as f:
        return "\n" + f.read()


def here(module_file, name):
    """Path of data file `name` beside the module whose __file__ is `module_file`."""
    cut = module_file.rfind("/")
    return name if cut < 0 else module_file[:cut + 1] + name


def row(table, key):
    """The fields after `key` on its row, or None if no row starts with `key`."""
    if not isinstance(table, str):
        return table.row(key)
    n = len(key)
    # a match counts only as a whole first field; searching for the bare key allocates nothing
    start = table.find(key)
    while start >= 0:
        if start > 0 and table[start - 1] == "\n" and table[start + n] == "|":
            return table[start + n + 1:table.find("\n", start)].split("|")
        start = table.find(key, start + 1)
    return None
