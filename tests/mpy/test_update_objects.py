"""The collector's half of updates on both interpreters (docs/SYNC.md "Updates"): an object made
for one device, served in chunks that reassemble to it, its MAC checking under that device's key
alone; a watchlist body sorted and capped; a fetch read back as the terminal sent it.
"""

import hashlib

from lostcard import kdf, protocol
from lostcard.collector import intake, updates
from lostcard.protocol import ProtocolError

import heap  # noqa: F401  (on MicroPython: the tests' gc threshold)

KEY, OTHER = b"\x07" * 32, b"\x08" * 32


def test_chunks_reassemble_to_an_object_whose_mac_checks_for_its_device_only():
    body = bytes(range(256)) * 9  # 2,304 bytes: the header and three chunks
    head = updates.header(kdf, KEY, "T-1", protocol.WATCHLIST, 7, body)
    got, offset = b"", 0
    while offset < len(head) + len(body):
        piece = updates.chunk(head, body, offset)
        assert 0 < len(piece) <= protocol.CHUNK_LEN
        got += piece
        offset += len(piece)
    assert got == head + body and len(head) == protocol.HEADER_LEN
    assert got[:4] == protocol.OBJECT_MAGIC and got[4:8] == bytes([protocol.WATCHLIST, 0, 0, 0])
    assert int.from_bytes(got[8:12], "big") == 7 and int.from_bytes(got[12:16], "big") == len(body)
    digest = hashlib.sha256(body).digest()
    assert got[16:32] == protocol.object_mac(kdf, KEY, "T-1", protocol.WATCHLIST, 7, digest)
    assert got[16:32] != protocol.object_mac(kdf, OTHER, "T-1", protocol.WATCHLIST, 7, digest)
    assert got[16:32] != protocol.object_mac(kdf, KEY, "T-2", protocol.WATCHLIST, 7, digest)
    assert updates.chunk(head, body, len(head) + len(body)) == b""


def test_a_watchlist_body_is_sorted_and_its_counts_capped():
    body = updates.watchlist_body([(b"\x09" * 16, 2), (b"\x01" * 16, 900), (b"\x05" * 16, 0)])
    assert body == b"\x01" * 15 + b"\xff" + b"\x05" * 15 + b"\x01" + b"\x09" * 15 + b"\x02"
    try:
        updates.watchlist_body([(b"\x01" * 16, 2)] * 2)
        raise AssertionError("two entries of one token")
    except ValueError:
        pass


def test_a_fetch_reads_back_and_a_malformed_one_is_refused():
    said = [1, 2, [protocol.POLICY, 3, "bad"]]
    body = protocol.encode_fetch(kdf, KEY, "T-1", b"n" * 16, protocol.POLICY, 0, 1024, said)
    device, nonce, kind, version, offset, mac, got = intake.decode_fetch(body)
    assert (device, nonce, kind, version, offset, got) == ("T-1", b"n" * 16, 1, 0, 1024, said)
    intake.check_fetch(kdf, KEY, device, nonce, kind, version, offset, got, mac)
    try:
        intake.check_fetch(kdf, OTHER, device, nonce, kind, version, offset, got, mac)
        raise AssertionError("another key's MAC")
    except intake.NotAuthenticated:
        pass
    for bad in ([1, 2], [1, -1, None], [1, 2, [3, 1, "x"]], [1, 2, [1, 1, 5]], [True, 0, None],
                [0, 0, [True, 1, "x"]]):
        try:
            intake.decode_fetch(protocol.encode_fetch(kdf, KEY, "T-1", b"n" * 16, 1, 0, 0, bad))
            raise AssertionError("accepted %r" % (bad,))
        except ProtocolError:
            pass
