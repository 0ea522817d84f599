"""The collector's half of the upload protocol (docs/SYNC.md): reading a terminal's batch and
writing the reply. Apart from protocol.py so the device bundle need not carry it.
"""

from .. import cbor
from ..errors import LostcardError
from ..protocol import MAX_RECORDS, NONCE_LEN, ProtocolError, ack_mac


def decode_batch(body, max_size):
    """(device id, nonce, lane, [sealed], gaps or None); ProtocolError says what is wrong."""
    try:
        batch = cbor.decode(body, max_size=max_size, max_items=4 * MAX_RECORDS + 32)
    except LostcardError as exc:
        raise ProtocolError("body is not CBOR: %s" % exc.args[0])
    if not isinstance(batch, dict):
        raise ProtocolError("batch is not a map")
    device_id, nonce, lane, sealed = batch.get(1), batch.get(2), batch.get(3), batch.get(4)
    if not isinstance(device_id, str) or not isinstance(nonce, bytes) or len(nonce) != NONCE_LEN:
        raise ProtocolError("batch needs a device id and a 16-byte nonce")
    if lane not in (1, 2, 3):
        raise ProtocolError("batch lane must be 1, 2 or 3")
    if not isinstance(sealed, list) or len(sealed) > MAX_RECORDS:
        raise ProtocolError("batch records must be a list of at most %d" % MAX_RECORDS)
    for item in sealed:
        if not isinstance(item, list) or len(item) != 2 or isinstance(item[0], bool) \
                or not isinstance(item[0], int) or not 0 <= item[0] < 1 << 63 \
                or not isinstance(item[1], bytes):
            raise ProtocolError("batch records must be [sequence number, sealed incident]")
    gaps = batch.get(5)
    if gaps is not None and (not isinstance(gaps, list) or len(gaps) != 4 or not all(
            isinstance(g, int) and not isinstance(g, bool) and 0 <= g < 1 << 32 for g in gaps)):
        raise ProtocolError("batch gaps must be [evicted 1, 2, 3, corrupt]")
    return device_id, nonce, lane, sealed, gaps


def encode_reply(crypto, key, device_id, nonce, acked, items_digest, quarantined):
    return cbor.encode({1: acked, 2: ack_mac(crypto, key, device_id, nonce, acked, items_digest),
                        3: quarantined})
