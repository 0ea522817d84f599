"""The acquirer's watchlist on flash: is a card's keyed token on it, and seen at how many terminals?

The installed object `watch.lcu` (docs/DEVICE.md "Updates") is a 32-byte header, then entries of
16 bytes, strictly ascending: the first 15 bytes of a card's token (record.py) and the number of
terminals that saw it compromised. A lookup searches it a few entries at a time (`reader`): a
64 KiB list costs the heap one open file and an 80-byte buffer, never the file.

The decide phase loads this module alone, so it reads the header itself rather than importing the
protocol (which brings CBOR): the constants below are protocol.py's, as tests/test_update.py checks.
"""

NAME = "watch.lcu"
HEADER_LEN = 32  # protocol.HEADER_LEN
ENTRY = 16  # 15 bytes of token, 1 byte of terminals
MAX_ENTRIES = 4094  # header and body within 64 KiB
WINDOW = 5  # entries read at a time after the first (a read costs time, no heap)


def u32(data, at):
    """The big-endian 32-bit number at `at`: no slice, so no heap."""
    return data[at] << 24 | data[at + 1] << 16 | data[at + 2] << 8 | data[at + 3]


def header(storage, name, magic):
    """The first 16 bytes of the object in file `name` (magic, kind, version at 8, body length
    at 12: u32() reads them) if they start with `magic` (protocol.OBJECT_MAGIC and the kind);
    None if there is no such file."""
    try:
        head = storage.read_at(name, 0, 16)
    except OSError as exc:
        if exc.args[0] != 2:  # ENOENT: none installed
            raise
        return None
    return head if len(head) == 16 and head.startswith(magic) else None


def _compare(window, at, token):
    """-1, 0 or 1 as the entry at `at` of `window` is below, is, or is above `token` (its first 15
    bytes): byte by byte, as a slice would cost the heap a new object."""
    for i in range(ENTRY - 1):
        if window[at + i] != token[i]:
            return -1 if window[at + i] < token[i] else 1
    return 0


def lookup(storage, token):
    """(watchlist version, terminals seen) if the card's keyed `token` is on the installed
    watchlist, else None (none installed, or not on it).

    Tokens are HMAC outputs, spread evenly: interpolation on their first two bytes finds the
    window that holds a token in ~3 reads where bisection takes 12. A read that does not halve
    the range is followed by a bisection, so a list of any shape takes at most about twice
    bisection's reads. The file is opened once and every read lands in one buffer: the heap
    pays for one open file, the header and that buffer, whatever the reads."""
    try:
        f = storage.reader(NAME)
    except OSError as exc:
        if exc.args[0] != 2:  # ENOENT: none installed
            raise
        return None
    with f:
        head = f.read(16)
        if len(head) < 16 or not head.startswith(b"LCU1\x02"):
            return None
        target = token[0] << 8 | token[1]
        # entries [low, high) may hold it; below, above: bounds of their first two bytes
        low, high = 0, min(u32(head, 12) // ENTRY, MAX_ENTRIES)
        below, above = 0, 1 << 16
        bisect = False
        count = 1  # the first guess is off by ~sqrt(entries): a window would rarely catch it
        window = bytearray(WINDOW * ENTRY)
        while low < high:
            count = min(count, high - low)
            if bisect:
                at = (low + high - count) // 2
            else:
                at = low + (target - below) * (high - low) // (above - below + 1) - count // 2
                at = min(max(at, low), high - count)
            f.seek(HEADER_LEN + at * ENTRY)
            if f.readinto(window) < count * ENTRY:  # shorter than its header says: not a list
                return None
            span = high - low
            last = (count - 1) * ENTRY
            if _compare(window, 0, token) > 0:  # all above it
                high, above = at, window[0] << 8 | window[1]
            elif _compare(window, last, token) < 0:  # all below it
                low, below = at + count, window[last] << 8 | window[last + 1]
            else:  # here, if anywhere
                for entry in range(0, count * ENTRY, ENTRY):
                    if not _compare(window, entry, token):
                        return u32(head, 8), window[entry + ENTRY - 1]
                return None
            bisect = not bisect and 2 * (high - low) > span
            count = WINDOW  # the next guesses, between near bounds, are off by a few entries
        return None
