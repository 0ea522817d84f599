"""The collector's decoder (lostcard_cpython.fastcbor) against the core's: the same value or the
same refusal, whatever cbor2 makes of the input (dates, decimals, sets, floats, big numbers)."""

import cbor2
import pytest
from hypothesis import given, strategies as st

from lostcard import cbor
from lostcard_cpython import fastcbor

from test_cbor_vs_cbor2 import values


def _verdict(decoder, data, canonical):
    try:
        return "value", _comparable(decoder(data, canonical=canonical))
    except cbor.CBORError as exc:
        return "error", str(exc)


def _comparable(value):
    # types as well as values: True == 1 and 1 == 1.0, but only the core's types may come out
    if isinstance(value, cbor.Tag):
        return ("tag", value.number, _comparable(value.value))
    if isinstance(value, list):
        return ("list", [_comparable(v) for v in value])
    if isinstance(value, dict):
        return ("map", sorted(((type(k).__name__, repr(k)), _comparable(v))
                              for k, v in value.items()))
    return (type(value).__name__, value)


def _same(data):
    for canonical in (True, False):
        assert _verdict(fastcbor.decode, data, canonical) == \
            _verdict(cbor.decode, data, canonical)


@given(st.binary(max_size=200) | values.map(cbor.encode))
def test_same_verdict_as_the_core(data):
    _same(data)


FOREIGN = [
    cbor2.dumps(1.5), cbor2.dumps([1, 2.0]), cbor2.dumps({1: 1e300}),
    cbor2.dumps(2 ** 64), cbor2.dumps([-(2 ** 64) - 1]), cbor2.dumps({2 ** 70: 1}),
    bytes.fromhex("c11a514b67b0"), bytes.fromhex("81c074323031332d30332d32315432303a30343a30305a"),
    cbor2.dumps([cbor2.CBORTag(4, [-2, 27315])]), cbor2.dumps({1, 2}, canonical=True),
    cbor2.dumps([frozenset([1])], canonical=True), bytes.fromhex("a1820102 03".replace(" ", "")),
    bytes.fromhex("f7"), bytes.fromhex("81f7"), bytes.fromhex("e5"), bytes.fromhex("81f820"),
    cbor2.dumps([cbor2.CBORTag(96, b"x")]), cbor2.dumps(cbor2.CBORTag(16, cbor2.CBORTag(17, 1))),
    bytes.fromhex("d8258c50" + "00" * 16)[:4] + b"\x00" * 16,  # a UUID's tag 37
    bytes.fromhex("d81c81d81d00"),  # a shared value referring to itself
    cbor2.dumps([0] * (cbor.MAX_ITEMS + 1)), cbor2.dumps({n: 0 for n in range(520)}),
    cbor2.dumps(cbor2.CBORTag(16, [0] * (cbor.MAX_ITEMS - 1))),
    cbor2.dumps(cbor2.CBORTag(16, [0] * (cbor.MAX_ITEMS - 2))),
]


@pytest.mark.parametrize("data", FOREIGN, ids=[d[:6].hex() for d in FOREIGN])
def test_what_cbor2_turns_into_other_types_gets_the_cores_verdict(data):
    _same(data)


def _nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", range(cbor.MAX_DEPTH - 3, cbor.MAX_DEPTH + 2))
def test_depth_limit_as_the_core(depth):
    _same(cbor2.dumps(_nested(depth)))
    _same(cbor2.dumps(cbor2.CBORTag(16, _nested(depth - 1))))


def test_a_record_takes_the_fast_path_and_comes_out_in_the_cores_types(monkeypatch):
    record = {1: 1, 2: "T-1", 3: [None, True, b"\x01" * 5, -3, 2 ** 64 - 1], 4: {1: "1234"}}
    data = cbor.encode(record)
    monkeypatch.setattr(cbor, "decode", lambda *a, **k: pytest.fail("fell back to the core"))
    assert fastcbor.decode(data, canonical=True) == record
    tagged = fastcbor.decode(cbor.encode(cbor.Tag(16, [b"", {}, b"x"])))
    assert isinstance(tagged, cbor.Tag) and (tagged.number, tagged.value) == (16, [b"", {}, b"x"])


def _sealed_incidents():
    from lostcard import cose, keys
    from lostcard_cpython import crypto

    aead = crypto.aead(bytes(16))
    for size in (0, 1, 23, 24, 255, 256, 300):
        for kid in (None, b"T-1\x00\x01", b"K" * 30):
            yield cose.seal(aead, b"r" * size, keys.iv(crypto, "T-1", size), kid=kid)


def test_sealed_incidents_read_by_their_layout_as_the_core_reads_them(monkeypatch):
    for message in _sealed_incidents():
        _same(message)
        for cut in (1, 2, 9, len(message) // 2, len(message) - 1):
            _same(message[:cut])
        _same(message + b"\x00")
    message = list(_sealed_incidents())[-1]
    monkeypatch.setattr(cbor, "decode", lambda *a, **k: pytest.fail("fell back to the core"))
    monkeypatch.setattr(fastcbor.cbor2, "loads", lambda *a, **k: pytest.fail("went to cbor2"))
    assert fastcbor.decode(message).value[1][4] == b"K" * 30


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=3),
       st.sampled_from(list(_sealed_incidents())))
def test_a_sealed_incident_altered_gets_the_cores_verdict(changes, message):
    altered = bytearray(message)
    for at, byte in changes:
        if at < len(altered):
            altered[at] = byte
    _same(bytes(altered))


@pytest.mark.parametrize("data", [
    bytes.fromhex("d083 43a1010a a204 4100 05 5800 40".replace(" ", "")),  # a non-shortest head
    bytes.fromhex("d083 43a1010a a204 4100 05 590001 00 40".replace(" ", "")),
    bytes.fromhex("d083 43a1010a a204 4100 04 4100 40".replace(" ", "")),  # key 4 twice
    bytes.fromhex("d083 43a1010a a204 4100 05 4100 4200".replace(" ", "")),  # short
])
def test_a_sealed_layout_with_a_flaw_gets_the_cores_verdict(data):
    _same(data)
