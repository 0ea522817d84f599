"""CBOR (RFC 8949) for incident records and COSE: deterministic encoding, strict decoding.

Encoding follows the core deterministic rules of §4.2.1: shortest heads, definite lengths only,
map keys sorted by the bytes of their encodings. Decoding accepts exactly the data model lostcard
uses (integers, byte and text strings, arrays, maps, tags, false/true/null) and refuses everything
else with a CBORError that says what and where: truncated or trailing bytes, reserved or indefinite
lengths, non-shortest heads, invalid UTF-8 (checked here: MicroPython's str() does not), duplicate
or unhashable map keys, nesting deeper than `max_depth`, input longer than `max_size`, more than
`max_items` data items, floats and other simple values; with `canonical=True` also map keys out of
deterministic order. Every declared length is checked against the bytes that remain before
anything is allocated, and the item budget bounds the objects built, so memory is bounded by the
input; a heap that still runs out gives a CBORError too. micropython-lib's cbor2 cannot decode
tags, hence this module.
"""

from .errors import CBORError

MAX_DEPTH = 16
MAX_SIZE = 16384   # incidents and COSE messages are a few hundred bytes
MAX_ITEMS = 1024


class Tag:
    """A tagged data item, e.g. Tag(16, [...]) for COSE_Encrypt0."""

    def __init__(self, number, value):
        self.number = number
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Tag) and other.number == self.number and other.value == self.value

    def __repr__(self):
        return "Tag(%d, %r)" % (self.number, self.value)


def _head(out, major, n):
    if n < 24:
        out.append(major << 5 | n)
        return
    for info in range(4):  # 1, 2, 4 or 8 bytes follow (additional information 24 to 27)
        size = 1 << info
        if n >> 8 * size == 0:
            out.append(major << 5 | 24 + info)
            out.extend(n.to_bytes(size, "big"))
            return
    raise CBORError("integer out of CBOR range")


