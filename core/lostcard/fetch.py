"""The terminal's update step (docs/DEVICE.md "Updates"): whether an idle sync step fetches, and
that fetch: one request for the next chunk of a policy or watchlist (docs/SYNC.md "Updates"),
added to the partial copy on flash, which is installed, or refused, once whole.

The Terminal's half of its sync step, in a module of its own so that only an idle step loads it
(and lostcard.update only a step that fetches): the terminal module stays in a phased heap
between calls, this one does not.
"""

from . import cbor, protocol
from .errors import LostcardError
from .kdf import constant_time_equal

UPDATE_PATH = "/v1/update"
REPLY_LIMIT = protocol.CHUNK_LEN + 76  # a whole chunk, its reply MAC and the CBOR (<= 1,061)


def wanted(t):
    """(kind, version) of an update the collector has beyond the one the Terminal `t` runs,
    and not the version refused last; None if none."""
    for i in (0, 1):
        if t._versions[i] < t._offer[i] != t._skip[i]:
            return i + 1, t._offer[i]
    return None


def due(t):
    """(kind, version) of the fetch an idle sync step of `t` makes: a wanted update, else
    (kind, 0), a check-in, once `checkin_s` passed without word of that kind; None if
    neither."""
    found = wanted(t)
    if found or not t.checkin:
        return found
    now = t.platform.clock()
    for i in (0, 1):
        heard = t._heard[i]
        if heard is None or not 0 <= now - heard < t.checkin:
            return i + 1, 0
    return None


def step(t, transport, device_id, ack_key, kind, version):
    """Fetch the next chunk of `kind`'s `version` (0: a check-in, the newest) for the Terminal
    `t`, and install the object once whole. Returns None, or what went wrong when the collector
    answered without an update (the caller backs off); SyncError if the request failed."""
    from .update import UpdateRefused, add_chunk, install, partial

    i = kind - 1
    held_version, held = partial(t.storage, kind)
    if not version:  # a check-in resumes a partial copy: the reply tells the newest anyway
        version = held_version
    crypto = t.platform.hmac()
    nonce = t.platform.random_bytes(protocol.NONCE_LEN)
    body = protocol.encode_fetch(crypto, ack_key, device_id, nonce, kind, version,
                                 held if held_version == version else 0, t._updates())
    status, body = transport.post(UPDATE_PATH, body, REPLY_LIMIT)
    if status != 200:
        return "update fetch: collector answered %d" % status
    try:
        reply = cbor.decode(body, max_size=REPLY_LIMIT)
        newest, total, offset, chunk, mac = reply[1], reply[2], reply[3], reply[4], reply[5]
        # bounded before they are hashed for the reply MAC or the Terminal's state takes them
        if not isinstance(chunk, bytes) or not isinstance(mac, bytes) \
                or min(newest, total, offset) < 0 or newest >> 32 or (total | offset) >> 20:
            raise ValueError
    except (LostcardError, KeyError, TypeError, IndexError, ValueError):
        return "update fetch: not a fetch reply"
    body = reply = None
    # made by the collector for this fetch: a forged or replayed reply changes nothing here
    if not constant_time_equal(protocol.fetch_reply_mac(crypto, ack_key, device_id, nonce, newest,
                                                        total, offset, chunk), mac):
        return "update fetch: reply not authenticated"
    t._heard[i] = t.platform.clock()
    t._offer[i] = newest
    if newest <= t._versions[i] or newest == t._skip[i]:
        return None
    # an empty chunk is the end of an object held whole: a cut before install() left it so
    try:
        if add_chunk(t.storage, kind, newest, total, offset, chunk):
            chunk = None
            t._versions[i] = install(t.storage, kind, crypto, ack_key, device_id)
            if kind == protocol.POLICY:
                t._policy = None  # the next decision takes the new one
    except UpdateRefused as exc:  # the partial is gone, the installed object as it was
        t.update_refused = [kind, newest, exc.args[0]]
        if not exc.args[1]:  # forged or cut on the way: fetched again, after a backoff
            return "update fetch: " + exc.args[0]
        t._skip[i] = newest  # the collector's own object, refused for its content
    return None
