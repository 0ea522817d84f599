"""Update objects as a collector makes them (protocol.py), for the tests on both interpreters.

`made` builds one in memory; `spread_object` serves a watchlist of up to 4,094 entries chunk by
chunk without ever holding it (MicroPython's 64 KiB heap cannot hold a 64 KiB list).
"""

import hashlib

from lostcard import update
from lostcard.protocol import CHUNK_LEN, HEADER_LEN, OBJECT_MAGIC, WATCHLIST, object_mac

KEY = b"\x41" * 32  # the device's ack key
DEVICE = "T-UPD-1"


def header(crypto, kind, version, length, body_digest, key=KEY, device=DEVICE):
    return (OBJECT_MAGIC + bytes((kind, 0, 0, 0)) + version.to_bytes(4, "big")
            + length.to_bytes(4, "big")
            + object_mac(crypto, key, device, kind, version, body_digest))


def made(crypto, kind, version, body, key=KEY, device=DEVICE):
    """The object: header (its MAC for `device` under `key`) || body."""
    return header(crypto, kind, version, len(body), hashlib.sha256(body).digest(), key,
                  device) + body


def token(n):
    """A card's 16-byte keyed token, the n-th of a made-up fleet."""
    return hashlib.sha256(b"card %d" % n).digest()[:16]


def watchlist_body(count, first=0):
    """`count` entries, strictly ascending: tokens first.. with 1..255 terminals each."""
    entries = sorted(token(n)[:15] + bytes((1 + n % 255,)) for n in range(first, first + count))
    return b"".join(entries)


STEP = (1 << 120) // 4095  # spread tokens: in order by construction, over the whole range


def spread(n):
    """The n-th entry of a spread watchlist: ascending in n, n % 255 + 1 terminals."""
    return (STEP * (n + 1)).to_bytes(15, "big") + bytes((n % 255 + 1,))


def _body_range(start, end):
    """Bytes [start, end) of a spread watchlist's body."""
    first = start // 16
    piece = b"".join(spread(n) for n in range(first, (end + 15) // 16))
    return piece[start - first * 16:end - first * 16]


def spread_object(crypto, count, version=1):
    """(total, chunk_at) of a spread watchlist of `count` entries: its length and a function
    giving the chunk a fetch reply carries at an offset."""
    digest = hashlib.sha256()
    for n in range(count):
        digest.update(spread(n))
    head = header(crypto, WATCHLIST, version, count * 16, digest.digest())
    total = HEADER_LEN + count * 16

    def chunk_at(offset):
        end = min(offset + CHUNK_LEN, total)
        return head[offset:end] + _body_range(max(offset, HEADER_LEN) - HEADER_LEN,
                                              end - HEADER_LEN)

    return total, chunk_at


def in_memory(obj):
    """(total, chunk_at) of an object held whole."""
    return len(obj), lambda offset: obj[offset:offset + CHUNK_LEN]


def until_installed(storage, crypto, kind, version, total, chunk_at):
    """What a terminal does, sync step after sync step: fetch from where the partial is, then
    install once whole, until `version` is installed (a refusal raises UpdateRefused)."""
    while update.installed(storage, kind) != version:
        held_version, held = update.partial(storage, kind)
        offset = held if held_version == version else 0
        if update.add_chunk(storage, kind, version, total, offset, chunk_at(offset)):
            update.install(storage, kind, crypto, KEY, DEVICE)
