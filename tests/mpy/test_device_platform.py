"""The device port has every hook of the platform contract (lostcard/platform.py), checked on
MicroPython with its real modules (cryptolib, requests, the flash store). CPython checks the
arguments each hook takes, for both ports and the fakes, in tests/test_platform.py; here it
has nothing to add.
"""

import sys

from lostcard import platform as contract


def _lacking(implementation, shape):
    """The names of `shape`'s hooks `implementation` lacks or cannot call."""
    lacking = []
    for name in dir(shape):
        if not name.startswith("_"):
            wanted = getattr(shape, name)
            found = getattr(implementation, name, None)
            if found is None or callable(wanted) and not callable(found):
                lacking.append(name)
    return lacking


def test_the_device_port_has_every_hook():
    if sys.implementation.name != "micropython":
        return
    from lostcard_mpy.platform import Platform

    platform = Platform()
    crypto = platform.crypto()
    for implementation, shape in ((platform, contract.Platform), (crypto, contract.Crypto),
                                  (crypto.aead(bytes(16)), contract.Aead),
                                  (platform.storage("platform-check"), contract.Storage),
                                  (platform.transport("http://127.0.0.1:9"), contract.Transport)):
        assert _lacking(implementation, shape) == [], shape
    assert callable(platform.hmac().hmac_sha256)
