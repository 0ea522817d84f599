"""The collector's half of the upload protocol (docs/SYNC.md): reading a terminal's batch or
update fetch and writing the reply. Apart from protocol.py so the device bundle need not carry it.
"""

from .. import cbor
from ..errors import LostcardError
from ..keys import KeyScheduleError, check_device_id
from ..kdf import constant_time_equal
from ..protocol import MAC_LEN, MAX_RECORDS, NONCE_LEN, POLICY, WATCHLIST, ProtocolError, \
    ack_mac, fetch_mac, fetch_reply_mac, offer_mac, request_mac, state_mac

MAX_VERSION = (1 << 32) - 1  # a version is a uint32 in an object's header
MAX_FETCH = 512  # bytes of a fetch request: its fields and a refusal's reason (<= 48 characters)


class NotAuthenticated(ProtocolError):
    """A batch without a request MAC that checks under its device's ack key: its device did not
    make it (or was provisioned by another fleet secret). Nothing of it is stored."""


def _version(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_VERSION


def _kind(k):
    return k in (POLICY, WATCHLIST) and not isinstance(k, bool)


def check_updates(updates, what):
    """Raise ProtocolError unless `updates` is [policy version, watchlist version, refused or
    null], refused = [kind, version, reason text] (the store keeps 48 characters of it)."""
    refused = updates[2] if isinstance(updates, list) and len(updates) == 3 else False
    if refused is False or not _version(updates[0]) or not _version(updates[1]) or (
            refused is not None and (not isinstance(refused, list) or len(refused) != 3
                                     or not _kind(refused[0])
                                     or not _version(refused[1])
                                     or not isinstance(refused[2], str))):
        raise ProtocolError("%s updates must be [policy version, watchlist version, "
                            "[kind, version, reason] or null]" % what)


def _device(device_id, nonce, what):
    if not isinstance(device_id, str) or not isinstance(nonce, bytes) or len(nonce) != NONCE_LEN:
        raise ProtocolError("%s needs a device id and a 16-byte nonce" % what)
    try:
        check_device_id(device_id)
    except KeyScheduleError as exc:
        raise ProtocolError(exc.args[0])


def decode_batch(body, max_size):
    """(device id, nonce, lane, [sealed], gaps or None, request MAC, updates or None);
    ProtocolError says what is wrong, NotAuthenticated if the MAC is missing."""
    try:
        batch = cbor.decode(body, max_size=max_size, max_items=4 * MAX_RECORDS + 32)
    except LostcardError as exc:
        raise ProtocolError("body is not CBOR: %s" % exc.args[0])
    if not isinstance(batch, dict):
        raise ProtocolError("batch is not a map")
    device_id, nonce, lane, sealed = batch.get(1), batch.get(2), batch.get(3), batch.get(4)
    _device(device_id, nonce, "batch")
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
    updates = batch.get(7)  # what the terminal runs; a terminal of the previous release: none
    if updates is not None:
        check_updates(updates, "batch")
    return device_id, nonce, lane, sealed, gaps, mac, updates


def check_request(crypto, key, device_id, nonce, lane, items_digest, gaps, mac, updates=None):
    """Raise NotAuthenticated unless `mac` is the request MAC of this batch under `key`."""
    if not constant_time_equal(request_mac(crypto, key, device_id, nonce, lane, items_digest,
                                           gaps, updates), mac):
        raise NotAuthenticated("batch not authenticated: its request MAC does not check under "
                               "the device's key (another fleet secret, or not its device)")


def encode_reply(crypto, key, device_id, nonce, acked, items_digest, quarantined, high, accepts,
                 offer=None):
    """The reply: the acknowledgement under the ack MAC (all a terminal of the previous release
    reads), the collector's high-water per lane and largest batch under the state MAC, and the
    `offer` ([newest policy version, newest watchlist version]) under the offer MAC."""
    reply = {1: acked, 2: ack_mac(crypto, key, device_id, nonce, acked, items_digest),
             3: quarantined, 4: high, 5: accepts, 6: state_mac(
                 crypto, key, device_id, nonce, acked, items_digest, high, accepts)}
    if offer is not None:
        reply[7] = offer
        reply[8] = offer_mac(crypto, key, device_id, nonce, offer)
    return cbor.encode(reply)


def decode_fetch(body):
    """(device id, nonce, kind, version, offset, fetch MAC, updates) of an update fetch;
    ProtocolError says what is wrong, NotAuthenticated if the MAC is missing."""
    try:
        fetch = cbor.decode(body, max_size=MAX_FETCH)
    except LostcardError as exc:
        raise ProtocolError("body is not CBOR: %s" % exc.args[0])
    if not isinstance(fetch, dict):
        raise ProtocolError("fetch is not a map")
    device_id, nonce, kind, version, offset = (fetch.get(k) for k in (1, 2, 3, 4, 5))
    _device(device_id, nonce, "fetch")
    if not _kind(kind):
        raise ProtocolError("fetch kind must be 1 (policy) or 2 (watchlist)")
    if not _version(version) or not _version(offset):
        raise ProtocolError("fetch version and offset must be whole numbers")
    check_updates(fetch.get(7), "fetch")
    mac = fetch.get(6)
    if not isinstance(mac, bytes) or len(mac) != MAC_LEN:
        raise NotAuthenticated("fetch not authenticated: it has no fetch MAC")
    return device_id, nonce, kind, version, offset, mac, fetch[7]


def check_fetch(crypto, key, device_id, nonce, kind, version, offset, updates, mac):
    """Raise NotAuthenticated unless `mac` is the fetch MAC of this fetch under `key`."""
    if not constant_time_equal(fetch_mac(crypto, key, device_id, nonce, kind, version, offset,
                                         updates), mac):
        raise NotAuthenticated("fetch not authenticated: its MAC does not check under the "
                               "device's key (another fleet secret, or not its device)")


def encode_fetch_reply(crypto, key, device_id, nonce, version, length, offset, chunk):
    """The reply to the fetch `nonce` of `device_id`: the newest version of the kind (0: none
    published), its object's length, and the chunk of it from `offset`, under the reply MAC."""
    return cbor.encode({1: version, 2: length, 3: offset, 4: chunk, 5: fetch_reply_mac(
        crypto, key, device_id, nonce, version, length, offset, chunk)})
