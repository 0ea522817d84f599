"""HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869) over a bare SHA-256, and the constant-time
compare of tags and MACs.

MicroPython has `hashlib.sha256` but no `hmac` module, so the device port uses these; the CPython
port uses the standard library's hmac and `cryptography`'s HKDF, and the same RFC 4231 / RFC 5869
vectors check both.
"""

import hashlib

BLOCK = 64


def hmac_sha256(key, message):
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    # one 64-byte pad, XORed in place for the inner then the outer key: a generator per pad
    # cost MicroPython ~1.4 KiB of garbage per MAC, which fragments a small heap
    pad = bytearray(BLOCK)
    pad[:len(key)] = key
    for i in range(BLOCK):
        pad[i] ^= 0x36
    inner = hashlib.sha256(pad)
    inner.update(message)
    for i in range(BLOCK):
        pad[i] ^= 0x36 ^ 0x5C
    outer = hashlib.sha256(pad)
    outer.update(inner.digest())
    return outer.digest()


def hkdf_sha256(ikm, salt, info, length):
    """RFC 5869 extract-then-expand; an empty salt means 32 zero bytes."""
    if length > 255 * 32:
        raise ValueError("HKDF output too long")
    prk = hmac_sha256(salt if salt else bytes(32), ikm)
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac_sha256(prk, block + info + bytes((counter,)))
        out += block
        counter += 1
    return out[:length]


def constant_time_equal(a, b):
    """a == b, in a time that depends on the lengths only: no early exit at the first byte that
    differs, which would tell a forger how much of a guessed tag or MAC was right."""
    diff = len(a) ^ len(b)
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0
