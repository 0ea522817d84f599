"""Where the fixtures are, for tests that run on CPython and on MicroPython alike."""

import os


def fixture_path(name):
    # tests/test_micropython.py sets LOSTCARD_FIXTURES; under pytest the repo layout is used
    root = os.getenv("LOSTCARD_FIXTURES") or __file__.rsplit("/", 3)[0] + "/fixtures"
    return root + "/" + name


def b64url(text):
    """Decode unpadded base64url (JWK "k"), without a base64 module."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bits = 0
    count = 0
    out = bytearray()
    for ch in text:
        bits = bits << 6 | alphabet.index(ch)
        count += 6
        if count >= 8:
            count -= 8
            out.append(bits >> count & 0xFF)
    return bytes(out)
