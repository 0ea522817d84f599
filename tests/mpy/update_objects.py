"""Update objects as a collector makes them (protocol.py), for the tests on both interpreters."""

import hashlib

from lostcard.protocol import OBJECT_MAGIC, object_mac

KEY = b"\x41" * 32  # the device's ack key
DEVICE = "T-UPD-1"


def made(crypto, kind, version, body, key=KEY, device=DEVICE):
    """The object: header (its MAC for `device` under `key`) || body."""
    mac = object_mac(crypto, key, device, kind, version, hashlib.sha256(body).digest())
    return (OBJECT_MAGIC + bytes((kind, 0, 0, 0)) + version.to_bytes(4, "big")
            + len(body).to_bytes(4, "big") + mac + body)


def token(n):
    """A card's 16-byte keyed token, the n-th of a made-up fleet."""
    return hashlib.sha256(b"card %d" % n).digest()[:16]


def watchlist_body(count, first=0):
    """`count` entries, strictly ascending: tokens first.. with 1..255 terminals each."""
    entries = sorted(token(n)[:15] + bytes((1 + n % 255,)) for n in range(first, first + count))
    return b"".join(entries)
