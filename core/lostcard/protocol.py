"""The upload protocol's messages (normative: docs/SYNC.md), shared by terminals and collector.

    batch = {1: device id, 2: request nonce (16 bytes), 3: lane (1..3),
             4: [* [seq, sealed incident (bstr)]], ? 5: gaps, 6: request MAC (16 bytes),
             ? 7: updates}
    gaps = [evicted lane 1, 2, 3, corrupt, ? lost to a restore]
    updates = [policy version, watchlist version, refused / null]   (what the terminal runs)
    refused = [kind, version, reason (text)]      (the last update it refused, until reported)
    request MAC = HMAC-SHA256(ack key, CBOR [device id, nonce, lane, batch digest, gaps or null
                                             (, updates if sent)])[:16]
    reply = {1: acknowledged sequence number (0 = none), 2: ack MAC (16 bytes), 3: quarantined,
             ? 4: high-water [lane 1, 2, 3], ? 5: largest batch accepted (bytes of records),
             ? 6: state MAC (16 bytes), ? 7: offer [policy version, watchlist version],
             ? 8: offer MAC (16 bytes)}
    offer MAC = HMAC-SHA256(ack key, CBOR [device id, request nonce, "offer", offer])[:16]
    ack MAC = HMAC-SHA256(ack key, CBOR [device id, request nonce, acknowledged, batch digest])[:16]
    state MAC = HMAC-SHA256(ack key, CBOR [device id, request nonce, acknowledged, batch digest,
                                           high-water, largest batch])[:16]
    batch digest = SHA-256 of the CBOR encoding of the batch's records list (key 4)

An update (a policy or a watchlist, docs/SYNC.md "Updates") is fetched a chunk at a time:

    fetch = {1: device id, 2: nonce, 3: kind (1 policy, 2 watchlist), 4: version (0: the
             newest), 5: offset, 6: fetch MAC, 7: updates (as in a batch)}
    fetch MAC = HMAC-SHA256(ack key, CBOR [device id, nonce, "fetch", kind, version, offset,
                                           updates])[:16]
    fetch reply = {1: version (0: none published), 2: object length, 3: offset, 4: chunk (bstr),
                   5: reply MAC}
    reply MAC = HMAC-SHA256(ack key, CBOR [device id, fetch nonce, "fetch reply", version,
                                           object length, offset, SHA-256 of the chunk])[:16]
    object = header (32 bytes) || body; header = "LCU1" | kind (1) | 0 0 0 | version (4, big
             endian) | body length (4, big endian) | object MAC (16)
    object MAC = HMAC-SHA256(ack key, CBOR [device id, "object", kind, version,
                                            SHA-256 of the body])[:16]

The object MAC, made for each device, authenticates the whole object, so a forged or truncated
chunk fails it at the end; the reply MAC, bound to the fetch's fresh nonce, lets the terminal
refuse a forged or replayed reply before it writes a byte or takes a number from it. The
literal texts keep each MAC's input from being taken for another's.

The request MAC lets the collector refuse, before it stores or derives anything, a batch that
its device did not make, and covers the gap counts; the ack MAC ties the acknowledgement to this
request and to the records the collector received, and the state MAC what the collector holds
and accepts to the same. The three inputs are CBOR arrays of 5, 4 and 6 items: none can be taken
for another. A terminal of the previous release reads keys 1 to 3 only.

The collector replies only after its transaction committed; a terminal forgets records only for
a reply whose MAC checks under its own ack key and its own fresh nonce. The collector's half
(reading batches, writing replies) is intake.py, which terminals do not carry.
"""

import hashlib

from . import cbor
from .errors import LostcardError
from .kdf import constant_time_equal

NONCE_LEN = 16
MAC_LEN = 16
MAX_RECORDS = 100
POLICY = 1  # update kinds
WATCHLIST = 2
OBJECT_MAGIC = b"LCU1"
HEADER_LEN = 32
CHUNK_LEN = 1024  # bytes of an object per fetch reply: a terminal's heap holds a few


class ProtocolError(LostcardError):
    """A batch or reply that is not what docs/SYNC.md describes."""


