"""The collector's half of the upload protocol (docs/SYNC.md): reading a terminal's batch and
writing the reply. Apart from protocol.py so the device bundle need not carry it.
"""

from .. import cbor
from ..errors import LostcardError
from ..keys import KeyScheduleError, check_device_id
from ..kdf import constant_time_equal
from ..protocol import MAC_LEN, MAX_RECORDS, NONCE_LEN, ProtocolError, ack_mac, request_mac, \
    state_mac


class NotAuthenticated(ProtocolError):
    """A batch without a request MAC that checks under its device's ack key: its device did not
    make it (or was provisioned by another fleet secret). Nothing of it is stored."""


def decode_batch(body, max_size):
    """(device id, nonce, lane, [sealed], gaps or None, request MAC); ProtocolError says what is
    wrong, NotAuthenticated if the MAC is missing."""
    try:
        batch = cbor.decode(body, max_size=max_size, max_items=4 * MAX_RECORDS + 32)
    except LostcardError as exc:
        raise ProtocolError("body is not CBOR: %s" % exc.args[0])
    if not isinstance(batch, dict):
        raise ProtocolError("batch is not a map")
    device_id, nonce, lane, sealed = batch.get(1), batch.get(2), batch.get(3), batch.get(4)
    if not isinstance(device_id, str) or not isinstance(nonce, bytes) or len(nonce) != NONCE_LEN:
        raise ProtocolError("batch needs a device id and a 16-byte nonce")
    try:
        check_device_id(device_id)
    except KeyScheduleError as exc:
        raise ProtocolError(exc.args[0])
    if lane not in (1, 2, 3):
        raise ProtocolError("batch lane must be 1, 2 or 3")
    if not isinstance(sealed, list) or not 0 < len(sealed) <= MAX_RECORDS:
        raise ProtocolError("batch records must be a list of 1 to %d" % MAX_RECORDS)
    for item in sealed:
        if not isinstance(item, list) or len(item) != 2 or isinstance(item[0], bool) \
                or not isinstance(item[0], int) or not 0 <= item[0] < 1 << 63 \
                or not isinstance(item[1], bytes):
            raise ProtocolError("batch records must be [sequence number, sealed incident]")
    gaps = batch.get(5)
    # a terminal of the previous release sends 4 counts, without the loss to a restore
    if gaps is not None and (not isinstance(gaps, list) or len(gaps) not in (4, 5) or not all(
            isinstance(g, int) and not isinstance(g, bool) and 0 <= g < 1 << 32 for g in gaps)):
        raise ProtocolError("batch gaps must be [evicted 1, 2, 3, corrupt, ? lost to a restore]")
    mac = batch.get(6)
    if not isinstance(mac, bytes) or len(mac) != MAC_LEN:
        raise NotAuthenticated("batch not authenticated: it has no request MAC (a terminal older "
                               "than sync protocol 2?)")
    return device_id, nonce, lane, sealed, gaps, mac


def check_request(crypto, key, device_id, nonce, lane, items_digest, gaps, mac):
    """Raise NotAuthenticated unless `mac` is the request MAC of this batch under `key`."""
    if not constant_time_equal(request_mac(crypto, key, device_id, nonce, lane, items_digest,
                                           gaps), mac):
        raise NotAuthenticated("batch not authenticated: its request MAC does not check under "
                               "the device's key (another fleet secret, or not its device)")


def encode_reply(crypto, key, device_id, nonce, acked, items_digest, quarantined, high, accepts):
    """The reply: the acknowledgement under the ack MAC (all a terminal of the previous release
    reads), and the collector's high-water per lane and largest batch under the state MAC."""
    return cbor.encode({1: acked, 2: ack_mac(crypto, key, device_id, nonce, acked, items_digest),
                        3: quarantined, 4: high, 5: accepts, 6: state_mac(
                            crypto, key, device_id, nonce, acked, items_digest, high, accepts)})
