"""The core's CBOR codec against cbor2, the independent implementation, with hypothesis.

Round trips both ways over lostcard's data model, and byte equality with cbor2's canonical mode
wherever the two orders agree: cbor2 sorts map keys length-first (RFC 7049), RFC 8949 §4.2.1
bytewise; they agree on maps whose encoded keys all have the same length.
"""

import cbor2
from hypothesis import given, strategies as st

from lostcard import cbor


keys = st.integers(-(2 ** 64), 2 ** 64 - 1) | st.text(max_size=20) | st.binary(max_size=20)
scalars = st.none() | st.booleans() | st.integers(-(2 ** 64), 2 ** 64 - 1) | \
    st.binary(max_size=300) | st.text(max_size=300)


def _tagged(inner):
    # COSE's tags, and numbers above every tag cbor2 decodes into Python objects (dates, ...)
    numbers = st.sampled_from([16, 17, 18, 61, 96, 97, 98]) | st.integers(65536, 2 ** 64 - 1)
    return st.builds(cbor.Tag, numbers, inner)


values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(keys, inner, max_size=5) | _tagged(inner), max_leaves=20)


def _to_cbor2(value):
    if isinstance(value, cbor.Tag):
        return cbor2.CBORTag(value.number, _to_cbor2(value.value))
    if isinstance(value, list):
        return [_to_cbor2(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_cbor2(v) for k, v in value.items()}
    return value


def _from_cbor2(value):
    if isinstance(value, cbor2.CBORTag):
        return cbor.Tag(value.tag, _from_cbor2(value.value))
    if isinstance(value, list):
        return [_from_cbor2(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_cbor2(v) for k, v in value.items()}
    return value


def _semantic_tags(value):
    if isinstance(value, cbor.Tag):
        return value.number < 65536 and value.number not in (16, 17, 18, 61, 96, 97, 98) \
            or _semantic_tags(value.value)
    if isinstance(value, list):
        return any(_semantic_tags(v) for v in value)
    if isinstance(value, dict):
        return any(_semantic_tags(v) for v in value.values())
    return False


def _same_key_lengths(value):
    if isinstance(value, cbor.Tag):
        return _same_key_lengths(value.value)
    if isinstance(value, list):
        return all(_same_key_lengths(v) for v in value)
    if isinstance(value, dict):
        lengths = {len(cbor.encode(k)) for k in value}
        return len(lengths) <= 1 and all(_same_key_lengths(v) for v in value.values())
    return True


@given(values)
def test_ours_decode_with_cbor2(value):
    assert _from_cbor2(cbor2.loads(cbor.encode(value))) == value


@given(values)
def test_cbor2_encodings_decode_with_ours(value):
    assert cbor.decode(cbor2.dumps(_to_cbor2(value))) == value


@given(values)
def test_encoding_equals_cbor2_canonical_where_the_key_orders_agree(value):
    if _same_key_lengths(value):
        assert cbor.encode(value) == cbor2.dumps(_to_cbor2(value), canonical=True)


@given(st.binary(max_size=200) | values.map(cbor.encode))
def test_junk_decodes_or_fails_cleanly_never_otherwise(data):
    try:
        value = cbor.decode(data)
    except cbor.CBORError:
        return
    if not _semantic_tags(value):  # cbor2 turns those into dates, bignums and the like
        assert _from_cbor2(cbor2.loads(data)) == value  # what we accept, cbor2 reads alike
    try:
        canonical = cbor.decode(data, canonical=True)
    except cbor.CBORError:
        return
    assert cbor.encode(canonical) == data  # and what canonical mode accepts is deterministic