def _mac(crypto, key, signed):
    """The 16-byte MAC of the CBOR list `signed` (each MAC's own items, below)."""
    return crypto.hmac_sha256(key, cbor.encode(signed))[:MAC_LEN]


def digest(items):
    """SHA-256 of a batch's records list, as both sides encode it."""
    return hashlib.sha256(cbor.encode(items)).digest()


def ack_mac(crypto, key, device_id, nonce, acked, items_digest):
    return _mac(crypto, key, [device_id, nonce, acked, items_digest])


def request_mac(crypto, key, device_id, nonce, lane, items_digest, gaps, updates=None):
    signed = [device_id, nonce, lane, items_digest, gaps]
    if updates is not None:
        signed.append(updates)
    return _mac(crypto, key, signed)


def encode_batch(crypto, key, device_id, nonce, lane, sealed, gaps, items_digest, updates=None):
    batch = {1: device_id, 2: nonce, 3: lane, 4: sealed, 5: gaps, 6: request_mac(
        crypto, key, device_id, nonce, lane, items_digest, gaps, updates)}
    if updates is not None:
        batch[7] = updates
    return cbor.encode(batch)


def offer_mac(crypto, key, device_id, nonce, offer):
    return _mac(crypto, key, [device_id, nonce, "offer", offer])


def fetch_mac(crypto, key, device_id, nonce, kind, version, offset, updates):
    return _mac(crypto, key, [device_id, nonce, "fetch", kind, version, offset, updates])


def encode_fetch(crypto, key, device_id, nonce, kind, version, offset, updates):
    return cbor.encode({1: device_id, 2: nonce, 3: kind, 4: version, 5: offset, 6: fetch_mac(
        crypto, key, device_id, nonce, kind, version, offset, updates), 7: updates})


def fetch_reply_mac(crypto, key, device_id, nonce, version, length, offset, chunk):
    return _mac(crypto, key, [device_id, nonce, "fetch reply", version, length, offset,
                              hashlib.sha256(chunk).digest()])


def object_mac(crypto, key, device_id, kind, version, body_digest):
    return _mac(crypto, key, [device_id, "object", kind, version, body_digest])


def state_mac(crypto, key, device_id, nonce, acked, items_digest, high, accepts):
    return _mac(crypto, key, [device_id, nonce, acked, items_digest, high, accepts])


def verified_ack(crypto, key, device_id, nonce, items_digest, body):
    """(acknowledged sequence number, high-water [lane 1, 2, 3], largest batch accepted) of a
    reply to our request `nonce` carrying the records whose digest is `items_digest`, or None if
    the reply is not one the collector made for this device, this request and these records
    (never an exception). High-water and largest batch are None unless the state MAC checks (a
    collector of the previous release sends neither)."""
    try:
        reply = cbor.decode(body, max_size=256)
        acked, mac = reply[1], reply[2]
    except (LostcardError, KeyError, TypeError, IndexError, ValueError):
        return None
    if isinstance(acked, bool) or not isinstance(acked, int) or acked < 0 \
            or not isinstance(mac, bytes):
        return None
    expected = ack_mac(crypto, key, device_id, nonce, acked, items_digest)
    if not constant_time_equal(expected, mac):
        return None
    try:
        high, accepts, mac = reply.get(4), reply.get(5), reply.get(6)
        if len(high) == 3 and min(high + [accepts]) >= 0 and constant_time_equal(state_mac(
                crypto, key, device_id, nonce, acked, items_digest, high, accepts), mac):
            return acked, high, accepts
    except (LostcardError, AttributeError, TypeError, ValueError):
        pass
    return acked, None, None


def verified_offer(crypto, key, device_id, nonce, body):
    """[policy version, watchlist version] the collector offers in a reply to our request
    `nonce`, or None if the reply has no offer whose MAC checks (never an exception)."""
    try:
        reply = cbor.decode(body, max_size=256)
        offer, mac = reply[7], reply[8]
        if len(offer) == 2 and min(offer) >= 0 and constant_time_equal(
                offer_mac(crypto, key, device_id, nonce, offer), mac):
            return offer
    except (LostcardError, KeyError, TypeError, IndexError, ValueError):
        pass
    return None
