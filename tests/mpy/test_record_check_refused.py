"""Sealed incidents at the collector: what a stolen terminal could seal is refused before anyone
reads it (every bit flip: test_record_check_bitflips.py).
"""

from lostcard import cbor, cose, keys
from lostcard.collector import record_check
from lostcard.errors import AuthenticationError, RecordError
from lostcard.collector.fleet import FleetKeys
import heap
from record_check_fixtures import SECRET, crypto, make_device, make_record, seal


def _refused_when_sealed(change):
    """Seal a record changed by `change` under the real key: it must be refused as a record."""
    device = make_device()
    r = make_record()
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
        heap.tidy()  # each round's garbage, or the 64K heap fragments
