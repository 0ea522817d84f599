"""The key schedule: kid and IV layout, the one-way ratchet, and the collector's derivation.

On MicroPython the platform crypto is lostcard_mpy.crypto, under pytest lostcard_cpython.crypto.
"""

from lostcard import keys
from lostcard.collector.fleet import FleetKeys, KeyNotDerivableNow
from lostcard.keys import DeviceKeys, KeyScheduleError

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto

SECRET = b"\x11" * 32


def _provisioned(device_id="T-0001"):
    chain = keys.first_chain(crypto, keys.device_root(crypto, SECRET, device_id))
    return DeviceKeys(crypto, device_id, 0, chain)


def _raises(fn, *args, later=False):
    """fn(*args) is refused; with `later`, as a key to derive another time (the collector waits
    for it), else for good (the collector quarantines the record)."""
    try:
        fn(*args)
    except KeyScheduleError as exc:
        assert isinstance(exc, KeyNotDerivableNow) == later, (args, exc)
        return
    raise AssertionError("accepted %r" % (args,))


def test_kid_names_device_and_epoch():
    assert keys.kid("T-0001", 258) == b"T-0001\x01\x02"
    assert keys.parse_kid(b"T-0001\x01\x02") == ("T-0001", 258)
    _raises(keys.kid, "T-0001", 1 << 16)
    _raises(keys.kid, "", 0)
    _raises(keys.kid, "has space", 0)
    _raises(keys.kid, "x" * 33, 0)
    _raises(keys.parse_kid, b"\x01")
    _raises(keys.parse_kid, b"\xff\xfe\x00\x01")


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
        assert fleet.record_key("T-0001", epoch) == device.key
        assert fleet.record_key(*keys.parse_kid(device.kid())) == device.key
        assert len(device.key) == 16 and bytes(device.key) not in seen
        seen.append(bytes(device.key))
        fleet.confirm("T-0001", epoch)
        device.advance()
    # going back restarts from the fleet secret; other devices have other keys
    assert fleet.record_key("T-0001", 1) == seen[1]
    assert fleet.record_key("T-0002", 1) != seen[1]
    assert FleetKeys(crypto, b"\x22" * 32).record_key("T-0001", 0) != seen[0]


def test_advance_overwrites_the_old_keys_in_place():
    device = _provisioned()
    held_chain, held_key = device._chain, device.key  # the very buffers the device keeps
    chain_before, key_before = bytes(held_chain), bytes(held_key)
    device.advance()
    assert bytes(held_chain) != chain_before and bytes(held_chain) == device.chain()
    assert bytes(held_key) != key_before and held_key is device.key
    assert device.chain() == keys.next_chain(crypto, chain_before)


def test_forged_kids_cost_bounded_work_and_change_nothing():
    fleet = FleetKeys(crypto, SECRET)
    limit = FleetKeys.MAX_AHEAD
    _raises(fleet.record_key, "T-0001", limit + 1, later=True)  # refused before any derivation
    _raises(fleet.record_key, "T-0001", 1 << 16)  # no kid names this epoch: never
    assert fleet.record_key("T-0001", 2) == FleetKeys(crypto, SECRET).record_key("T-0001", 2)
    fleet.confirm("T-0001", 2)  # a record of epoch 2 opened: the window moves with it
    fleet.record_key("T-0001", limit + 2)  # now within reach
    _raises(fleet.record_key, "T-0001", limit + 3, later=True)
    fleet.record_key("T-0002", 5)  # an unconfirmed derivation anchors nothing
    fleet.confirm("T-0001", 5)  # nor does confirming what was not just derived
    _raises(fleet.record_key, "T-0002", limit + 1, later=True)
    _raises(fleet.record_key, "T-0001", limit + 3, later=True)


def test_a_restarted_collector_resumes_from_stored_anchors_within_a_budget():
    device = _provisioned()
    for _ in range(3):
        device.advance()
    fleet = FleetKeys(crypto, SECRET, anchors={"T-0001": 3})
    assert fleet.record_key("T-0001", 3 + FleetKeys.MAX_AHEAD) is not None  # from the anchor
    fleet = FleetKeys(crypto, SECRET, anchors={"T-0001": 3})
    assert fleet.record_key("T-0001", 3) == device.key
    fleet.budget = 2
    _raises(fleet.record_key, "T-0001", 10, later=True)  # 10 steps from the root: over budget
    fleet.budget = None
    assert fleet.anchors() == {"T-0001": 3}
