"""The platform crypto of whichever interpreter runs this: RFC 4231, RFC 5869, COSE vectors.

On MicroPython that is lostcard_mpy.crypto (cryptolib + the core's CCM, HMAC and HKDF); under
pytest it is lostcard_cpython.crypto (cryptography + hmac). The core's own kdf module is checked
on both.
"""

from lostcard import kdf
from lostcard.errors import AuthenticationError

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto

H = bytes.fromhex

# RFC 4231 test cases 1, 2, 3, 4, 6, 7: (key, data, HMAC-SHA256)
HMAC_VECTORS = (
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than "
                    b"block-size data. The key needs to be hashed before being used by the HMAC "
                    b"algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)

# RFC 5869 test cases 1, 2, 3: (IKM, salt, info, L, OKM)
HKDF_VECTORS = (
    (b"\x0b" * 22, bytes(range(13)), bytes(range(0xF0, 0xFA)), 42,
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    (bytes(range(0x50)), bytes(range(0x60, 0xB0)), bytes(range(0xB0, 0x100)), 82,
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e"
     "590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
    (b"\x0b" * 22, b"", b"", 42,
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
)


def test_hmac_sha256_rfc4231():
    for key, data, mac in HMAC_VECTORS:
        assert kdf.hmac_sha256(key, data) == H(mac)
        assert crypto.hmac_sha256(key, data) == H(mac)


def test_hkdf_sha256_rfc5869():
    for ikm, salt, info, length, okm in HKDF_VECTORS:
        assert kdf.hkdf_sha256(ikm, salt, info, length) == H(okm)
        assert crypto.hkdf_sha256(ikm, salt, info, length) == H(okm)


def test_aes_ccm_round_trip_and_tamper():
    aead = crypto.aead(H("849b57219dae48de646d07dbb533566e"))
    nonce = H("89f52f65a1c580933b5261a72f")
    for n in (0, 1, 15, 16, 17, 100):
        message = bytes(range(n))
        sealed = aead.seal(nonce, message, b"aad")
        assert len(sealed) == n + 8
        assert aead.open(nonce, sealed, b"aad") == message
        for bad in ((nonce, sealed, b"aaD"), (nonce[:-1] + b"\x00", sealed, b"aad"),
                    (nonce, sealed[:-1] + bytes((sealed[-1] ^ 1,)), b"aad"), (nonce, sealed[:7], b"aad")):
            try:
                aead.open(bad[0], bad[1], bad[2])
                raise AssertionError("opened a tampered message")
            except AuthenticationError as exc:
                assert "authentication failed" in exc.args[0]


def test_aes_ccm_empty_aad():
    aead = crypto.aead(bytes(16))
    nonce = bytes(13)
    assert aead.open(nonce, aead.seal(nonce, b"x", b""), b"") == b"x"
