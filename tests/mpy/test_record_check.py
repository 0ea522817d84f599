"""Sealed incidents at the collector: opened, checked against the schema, bound to kid and IV.

On MicroPython the platform crypto is lostcard_mpy.crypto, under pytest lostcard_cpython.crypto.
"""

import gc

from lostcard import cbor, cose, keys, record_check
from lostcard.errors import AuthenticationError, RecordError
from lostcard.keys import FleetKeys

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


def _seal(device, r):
    """What sealing.seal does (tests/mpy/test_record.py checks the two agree), without its
    module: this module's checks and keys fill the 64 KiB heap already."""
    iv = keys.iv(crypto, device.device_id, r[2])
    return cose.seal(crypto.aead(device.key), cbor.encode(r), iv, kid=device.kid())


def _device(device_id="T-0001"):
    chain = keys.first_chain(crypto, keys.device_root(crypto, SECRET, device_id))
    return keys.DeviceKeys(crypto, device_id, 0, chain)


def _record(seq=5, device_id="T-0001"):
    r = dict(RECORD)
    r[2] = seq
    r[1] = device_id
    return r


def test_sealed_record_opens_at_the_collector():
    device = _device()
    r = _record(seq=42)
    sealed = _seal(device, r)
    assert cose.kid_of(sealed) == device.kid()
    assert record_check.open_sealed(crypto, FleetKeys(crypto, SECRET), sealed) == r
    device.advance()
    r2 = _record(seq=43)
    assert record_check.open_sealed(crypto, FleetKeys(crypto, SECRET), _seal(device, r2)) == r2


def test_records_not_bound_to_their_kid_and_iv_are_refused():
    fleet = FleetKeys(crypto, SECRET)
    device = _device()
    # a record claiming another device, sealed under this device's key
    wrong_device = _seal(device, _record(device_id="T-0002"))
    # a record whose sequence number is not the one in its IV
    r = _record(seq=1)
    iv = keys.iv(crypto, "T-0001", 2)
    wrong_seq = cose.seal(crypto.aead(device.key), cbor.encode(r), iv, kid=device.kid())
    for sealed, words in ((wrong_device, "device"), (wrong_seq, "sequence")):
        try:
            record_check.open_sealed(crypto, fleet, sealed)
            raise AssertionError("opened " + words)
        except RecordError as exc:
            assert words in exc.args[0]
        gc.collect()
    try:
        record_check.open_sealed(crypto, FleetKeys(crypto, b"\x22" * 32), _seal(device, r))
        raise AssertionError("opened under another fleet secret")
    except AuthenticationError:
        pass


def _refused_when_sealed(change):
    """Seal a record changed by `change` under the real key: it must be refused as a record."""
    device = _device()
    r = _record()
    change(r)
    iv = keys.iv(crypto, "T-0001", 5)
    sealed = cose.seal(crypto.aead(device.key), cbor.encode(r), iv, kid=device.kid())
    try:
        record_check.open_sealed(crypto, FleetKeys(crypto, SECRET), sealed)
    except RecordError:
        return
    raise AssertionError("accepted a malformed record")


def test_authenticated_but_malformed_records_are_refused():
    # what a stolen terminal could seal: every field is checked before anyone reads it
    changes = (
        lambda r: r.update({6: 9999}), lambda r: r.update({6: -1}),
        lambda r: r.update({10: [[43, 99, 90]]}), lambda r: r.update({10: [[1]]}),
        lambda r: r.update({10: [[43, 1, 0]]}), lambda r: r.update({7: -5}),
        lambda r: r.update({11: 99}), lambda r: r.update({5: 6}), lambda r: r.update({8: 6}),
        lambda r: r.update({12: ["41", 7]}), lambda r: r.update({12: [None] * 6 + [5]}),
        lambda r: r.update({12: [None] * 30}), lambda r: r.update({13: {9: 1}}),
        lambda r: r.update({13: {1: "1111", 2: 1, 3: "token"}}),
        lambda r: r.update({13: {1: "11a1", 2: 1, 3: bytes(16)}}),
        lambda r: r.update({14: []}), lambda r: r.update({14: ["x"] * 9}),
        lambda r: r.update({0: 2}), lambda r: r.update({16: 0}), lambda r: r.pop(9),
        lambda r: r.update({9: 1}), lambda r: r.update({3: -1}), lambda r: r.update({15: ""}),
        lambda r: r.update({4: "x" * 65}),
    )
    for change in changes:
        _refused_when_sealed(change)
        gc.collect()  # each round's garbage, or the 64K heap fragments


def test_every_single_bit_flip_of_a_sealed_incident_fails():
    device = _device()
    sealed = _seal(device, _record(seq=9))
    fleet = FleetKeys(crypto, SECRET)
    assert record_check.open_sealed(crypto, fleet, sealed)[2] == 9
    for i in range(len(sealed)):
        for bit in range(8):
            gc.collect()  # each failed open's garbage: the 64K heap must not fragment
            flipped = bytearray(sealed)
            flipped[i] ^= 1 << bit
            try:
                record_check.open_sealed(crypto, fleet, bytes(flipped))
            except (AuthenticationError, RecordError, keys.KeyScheduleError):
                continue
            raise AssertionError("opened with byte %d bit %d flipped" % (i, bit))


def test_a_kid_of_another_device_is_refused_before_any_key_is_derived():
    sealed = _seal(_device(), _record())
    fleet = FleetKeys(crypto, SECRET)
    fleet.budget = 0  # any derivation would now raise KeyScheduleError
    try:
        record_check.open_sealed(crypto, fleet, sealed, device="T-0002")
        raise AssertionError("opened for another device")
    except RecordError as exc:
        assert "another device" in exc.args[0]
