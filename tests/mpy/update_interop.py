"""The device half of the update interop tests (tests/test_update.py), on the flash directory DIR.

    update_interop.py install DIR KIND VERSION OBJECT_FILE   fetch the object a chunk at a time
                                                             and install it: prints its version
                                                             or "refused: <reason>"
    update_interop.py lookup DIR TOKENS_FILE                 per hex token: "<version> <terminals>"
                                                             or "none", then the bytes the lookup
                                                             allocated (MicroPython; 0 on CPython)
    update_interop.py make KIND VERSION BODY_FILE            the object as this interpreter's
                                                             crypto makes it, in hex
"""

import gc
import sys

from lostcard import update, watchlist
from lostcard.protocol import CHUNK_LEN
from update_objects import DEVICE, KEY, made, until_installed

try:
    from lostcard_mpy import crypto
    from lostcard_mpy.storage import FlashStorage as Storage
except ImportError:  # CPython
    from lostcard_cpython import crypto
    from lostcard_cpython.storage import DirStorage as Storage


def _chunks(path):
    """(total, chunk_at) of the object in a host file, read a chunk at a time."""
    with open(path, "rb") as f:
        total = f.seek(0, 2)

    def chunk_at(offset):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(CHUNK_LEN)

    return total, chunk_at


def _allocated(storage, token):
    if not hasattr(gc, "mem_alloc"):
        return watchlist.lookup(storage, token), 0
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    found = watchlist.lookup(storage, token)
    used = gc.mem_alloc() - before
    gc.enable()
    return found, used


def main(command, args):
    if command == "install":
        try:
            until_installed(Storage(args[0]), crypto, int(args[1]), int(args[2]),
                            *_chunks(args[3]))
            print(update.installed(Storage(args[0]), int(args[1])))
        except update.UpdateRefused as exc:
            print("refused:", exc.args[0])
    elif command == "lookup":
        storage = Storage(args[0])
        with open(args[1]) as f:
            for line in f:
                found, used = _allocated(storage, bytes.fromhex(line.strip()))
                print("%s %d" % ("%d %d" % found if found else "none", used))
    else:
        with open(args[2], "rb") as f:
            body = f.read()
        print(made(crypto, int(args[0]), int(args[1]), body, KEY, DEVICE).hex())


main(sys.argv[1], sys.argv[2:])
