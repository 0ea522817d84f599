"""The CPython port's crypto for the core: `cryptography`'s AESCCM and HKDF, the standard hmac.

Pass this module where the core asks for `crypto`; lostcard_mpy.crypto is its device twin.
"""

import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lostcard.errors import AuthenticationError

TAG_LEN = 8


class Aead:
    """AES-CCM-16-64-128 under one key (Aead in lostcard/platform.py)."""

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-CCM-16-64-128 needs a 16-byte key")
        self._ccm = AESCCM(bytes(key), tag_length=TAG_LEN)

    def seal(self, nonce, plaintext, aad):
        return self._ccm.encrypt(bytes(nonce), bytes(plaintext), bytes(aad))

    def open(self, nonce, sealed, aad):
        try:
            return self._ccm.decrypt(bytes(nonce), bytes(sealed), bytes(aad))
        except (InvalidTag, ValueError):
            raise AuthenticationError("authentication failed") from None


def aead(key):
    return Aead(key)


def hmac_sha256(key, message):
    return hmac.digest(bytes(key), bytes(message), "sha256")  # one-shot, in C


def hkdf_sha256(ikm, salt, info, length):
    return HKDF(hashes.SHA256(), length, bytes(salt) or None, bytes(info)).derive(bytes(ikm))
