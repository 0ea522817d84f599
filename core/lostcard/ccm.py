"""AES-CCM (RFC 3610) with a 13-byte nonce and an 8-byte tag: COSE's AES-CCM-16-64-128.

Built on two AES-128 primitives a port supplies, so that it runs where only ECB and CBC exist
(MicroPython's `cryptolib`: CTR mode is not compiled into stock firmware):
  ecb(data) -> AES encryption of each 16-byte block of `data`
  cbc_mac(data) -> the last block of AES-CBC encryption of `data` under a zero IV
`data` is always a bytearray of this module's own, which a port may encrypt in place.
The CPython port uses `cryptography`'s AESCCM instead; the same vectors check both.
"""

from .errors import AuthenticationError
from .kdf import constant_time_equal

NONCE_LEN = 13
TAG_LEN = 8
L = 15 - NONCE_LEN  # bytes of the message-length field


def _pad(data):
    return bytes((16 - len(data) % 16) % 16)


def _mac_input(nonce, aad, message):
    flags = (0x40 if aad else 0) | ((TAG_LEN - 2) // 2) << 3 | (L - 1)
    b = bytearray(bytes((flags,)) + nonce + len(message).to_bytes(L, "big"))
    if aad:
        if len(aad) < 0xFF00:
            b.extend(len(aad).to_bytes(2, "big"))
        else:  # RFC 3610 §2.2: 0xFFFE and a 4-byte length
            b.extend(b"\xff\xfe" + len(aad).to_bytes(4, "big"))
        b.extend(aad)
        b.extend(_pad(b))
    b.extend(message)
    b.extend(_pad(message))
    return b


def _keystream(ecb, nonce, length):
    """S_0 .. S_n: AES of the counter blocks A_0 .. A_n, all in one ECB call."""
    blocks = (length + 15) // 16 + 1
    counters = bytearray(16 * blocks)  # filled in place: no small objects per block
    for i in range(blocks):
        at = 16 * i
        counters[at] = L - 1
        counters[at + 1:at + 1 + NONCE_LEN] = nonce
        counters[at + 14] = i >> 8  # the L = 2 byte counter, big-endian
        counters[at + 15] = i & 0xFF
    return ecb(counters)


def _xor(data, stream):
    out = bytearray(data)
    for i in range(len(out)):
        out[i] ^= stream[i]
    return bytes(out)


def _check(nonce, length):
    if len(nonce) != NONCE_LEN:
        raise ValueError("CCM nonce must be %d bytes" % NONCE_LEN)
    if length >= 1 << (8 * L):
        raise ValueError("message too long for CCM")


def seal(ecb, cbc_mac, nonce, plaintext, aad):
    """Ciphertext followed by the 8-byte tag."""
    _check(nonce, len(plaintext))
    stream = _keystream(ecb, nonce, len(plaintext))
    tag = _xor(cbc_mac(_mac_input(nonce, aad, plaintext))[:TAG_LEN], stream[:TAG_LEN])
    return _xor(plaintext, stream[16:]) + tag


def open(ecb, cbc_mac, nonce, sealed, aad):
    """The plaintext, or AuthenticationError if the tag does not verify."""
    # Aead.open's one failure, whatever is wrong: nothing to tell a forger apart
    if len(sealed) < TAG_LEN or len(nonce) != NONCE_LEN or len(sealed) - TAG_LEN >= 1 << 8 * L:
        raise AuthenticationError("authentication failed: length or nonce out of range")
    body = sealed[:-TAG_LEN]
    stream = _keystream(ecb, nonce, len(body))
    plaintext = _xor(body, stream[16:])
    expected = _xor(cbc_mac(_mac_input(nonce, aad, plaintext))[:TAG_LEN], stream[:TAG_LEN])
    if not constant_time_equal(expected, sealed[-TAG_LEN:]):
        raise AuthenticationError("authentication failed")
    return plaintext
