"""The collector's half of updates (docs/SYNC.md "Updates"): the objects it serves, each made
for one device (its header carries that device's object MAC), the watchlist's body, and the
slice of an object a fetch reply carries. Terminals check objects (lostcard.protocol); they
never make one, so this stays out of the device bundle.
"""

import hashlib

from ..protocol import CHUNK_LEN, HEADER_LEN, OBJECT_MAGIC, POLICY, WATCHLIST, object_mac

MAX_POLICY = 4096  # bytes of a policy body
ENTRY_LEN = 16  # a watchlist entry: 15 bytes of the card's token, terminals seen (1 byte)
TOKEN_PREFIX = ENTRY_LEN - 1
MAX_TERMINALS = 255
MAX_ENTRIES = 4094  # header + body <= 65,536 bytes
KINDS = (POLICY, WATCHLIST)


def header(crypto, key, device_id, kind, version, body):
    """The object's 32-byte header for `device_id`, whose ack key is `key`."""
    mac = object_mac(crypto, key, device_id, kind, version, hashlib.sha256(body).digest())
    return OBJECT_MAGIC + bytes([kind, 0, 0, 0]) + version.to_bytes(4, "big") \
        + len(body).to_bytes(4, "big") + mac


def chunk(head, body, offset):
    """object[offset:offset + CHUNK_LEN] of the object head || body, without joining them."""
    end = offset + CHUNK_LEN
    if offset >= HEADER_LEN:
        return body[offset - HEADER_LEN:end - HEADER_LEN]
    return head[offset:] + body[:end - HEADER_LEN]


def watchlist_body(entries):
    """The watchlist body of `entries`, (card token, terminals seen) pairs already chosen (at
    most MAX_ENTRIES): each token's first TOKEN_PREFIX bytes and its terminals (1..255, capped),
    sorted strictly ascending. ValueError if two share a prefix or there are too many."""
    if len(entries) > MAX_ENTRIES:
        raise ValueError("a watchlist holds at most %d entries" % MAX_ENTRIES)
    rows = sorted(bytes(token[:TOKEN_PREFIX]) + bytes([max(1, min(n, MAX_TERMINALS))])
                  for token, n in entries)
    for before, after in zip(rows, rows[1:]):
        if before[:TOKEN_PREFIX] == after[:TOKEN_PREFIX]:
            raise ValueError("two watchlist tokens share their first %d bytes" % TOKEN_PREFIX)
    if any(len(r) != ENTRY_LEN for r in rows):
        raise ValueError("a watchlist token has fewer than %d bytes" % TOKEN_PREFIX)
    return b"".join(rows)
