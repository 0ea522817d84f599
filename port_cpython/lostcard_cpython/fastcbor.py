"""The collector's CBOR decoder: cbor2's C code in the common case, the core's rules always.

cbor2 parses; when the value holds only lostcard's data model, every map's keys are
non-negative integers in increasing order (lostcard's maps; RFC 8949's deterministic order), and
cbor2's re-encoding gives back the same bytes (shortest heads, definite lengths, no duplicate
key), the input was already in the one form the core accepts, and cbor2's value is used.
Anything else goes to the core's strict decoder, which gives the exact verdict.

cbor2's C decoder turns tags, floats and simple values into dates, decimals, sets and the like,
and cannot be told not to; so the value's containers are checked for foreign types, a whole
container's types at a time in C (set(map(type, ...))), not by a Python call per item. The
check may refuse more than the core does (the core then decides); it never accepts more.
"""

import cbor2

from lostcard import cbor
from lostcard.errors import CBORError

ATOMS = frozenset((type(None), bool, int, bytes, str))
CONTAINERS = frozenset((list, dict))
ITEMS = ATOMS | CONTAINERS
INT_RANGE = (-(1 << 64), 1 << 64)  # what a CBOR head holds: larger ones come of tags 2 and 3
BIGNUM_TAGS = (b"\xc2", b"\xc3")
SEALED = b"\xd0\x83\x43\xa1\x01\x0a\xa2\x04"  # 16([h'a1010a', {4: ...: a sealed incident


def _ints_in_range(values):
    ints = [v for v in values if type(v) is int]
    return not ints or INT_RANGE[0] <= min(ints) and max(ints) < INT_RANGE[1]


def _plain(value, bignums):
    """Only lostcard's data model (the types the core decoder returns, one top-level tag),
    within the core's depth and item limits, each map's keys non-negative integers in
    increasing order (RFC 8949's order; a map of other keys goes to the core). `bignums`: the
    input may hold a tag 2 or 3, whose value cbor2 made an integer that may be out of range."""
    if type(value) is cbor2.CBORTag:
        value, depth, count = value.value, 1, 2
    else:
        depth, count = 0, 1
    if type(value) not in ITEMS:
        return False
    if type(value) is int:
        return _ints_in_range((value,))
    stack = [(value, depth)] if type(value) in CONTAINERS else []
    while stack:
        container, depth = stack.pop()
        if depth >= cbor.MAX_DEPTH - 1:
            return False
        if type(container) is dict:
            keys = list(container)
            if set(map(type, keys)) - {int} or keys != sorted(keys) or keys and keys[0] < 0 \
                    or bignums and not _ints_in_range(keys):
                return False
            values = container.values()
            count += 2 * len(keys)
        else:
            values = container
            count += len(container)
        types = set(map(type, values))
        if not types <= ITEMS or bignums and int in types and not _ints_in_range(values):
            return False
        if not types.isdisjoint(CONTAINERS):
            stack.extend((v, depth + 1) for v in values if type(v) in CONTAINERS)
    return count <= cbor.MAX_ITEMS


def _bstr(data, pos):
    """(end, bytes) of the byte string whose shortest head is at `pos`; None if not one."""
    head = data[pos] if pos < len(data) else 0
    if 0x40 <= head < 0x58:
        start, n = pos + 1, head - 0x40
    elif head == 0x58 and pos + 1 < len(data) and data[pos + 1] >= 24:
        start, n = pos + 2, data[pos + 1]
    elif head == 0x59 and int.from_bytes(data[pos + 1:pos + 3], "big") >= 0x100:
        start, n = pos + 3, int.from_bytes(data[pos + 1:pos + 3], "big")
    else:
        return None
    return (start + n, data[start:start + n]) if start + n <= len(data) else None


def _sealed(data):
    """The value of the one layout cose.seal writes, 16([h'a1010a', {4: kid, 5: IV},
    ciphertext]), read by slicing; None if `data` is laid out otherwise (the general path
    decides). Every sealed incident is one: parsing it is half its opening otherwise."""
    if not data.startswith(SEALED):
        return None
    kid = _bstr(data, len(SEALED))
    iv = kid and data[kid[0]:kid[0] + 1] == b"\x05" and _bstr(data, kid[0] + 1)
    ciphertext = iv and _bstr(data, iv[0])
    if not ciphertext or ciphertext[0] != len(data):
        return None
    return cbor.Tag(16, [data[3:6], {4: kid[1], 5: iv[1]}, ciphertext[1]])


def decode(data, canonical=False):
    if len(data) > cbor.MAX_SIZE:
        raise CBORError("input of %d bytes exceeds the %d-byte limit" % (len(data), cbor.MAX_SIZE))
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return cbor.decode(data, canonical=canonical)  # its refusal
    data = bytes(data)
    sealed = _sealed(data)
    if sealed is not None:
        return sealed
    try:
        value = cbor2.loads(data)
        # cbor2 writes a map's keys as they come: the same bytes, and keys already in order,
        # make the input the one deterministic encoding of the value
        same = _plain(value, any(tag in data for tag in BIGNUM_TAGS)) and \
            cbor2.dumps(value) == data
    except Exception:  # cbor2 refuses or builds what cannot be re-encoded: the core judges
        same = False
    if not same:
        return cbor.decode(data, canonical=canonical)
    if type(value) is cbor2.CBORTag:
        return cbor.Tag(value.tag, value.value)
    return value
