"""The key schedule: kid and IV layout, the one-way ratchet, and the collector's derivation.

On MicroPython the platform crypto is lostcard_mpy.crypto, under pytest lostcard_cpython.crypto.
"""

from lostcard import keys
from lostcard.collector.fleet import FleetKeys, device_root, first_chain, parse_kid
from lostcard.keys import DeviceKeys, KeyScheduleError

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto

SECRET = b"\x11" * 32


def _provisioned(device_id="T-0001", incarnation=0):
    chain = first_chain(crypto, device_root(crypto, SECRET, device_id), incarnation)
    return DeviceKeys(crypto, device_id, 0, chain)


def _raises(fn, *args):
    try:
        fn(*args)
    except KeyScheduleError:
        return
    raise AssertionError("accepted %r" % (args,))


class CountingCrypto:
    """The platform crypto, counting HKDF calls: the collector's key work."""

    def __init__(self):
        self.calls = 0

    def hkdf_sha256(self, ikm, salt, info, length):
        self.calls += 1
        return crypto.hkdf_sha256(ikm, salt, info, length)


def test_kid_names_device_and_epoch():
    assert keys.kid("T-0001", 258) == b"T-0001\x01\x02"
    assert parse_kid(b"T-0001\x01\x02") == ("T-0001", 258)
    _raises(keys.kid, "T-0001", 1 << 16)
    _raises(keys.kid, "", 0)
    _raises(keys.kid, "has space", 0)
    _raises(keys.kid, "x" * 33, 0)
    _raises(parse_kid, b"\x01")
    _raises(parse_kid, b"\xff\xfe\x00\x01")


def test_iv_is_device_prefix_and_sequence():
    iv = keys.iv(crypto, "T-0001", 7)
    assert len(iv) == 13 and iv[5:] == (7).to_bytes(8, "big")
    assert keys.iv(crypto, "T-0001", 8)[:5] == iv[:5]
    assert keys.iv(crypto, "T-0002", 7) != iv
    _raises(keys.iv, crypto, "T-0001", -1)
    _raises(keys.iv, crypto, "T-0001", 1 << 64)


def test_collector_derives_every_epoch_the_device_walks_through():
    device = _provisioned()
    fleet = FleetKeys(crypto, SECRET)
    seen = []
    for epoch in range(5):
        assert device.epoch == epoch and device.kid() == keys.kid("T-0001", epoch)
        assert fleet.record_key("T-0001", 0, epoch) == device.key
        name, at = parse_kid(device.kid())
        assert fleet.record_key(name, 0, at) == device.key
        assert len(device.key) == 16 and bytes(device.key) not in seen
        seen.append(bytes(device.key))
        device.advance()
    # going back is no harder; other devices, incarnations and fleets have other keys
    assert fleet.record_key("T-0001", 0, 1) == seen[1]
    assert fleet.record_key("T-0002", 0, 1) != seen[1]
    assert fleet.record_key("T-0001", 1, 1) != seen[1]
    assert FleetKeys(crypto, b"\x22" * 32).record_key("T-0001", 0, 0) != seen[0]


def test_each_incarnation_has_its_own_chain():
    old, new = _provisioned(), _provisioned(incarnation=7)
    assert old.key != new.key and old.chain() != new.chain()
    fleet = FleetKeys(crypto, SECRET)
    assert fleet.record_key("T-0001", 7, 0) == new.key
    assert fleet.record_key("T-0001", 0, 0) == old.key
    _raises(fleet.record_key, "T-0001", -1, 0)
    _raises(fleet.record_key, "T-0001", 1 << 31, 0)


def test_advance_overwrites_the_old_keys_in_place():
    device = _provisioned()
    held_chain, held_key = device._chain, device.key  # the very buffers the device keeps
    chain_before, key_before = bytes(held_chain), bytes(held_key)
    device.advance()
    assert bytes(held_chain) != chain_before and bytes(held_chain) == device.chain()
    assert bytes(held_key) != key_before and held_key is device.key
    assert device.chain() == keys.next_chain(crypto, chain_before)


def test_any_epoch_costs_bounded_work_early_or_late():
    device = _provisioned()
    for _ in range(600):
        device.advance()
    counting = CountingCrypto()
    fleet = FleetKeys(counting, SECRET)
    assert fleet.record_key("T-0001", 0, 600) == device.key  # a terminal back after 600 epochs
    first = counting.calls
    assert first <= 600 + 3  # root, chain(0), the steps, the record key
    counting.calls = 0
    fleet.record_key("T-0001", 0, 300)  # a late record of an old epoch: from a checkpoint
    assert 0 < counting.calls <= FleetKeys.CHECKPOINT
    counting.calls = 0
    fleet.record_key("T-0001", 0, 599)
    assert counting.calls <= FleetKeys.CHECKPOINT
    _raises(fleet.record_key, "T-0001", 0, 1 << 16)  # no kid names this epoch
    counting.calls = 0
    fleet.record_key("T-0001", 5, 3)  # another incarnation: its own chain(0), then kept
    fleet.record_key("T-0001", 0, 1)
    fleet.record_key("T-0001", 5, 3)
    assert counting.calls == (2 + 3 + 1) + 2 + (3 + 1)
