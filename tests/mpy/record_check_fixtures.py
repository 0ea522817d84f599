"""Sealed records for the collector-side tests (test_record_check*.py): split across modules so
each runs in a 64 KiB MicroPython heap.

On MicroPython the platform crypto is lostcard_mpy.crypto, under pytest lostcard_cpython.crypto.
"""

from lostcard import cbor, cose, keys
from lostcard.collector.fleet import device_root, first_chain

SECRET = b"\x11" * 32
# a record as record.build writes it (tests/mpy/test_record.py checks build itself)
RECORD = {0: 1, 1: "T-0001", 2: 5, 3: 1795600000, 4: "2026.11.1", 5: 1, 6: 31, 7: 90, 8: 0,
          9: False, 10: [[43, 1, 90], ["acq_rule", 2, 5]], 11: 1,
          12: ["41", 0, True, 2, True, 0, b"\x40\x00\x00\x00\x00", 2, 0],
          13: {1: "1111", 2: 1, 3: bytes(range(16))}, 15: "t-0001"}

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto


def seal(device, r):
    """What sealing.seal does (tests/mpy/test_record.py checks the two agree), without its
    module: this module's checks and keys fill the 64 KiB heap already."""
    iv = keys.iv(crypto, device.device_id, r[2])
    return cose.seal(crypto.aead(device.key), cbor.encode(r), iv, kid=device.kid())


def make_device(device_id="T-0001"):
    chain = first_chain(crypto, device_root(crypto, SECRET, device_id))
    return keys.DeviceKeys(crypto, device_id, 0, chain)


def make_record(seq=5, device_id="T-0001"):
    r = dict(RECORD)
    r[2] = seq
    r[1] = device_id
    return r
