"""The collector's CBOR decoder: cbor2's C code in the common case, the core's rules always.

cbor2 parses and re-encodes canonically; when that gives back the same bytes, the input was
already in the one form the core accepts (lostcard's maps all have keys of one encoded length,
where cbor2's length-first order and RFC 8949's bytewise order agree), and cbor2's value is
used. Anything else goes to the core's strict decoder, which gives the exact verdict. Floats and
other values lostcard does not use fail the record and COSE checks that follow.
"""

import cbor2

from lostcard import cbor
from lostcard.errors import CBORError


def decode(data, canonical=False):
    if len(data) > cbor.MAX_SIZE:
        raise CBORError("input of %d bytes exceeds the %d-byte limit" % (len(data), cbor.MAX_SIZE))
    try:
        value = cbor2.loads(data)
        same = cbor2.dumps(value, canonical=True) == bytes(data)
    except (cbor2.CBORError, ValueError, TypeError, RecursionError, OverflowError):
        same = False
    if not same:
        return cbor.decode(data, canonical=canonical)
    if isinstance(value, cbor2.CBORTag):
        return cbor.Tag(value.tag, value.value)
    return value