def _encode(out, value, depth):
    if depth > MAX_DEPTH:
        raise CBORError("nesting deeper than %d" % MAX_DEPTH)
    if value is False:
        out.append(0xF4)
    elif value is True:
        out.append(0xF5)
    elif value is None:
        out.append(0xF6)
    elif isinstance(value, int):
        if value >= 0:
            _head(out, 0, value)
        else:
            _head(out, 1, -1 - value)
    elif isinstance(value, (bytes, bytearray)):
        _head(out, 2, len(value))
        out.extend(value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        _head(out, 3, len(data))
        out.extend(data)
    elif isinstance(value, (list, tuple)):
        _head(out, 4, len(value))
        for item in value:
            _encode(out, item, depth + 1)
    elif isinstance(value, dict):
        pairs = []
        for key in value:
            encoded = bytearray()
            _encode(encoded, key, depth + 1)
            pairs.append((bytes(encoded), value[key]))
        pairs.sort(key=_first)  # keys are distinct, so an unstable sort is still deterministic
        _head(out, 5, len(pairs))
        for encoded, item in pairs:
            out.extend(encoded)
            _encode(out, item, depth + 1)
    elif isinstance(value, Tag):
        _head(out, 6, value.number)
        _encode(out, value.value, depth + 1)
    else:
        raise CBORError("cannot encode a %s" % type(value).__name__)


def _first(pair):
    return pair[0]


def encode(value):
    """The deterministic CBOR encoding of `value` as bytes."""
    out = bytearray()
    _encode(out, value, 0)
    return bytes(out)


# smallest argument each additional-information size may carry (a smaller one is non-shortest)
_SHORTEST = (24, 0x100, 0x10000, 0x100000000)


def utf8_ok(data):
    """Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points past U+10FFFF."""
    i = 0
    n = len(data)
    while i < n:
        c = data[i]
        if c < 0x80:
            i += 1
            continue
        # RFC 3629 §4's table of well-formed sequences, one branch per row (a deliberate mirror
        # of the RFC: its rows look alike to a duplicate finder)
        if 0xC2 <= c <= 0xDF:
            more, lo, hi = 1, 0x80, 0xBF
        elif c == 0xE0:
            more, lo, hi = 2, 0xA0, 0xBF
        elif c == 0xED:
            more, lo, hi = 2, 0x80, 0x9F
        elif 0xE1 <= c <= 0xEF:
            more, lo, hi = 2, 0x80, 0xBF
        elif c == 0xF0:
            more, lo, hi = 3, 0x90, 0xBF
        elif c == 0xF4:
            more, lo, hi = 3, 0x80, 0x8F
        elif 0xF1 <= c <= 0xF3:
            more, lo, hi = 3, 0x80, 0xBF
        else:
            return False
        if i + more >= n or not lo <= data[i + 1] <= hi:
            return False
        for j in range(i + 2, i + more + 1):
            if not 0x80 <= data[j] <= 0xBF:
                return False
        i += more + 1
    return True


class _Limits:
    def __init__(self, max_depth, max_items, canonical):
        self.max_depth = max_depth
        self.items = max_items
        self.canonical = canonical


def _decode(data, pos, depth, limits):
    end = len(data)
    if pos >= end:
        raise CBORError("truncated at offset %d" % pos)
    limits.items -= 1
    if limits.items < 0:
        raise CBORError("more data items than allowed at offset %d" % pos)
    initial = data[pos]
    major = initial >> 5
    info = initial & 31
    start = pos
    pos += 1
    if info < 24:
        n = info
    elif info < 28:
        size = 1 << (info - 24)
        if pos + size > end:
            raise CBORError("truncated head at offset %d" % start)
        if major == 7 and info > 24:
            raise CBORError("floating-point value at offset %d is not supported" % start)
        n = int.from_bytes(bytes(data[pos:pos + size]), "big")
        if n < _SHORTEST[info - 24]:
            raise CBORError("non-shortest head at offset %d" % start)
        pos += size
    elif info == 31:
        raise CBORError("indefinite length at offset %d" % start)
    else:
        raise CBORError("reserved additional information at offset %d" % start)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major == 2 or major == 3:
        if n > end - pos:
            raise CBORError("truncated string at offset %d" % start)
        chunk = bytes(data[pos:pos + n])
        if major == 3:
            if not utf8_ok(chunk):
                raise CBORError("invalid UTF-8 at offset %d" % start)
            chunk = str(chunk, "utf-8")
        return chunk, pos + n
    if major == 7:
        if n == 20:
            return False, pos
        if n == 21:
            return True, pos
        if n == 22:
            return None, pos
        raise CBORError("simple value %d at offset %d is not supported" % (n, start))
    if depth >= limits.max_depth:
        raise CBORError("nesting deeper than %d at offset %d" % (limits.max_depth, start))
    if major == 6:
        value, pos = _decode(data, pos, depth + 1, limits)
        return Tag(n, value), pos
    if major == 4:
        if n > end - pos:  # every item takes at least one byte
            raise CBORError("truncated array at offset %d" % start)
        items = []
        for _ in range(n):
            item, pos = _decode(data, pos, depth + 1, limits)
            items.append(item)
        return items, pos
    # major == 5
    if n > (end - pos) // 2:
        raise CBORError("truncated map at offset %d" % start)
    result = {}
    last = None
    for _ in range(n):
        key_at = pos
        key, pos = _decode(data, pos, depth + 1, limits)
        if not isinstance(key, (int, str, bytes)) or key is True or key is False:
            raise CBORError("map key at offset %d is not an integer or string" % key_at)
        if key in result:
            raise CBORError("duplicate map key at offset %d" % key_at)
        if limits.canonical:
            encoded = bytes(data[key_at:pos])
            if last is not None and encoded <= last:
                raise CBORError("map key at offset %d out of deterministic order" % key_at)
            last = encoded
        result[key], pos = _decode(data, pos, depth + 1, limits)
    return result, pos


def decode(data, max_depth=MAX_DEPTH, max_size=MAX_SIZE, max_items=MAX_ITEMS, canonical=False):
    """The single data item in `data`; raises CBORError for anything else (see module doc)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CBORError("expected bytes")
    if len(data) > max_size:
        raise CBORError("input of %d bytes exceeds the %d-byte limit" % (len(data), max_size))
    try:
        value, pos = _decode(data, 0, 0, _Limits(max_depth, max_items, canonical))
    except MemoryError:
        raise CBORError("input needs more memory than the heap has")
    if pos != len(data):
        raise CBORError("trailing bytes at offset %d" % pos)
    return value
