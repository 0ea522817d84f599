"""COSE_Encrypt0: the working group's vectors byte for byte, shape checks, and every bit flip.

On MicroPython the platform crypto is lostcard_mpy.crypto, under pytest lostcard_cpython.crypto.
"""

import json

from lostcard import cose
from lostcard.errors import AuthenticationError
from fixture_files import b64url, fixture_path

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto

VECTORS = ("aes-ccm-enc-01.json", "rfc8152-appendix-c-4-1.json")


def _vector(name):
    with open(fixture_path("vectors/cose/" + name)) as f:
        v = json.load(f)
    key = b64url(v["input"]["encrypted"]["recipients"][0]["key"]["k"])
    iv = bytes.fromhex(v["input"]["rng_stream"][0])
    return key, iv, v["input"]["plaintext"].encode(), bytes.fromhex(v["output"]["cbor"])


def test_working_group_vectors_seal_byte_for_byte_and_open():
    for name in VECTORS:
        key, iv, plaintext, expected = _vector(name)
        aead = crypto.aead(key)
        assert cose.seal(aead, plaintext, iv) == expected, name
        assert cose.open(aead, expected) == plaintext, name


def test_kid_travels_unprotected():
    aead = crypto.aead(bytes(16))
    message = cose.seal(aead, b"p", bytes(13), kid=b"T-1\x00\x00\x00\x02")
    assert cose.parse(message)[1].get(4) == b"T-1\x00\x00\x00\x02"
    assert cose.open(aead, message) == b"p"
    assert cose.parse(cose.seal(aead, b"p", bytes(13)))[1].get(4) is None


def _refused(aead, message):
    try:
        cose.open(aead, message)
    except AuthenticationError as exc:
        assert exc.args[0].startswith("authentication failed"), exc.args[0]
        return exc.args[0]
    raise AssertionError("opened a damaged message")


def test_every_single_bit_flip_fails_to_open():
    key, iv, plaintext, sealed = _vector(VECTORS[0])
    aead = crypto.aead(key)
    for i in range(len(sealed)):
        for bit in range(8):
            flipped = bytearray(sealed)
            flipped[i] ^= 1 << bit
            _refused(aead, bytes(flipped))


def test_wrong_shapes_fail_with_a_reason():
    aead = crypto.aead(bytes(16))
    good = cose.seal(aead, b"p", bytes(13))
    assert "not CBOR" in _refused(aead, b"\xff")
    assert "tag 17" in _refused(aead, b"\xd1" + good[1:])
    assert "algorithm" in _refused(aead, good.replace(b"\xa1\x01\x0a", b"\xa1\x01\x0b"))
    assert "not CBOR" in _refused(aead, good[:-1])
    assert "IV" in _refused(aead, bytes.fromhex("d08343a1010aa0") + good[-10:])
    assert _refused(crypto.aead(b"\x01" * 16), good) == "authentication failed"
