"""The terminal's update step (docs/DEVICE.md "Updates"): one fetch request for the next chunk of
a policy or watchlist (docs/SYNC.md "Updates"), added to the partial copy on flash, which is
installed, or refused, once whole.

A module of its own so that only a sync step that fetches loads it, with lostcard.update: a
terminal with nothing to fetch carries neither in its heap.
"""

from . import cbor, protocol
from .errors import LostcardError
from .update import UpdateRefused, add_chunk, install, partial

UPDATE_PATH = "/v1/update"
REPLY_LIMIT = protocol.CHUNK_LEN + 76  # a whole chunk and the reply's CBOR around it (~1,060)


def step(t, transport, device_id, ack_key, kind, version):
    """Fetch the next chunk of `kind`'s `version` (0: a check-in, the newest) for the Terminal
    `t`, and install the object once whole. Returns None, or what went wrong when the collector
    answered without an update (the caller backs off); SyncError if the request failed."""
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
        newest, total, offset, chunk = reply[1], reply[2], reply[3], reply[4]
        if not isinstance(chunk, bytes) or min(newest, total, offset) < 0:
            raise ValueError
    except (LostcardError, KeyError, TypeError, IndexError, ValueError):
        return "update fetch: not a fetch reply"
    body = reply = None
    t.update_refused = None  # the fetch carried it, and the collector took it (its MAC checked)
    t._heard[i] = t.platform.clock()
    t._offer[i] = newest
    if newest <= t._versions[i] or newest == t._skip[i] or not chunk:
        return None
    try:
        if add_chunk(t.storage, kind, newest, total, offset, chunk):
            chunk = None
            t._versions[i] = install(t.storage, kind, crypto, ack_key, device_id)
            if kind == protocol.POLICY:
                t._policy = None  # the next decision takes the new one
    except UpdateRefused as exc:  # the partial is gone, the installed object as it was
        t.update_refused = [kind, newest, exc.args[0]]
        t._skip[i] = newest
    return None
