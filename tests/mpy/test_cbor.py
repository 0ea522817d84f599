"""CBOR: RFC 8949 Appendix A examples, deterministic key order, and every refusal of the decoder.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.cbor import Tag, decode, encode
from lostcard.errors import CBORError

# (value, encoding in hex) from RFC 8949 Appendix A, for the types lostcard uses
EXAMPLES = (
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"), (100, "1864"),
    (1000, "1903e8"), (1000000, "1a000f4240"), (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"), (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"), ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"), ({1: 2, 3: 4}, "a201020304"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    (Tag(1, 1363896240), "c11a514b67b0"), (Tag(32, "http://www.example.com"),
                                         "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
)


def test_rfc8949_examples_encode_and_decode():
    for value, hexed in EXAMPLES:
        data = bytes.fromhex(hexed)
        assert encode(value) == data, hexed
        assert decode(data) == value, hexed


def test_map_keys_sort_by_their_encoded_bytes():
    # RFC 8949 §4.2.1 order: 10, 100, -1, "z", "aa" ("z" is one byte shorter than "aa")
    data = encode({"aa": 0, -1: 0, 100: 0, "z": 0, 10: 0})
    assert data == bytes.fromhex("a50a00186400200061" "7a00" "62616100")
    assert encode({2: 0, 1: 0}) == encode({1: 0, 2: 0})


def test_tuples_and_bytearrays_encode_like_lists_and_bytes():
    assert encode((1, bytearray(b"x"))) == encode([1, b"x"])


def _refused(hexed, words):
    try:
        decode(bytes.fromhex(hexed))
    except CBORError as exc:
        assert words in exc.args[0], (hexed, exc.args[0])
        return
    raise AssertionError("accepted " + hexed)


def test_decoder_refuses_what_lostcard_does_not_accept():
    _refused("", "truncated")
    _refused("18", "truncated head")
    _refused("5a0001000000", "truncated string")
    _refused("83010203" "04", "trailing bytes")
    _refused("9a00010000", "truncated array")
    _refused("bb0000000100000000", "truncated map")
    _refused("1817", "non-shortest")
    _refused("190017", "non-shortest")
    _refused("1a000000ff", "non-shortest")
    _refused("1b00000000ffffffff", "non-shortest")
    _refused("5f4100ff", "indefinite")
    _refused("1c", "reserved")
    _refused("a2010201" "03", "duplicate map key")
    _refused("a1" "8101" "02", "not an integer or string")
    _refused("62c328", "invalid UTF-8")
    _refused("f93c00", "floating-point")
    _refused("f7", "simple value")
    _refused("f820", "simple value")


def test_decoder_limits_depth_and_size():
    deep = bytes.fromhex("81" * 17 + "00")
    try:
        decode(deep)
        raise AssertionError("accepted 17 levels")
    except CBORError as exc:
        assert "nesting" in exc.args[0]
    assert decode(deep, max_depth=17) is not None
    try:
        decode(bytes(20), max_size=10)
        raise AssertionError("accepted oversized input")
    except CBORError as exc:
        assert "limit" in exc.args[0]
    try:
        encode([[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]])
        raise AssertionError("encoded 18 levels")
    except CBORError as exc:
        assert "nesting" in exc.args[0]


def test_encoder_refuses_what_cbor_cannot_carry():
    for value in (1 << 64, -(1 << 64) - 1, 1.5, object()):
        try:
            encode(value)
            raise AssertionError("encoded %r" % (value,))
        except CBORError:
            pass


def test_utf8_is_checked_the_same_on_every_interpreter():
    # overlong "/", a surrogate, past U+10FFFF, a lone continuation, a truncated sequence
    for hexed in ("62c0af", "63eda080", "64f4908080", "6180", "62e282", "61ff"):
        _refused(hexed, "invalid UTF-8")
    assert decode(bytes.fromhex("64f09f9880")) == "\U0001f600"
    assert decode(bytes.fromhex("63efbfbd")) == "\ufffd"


def test_canonical_decoding_refuses_keys_out_of_order():
    data = bytes.fromhex("a2020001" "00")
    assert decode(data) == {2: 0, 1: 0}  # COSE does not require deterministic maps
    try:
        decode(data, canonical=True)
        raise AssertionError("accepted keys out of order")
    except CBORError as exc:
        assert "order" in exc.args[0]
    assert decode(encode({"aa": 1, 1: 2, -1: 3}), canonical=True) == {"aa": 1, 1: 2, -1: 3}


def test_item_budget_bounds_what_junk_can_build():
    maps = bytes.fromhex("9864") + b"\xa0" * 100  # 100 empty maps in 102 bytes
    try:
        decode(maps, max_items=50)
        raise AssertionError("built 100 maps")
    except CBORError as exc:
        assert "items" in exc.args[0]
    assert len(decode(maps, max_items=101)) == 100
    # 2000 maps in 2003 bytes: refused by the default budget, or by the heap, never a crash
    try:
        decode(bytes.fromhex("9907d0") + b"\xa0" * 2000)
        raise AssertionError("built 2000 maps")
    except CBORError as exc:
        assert "items" in exc.args[0] or "memory" in exc.args[0]
