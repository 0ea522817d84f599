"""docs/QUEUE.md's tables against the code: state keys, segment header and frame layout, limits.

The doc is parsed, not copied here: a key, field or limit changed on one side only fails.
"""

import re
from binascii import crc32

import pytest

from lostcard import cbor, queue, queue_state, segment
from lostcard_cpython import paths
from queue_fakes import MemoryStorage

DOC = (paths.ROOT / "docs" / "QUEUE.md").read_text()


def _table(doc, first_header):
    """The rows (lists of cells) of the table whose header row starts with `first_header`."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| %s |" % first_header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _name(cell):
    return re.fullmatch(r"`(\w+)`", cell).group(1)


def check_state_keys(doc):
    rows = _table(doc, "key")
    numbers = [int(row[0]) for row in rows]
    assert numbers == list(range(1, len(rows) + 1)), "state keys out of order or missing"
    for number, row in zip(numbers, rows):
        assert getattr(queue_state, _name(row[1])) == number, row
    in_code = {name for name in dir(queue_state) if name.startswith("S_")}
    assert in_code == {_name(row[1]) for row in rows}, "a key without a row or a row without a key"
    # and what the code writes: every documented key, the sync's two only with a device id
    for device in (None, "T-1"):
        storage = MemoryStorage()
        queue.Queue.provision(storage, bytes(32), 1, device, bytes(32) if device else None)
        written = set(cbor.decode(storage.read(queue_state.STATE)))
        optional = {queue_state.S_DEVICE, queue_state.S_ACK_KEY}
        assert written == (set(numbers) if device else set(numbers) - optional)


def _layout(rows):
    """[(offset, size, field)] with offsets checked to follow each other from 0."""
    fields, offset = [], 0
    for row in rows:
        assert int(row[0]) == offset, row
        size = int(row[1]) if row[1].isdigit() else None
        fields.append((offset, size, row[2]))
        offset += size or 0
    return fields, offset


def check_header(doc):
    fields, length = _layout(_rows_after(doc, "Segment header"))
    assert length == segment.HEADER_LEN
    lane, epoch = 2, 0x1234
    data = segment.header(lane, epoch)
    assert len(data) == length
    for offset, size, field in fields:
        value = data[offset:offset + size]
        literal = re.match(r'`"(\w+)"`', field)
        if literal:
            assert value == literal.group(1).encode(), field
        elif "`VERSION`" in field:
            assert int.from_bytes(value, "big") == segment.VERSION == int(field.split(", ")[1][:-1])
        elif field.startswith("lane"):
            assert int.from_bytes(value, "big") == lane
        elif field.startswith("epoch"):
            assert int.from_bytes(value, "big") == epoch
        else:
            assert field == "zero" and value == bytes(size), field


def check_frame(doc):
    fields, head = _layout(_rows_after(doc, "Frame ("))
    assert head == segment.FRAME_HEAD
    seq, time, payload = 0x0102030405060708, 0x0A0B0C0D, b"sealed"
    data = segment.frame(seq, time, payload)
    expected = {"payload length": len(payload), "sequence number": seq, "time": time,
                "CRC-32": crc32(payload, crc32(data[2:16])) & 0xFFFFFFFF}
    for offset, size, field in fields:
        if size is None:  # the payload: its length is the length field's
            assert offset == segment.FRAME_HEAD and data[offset:] == payload, field
            continue
        value = data[offset:offset + size]
        magic = re.match(r"`([0-9A-F ]+)` \(`FRAME_MAGIC`\)", field)
        if magic:
            assert value == bytes.fromhex(magic.group(1)) == segment.FRAME_MAGIC
            continue
        label = next(label for label in expected if field.startswith(label))
        assert int.from_bytes(value, "big") == expected[label], field


def check_limits(doc):
    rows = _table(doc, "constant")
    assert rows
    for row in rows:
        name = _name(row[0])
        module = queue_state if hasattr(queue_state, name) else queue
        assert getattr(module, name) == int(row[1]), row


def _rows_after(doc, title):
    """The table that follows the paragraph starting with `title`."""
    return _table(doc[doc.index("\n" + title) + 1:], "offset")


CHECKS = [check_state_keys, check_header, check_frame, check_limits]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_queue_doc_matches_the_code(check):
    check(DOC)


@pytest.mark.parametrize("check,old,new", [
    (check_state_keys, "| 10 | `S_ACK_KEY`", "| 10 | `S_DEVICE`"),
    (check_state_keys, "| 9 | `S_DEVICE`", "| 9 | `S_VERSION`"),
    (check_header, "| 3 | 1 | lane (1..3) |", "| 3 | 1 | epoch (u16) |"),
    (check_frame, "| 12 | 4 | time", "| 12 | 4 | sequence number"),
    (check_limits, "| `RESERVE` | 32 |", "| `RESERVE` | 64 |"),
])
def test_a_drifted_doc_fails(check, old, new):
    assert old in DOC
    with pytest.raises(AssertionError):
        check(DOC.replace(old, new))
