"""The acquirer's watchlist on flash: is a card's keyed token on it, and seen at how many terminals?

The installed object `watch.lcu` (docs/DEVICE.md "Updates") is a 32-byte header, then entries of
16 bytes, strictly ascending: the first 15 bytes of a card's token (record.py) and the number of
terminals that saw it compromised. A lookup is a binary search that reads one entry at a time
(`read_at`): a 64 KiB list costs the heap a few dozen bytes, never the file.

The decide phase loads this module alone, so it reads the header itself rather than importing the
protocol (which brings CBOR): the constants below are protocol.py's, as tests/test_update.py checks.
"""

NAME = "watch.lcu"
HEADER_LEN = 32  # protocol.HEADER_LEN
ENTRY = 16  # 15 bytes of token, 1 byte of terminals
MAX_ENTRIES = 4094  # header and body within 64 KiB


def header(storage, name, magic):
    """(version, body length) of the object in file `name` whose header starts with `magic`
    (protocol.OBJECT_MAGIC and the kind); (0, 0) if there is no such file."""
    try:
        head = storage.read_at(name, 0, HEADER_LEN)
    except OSError as exc:
        if exc.args[0] != 2:  # ENOENT: none installed
            raise
        return 0, 0
    if len(head) < HEADER_LEN or head[:5] != magic:
        return 0, 0
    return int.from_bytes(head[8:12], "big"), int.from_bytes(head[12:16], "big")


def lookup(storage, token):
    """(watchlist version, terminals seen) if the card's keyed `token` is on the installed
    watchlist, else None (none installed, or not on it)."""
    version, length = header(storage, NAME, b"LCU1\x02")
    key = token[:ENTRY - 1]
    low, high = 0, min(length // ENTRY, MAX_ENTRIES)
    while low < high:
        middle = (low + high) // 2
        entry = storage.read_at(NAME, HEADER_LEN + middle * ENTRY, ENTRY)
        if len(entry) < ENTRY:  # shorter than its header says: not a list to search
            return None
        found = entry[:ENTRY - 1]
        if found == key:
            return version, entry[ENTRY - 1]
        if found < key:
            low = middle + 1
        else:
            high = middle
    return None
