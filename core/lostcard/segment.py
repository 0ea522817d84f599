"""The queue's on-flash format: segment files of framed records (normative; docs/QUEUE.md).

    segment = header frame*
    header  = "LQ" version:u8 lane:u8 epoch:u16be reserved:u16be        8 bytes
    frame   = 0xA5 0x5A length:u16be seq:u64be time:u32be crc:u32be payload[length]
              crc = CRC-32 of length..payload (every header byte after the magic, then payload)

Frames are only ever appended. Reading a segment classifies what it finds: good frames, a
corrupt frame in the middle (skipped: the scan resynchronises on the next frame magic whose frame
checks out), and a torn tail (bytes after the last good frame that do not form one: an append the
power cut short, dropped with nothing before it).
"""

from binascii import crc32

from .errors import LostcardError

VERSION = 1
HEADER_LEN = 8
FRAME_MAGIC = b"\xa5\x5a"
FRAME_HEAD = 20
MAX_PAYLOAD = 0xFFFF


class SegmentError(LostcardError):
    """A segment this code cannot read: unknown format version or not a segment at all."""


def header(lane, epoch):
    return b"LQ" + bytes((VERSION, lane)) + epoch.to_bytes(2, "big") + b"\x00\x00"


def frame(seq, time, payload):
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("record too large for a frame")
    body = len(payload).to_bytes(2, "big") + seq.to_bytes(8, "big") + time.to_bytes(4, "big")
    crc = crc32(payload, crc32(body)) & 0xFFFFFFFF
    return FRAME_MAGIC + body + crc.to_bytes(4, "big") + payload


def read_header(data):
    """(lane, epoch) of a segment; SegmentError if it is not a segment of a known version."""
    if len(data) < HEADER_LEN or data[:2] != b"LQ":
        raise SegmentError("not a queue segment")
    if data[2] != VERSION:
        raise SegmentError("segment format version %d is not supported" % data[2])
    return data[3], int.from_bytes(data[4:6], "big")


def _frame_at(data, pos):
    """(seq, time, payload start, end) of a well-formed frame at pos, else None."""
    end = pos + FRAME_HEAD
    if end > len(data) or data[pos:pos + 2] != FRAME_MAGIC:
        return None
    length = int.from_bytes(data[pos + 2:pos + 4], "big")
    if end + length > len(data):
        return None
    crc = crc32(data[end:end + length], crc32(data[pos + 2:pos + 16])) & 0xFFFFFFFF
    if crc != int.from_bytes(data[pos + 16:pos + 20], "big"):
        return None
    return (int.from_bytes(data[pos + 4:pos + 12], "big"),
            int.from_bytes(data[pos + 12:pos + 16], "big"), end, end + length)


def _next_frame(data, pos):
    """Where the next frame that checks out starts after `pos`; -1 if none does."""
    nxt = data.find(FRAME_MAGIC, pos + 1)
    while nxt >= 0 and _frame_at(data, nxt) is None:
        nxt = data.find(FRAME_MAGIC, nxt + 1)
    return nxt


def scan(data, newest=True):
    """([(seq, time, payload start, end)], corrupt frames skipped, torn tail found).

    Only the newest segment of a lane can have a torn tail, and only one that runs past the end
    of the file (an append the power cut short); any other bad frame is corrupt. A corrupt frame
    whose length field still leads to the next frame's magic (or the end) is skipped by its
    length and counted as one; otherwise the scan resynchronises on the next frame magic that
    checks out, counting the skipped bytes as one.
    """
    frames = []
    corrupt = 0
    pos = HEADER_LEN
    n = len(data)
    while pos < n:
        found = _frame_at(data, pos)
        if found is not None:
            frames.append(found)
            pos = found[3]
            continue
        end = pos + FRAME_HEAD + int.from_bytes(data[pos + 2:pos + 4], "big") \
            if pos + 4 <= n else n + 1
        nxt = _next_frame(data, pos)
        if end > n:
            # torn only if no good frame follows: a damaged length field in front of good frames
            # is corruption, and a torn tail is trimmed away at recovery
            if newest and nxt < 0 and data[pos:pos + 2] == FRAME_MAGIC[:n - pos]:
                return frames, corrupt, True
        elif data[pos:pos + 2] == FRAME_MAGIC and (end == n or data[end:end + 2] == FRAME_MAGIC):
            corrupt += 1
            pos = end
            continue
        corrupt += 1
        if nxt < 0:
            return frames, corrupt, False
        pos = nxt
    return frames, corrupt, False
