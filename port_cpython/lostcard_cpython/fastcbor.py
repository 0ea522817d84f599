"""The collector's CBOR decoder: cbor2's C code in the common case, the core's rules always.

cbor2 parses; when the value holds only lostcard's data model and cbor2's canonical re-encoding
gives back the same bytes, the input was already in the one form the core accepts (lostcard's
maps all have keys of one encoded length, where cbor2's length-first order and RFC 8949's
bytewise order agree; a map whose keys differ in length goes to the core), and cbor2's value is
used. Anything else goes to the core's strict decoder, which gives the exact verdict.
"""

import cbor2

from lostcard import cbor
from lostcard.errors import CBORError


def _plain(value, depth):
    """Only lostcard's data model: the types the core decoder returns (one top-level tag)."""
    if depth > cbor.MAX_DEPTH:
        return False
    if value is None or value is True or value is False or isinstance(value, (bytes, str)):
        return True
    if isinstance(value, int):
        return -(1 << 64) <= value < 1 << 64
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (int, str, bytes)) and not isinstance(k, bool) and
                   _plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, cbor2.CBORTag) and depth == 0:
        return _plain(value.value, depth + 1)
    return False


def decode(data, canonical=False):
    if len(data) > cbor.MAX_SIZE:
        raise CBORError("input of %d bytes exceeds the %d-byte limit" % (len(data), cbor.MAX_SIZE))
    try:
        value = cbor2.loads(data)
        same = _plain(value, 0) and cbor2.dumps(value, canonical=True) == bytes(data)
    except Exception:  # cbor2 builds dates, decimals...: let the core decoder judge such input
        same = False
    if not same:
        return cbor.decode(data, canonical=canonical)
    if isinstance(value, cbor2.CBORTag):
        return cbor.Tag(value.tag, value.value)
    return value
