"""Updates on flash: a policy or a watchlist fetched a chunk at a time, checked whole, swapped in.

An object (protocol.py: a 32-byte header, then the body) grows in `<kind>.new` beside the
installed one (`policy.new` beside `policy.lcu`, `watch.new` beside `watch.lcu`), so a fetch
resumes where the last one stopped, across power cuts. Once whole, install() checks it (header,
length, a version above the installed one, the object MAC made for this device, the content)
reading a piece at a time, then renames it over the installed one: the storage's rename is atomic,
so a power cut leaves the old object or the new, never neither or a mix. A refusal removes the
partial and leaves the installed object as it was. The queue shares the directory and ignores
these names (it reads only its state and `*.seg`).
"""

import hashlib

from .errors import LostcardError
from .kdf import constant_time_equal
from .protocol import HEADER_LEN, OBJECT_MAGIC, POLICY, WATCHLIST, object_mac
from .watchlist import ENTRY, MAX_ENTRIES, header, u32

NAMES = {POLICY: "policy", WATCHLIST: "watch"}
MAX_TOTAL = {POLICY: HEADER_LEN + 4096, WATCHLIST: HEADER_LEN + MAX_ENTRIES * ENTRY}
PIECE = 512  # bytes read at a time: a whole number of watchlist entries


class UpdateRefused(LostcardError):
    """An update the terminal will not install; args[0] the reason, one line of <= 48 chars;
    args[1] True when the object was the collector's own (its MAC verified) and its content is
    what the terminal refuses, False when it was forged or damaged on the way."""


def _magic(kind):
    return OBJECT_MAGIC + bytes((kind,))


def _version(storage, name, kind):
    head = header(storage, name, _magic(kind))
    return u32(head, 8) if head else 0


def installed(storage, kind):
    """The version of `kind` installed, 0 if none."""
    return _version(storage, NAMES[kind] + ".lcu", kind)


def partial(storage, kind):
    """(version, bytes held) of the partial object of `kind`; (0, 0) if none, or too short yet to
    say its version (the fetch starts again)."""
    name = NAMES[kind] + ".new"
    version = _version(storage, name, kind)
    if not version:
        return 0, 0
    low, high = 16, MAX_TOTAL[kind]  # held: what header() read; its size by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if storage.read_at(name, middle - 1, 1):
            low = middle
        else:
            high = middle - 1
    return version, low


def _remove(storage, name):
    try:
        storage.remove(name)
    except OSError as exc:
        if exc.args[0] != 2:  # ENOENT: nothing to remove
            raise


def _refuse(storage, kind, reason, verified=False):
    _remove(storage, NAMES[kind] + ".new")
    raise UpdateRefused(reason[:48], verified)


def add_chunk(storage, kind, version, total, offset, chunk):
    """Add the bytes `chunk` at `offset` of the object (`version`, `total` bytes long) a fetch
    reply carried; True once the partial holds all of it. A chunk that does not follow what is
    held (another version, another offset) starts the partial again: the next fetch asks from
    partial(). An object too large for its kind, or whose header says otherwise than the reply,
    is refused (UpdateRefused)."""
    name = NAMES[kind] + ".new"
    if version < 1 or not HEADER_LEN < total <= MAX_TOTAL[kind]:
        _refuse(storage, kind, "object of %d bytes refused" % total)
    # an empty chunk only at the end: a cut before install() left the partial whole
    if offset + len(chunk) > total or not chunk and offset < total:
        _refuse(storage, kind, "chunk outside the object")
    if offset == 0:
        head = bytes(chunk[:HEADER_LEN])
        if len(head) == HEADER_LEN and (head[:5] != _magic(kind) or int.from_bytes(
                head[8:12], "big") != version or int.from_bytes(head[12:16], "big") != total -
                HEADER_LEN):
            _refuse(storage, kind, "header does not match the offer")
        storage.replace(name, chunk)
        return len(chunk) == total
    if partial(storage, kind) != (version, offset):
        _remove(storage, name)
        return False
    if chunk:
        storage.append(name, chunk)
    return offset + len(chunk) == total


def _check_entries(piece, previous):
    """The last key of a piece of watchlist entries, checked strictly above `previous`; None if
    they are not in order or one has no terminals."""
    for at in range(0, len(piece), ENTRY):
        key = piece[at:at + ENTRY - 1]
        if key <= previous or not piece[at + ENTRY - 1]:
            return None
        previous = key
    return previous


def _check_policy(body):
    import json

    from .override import with_overrides
    from .policy import DEFAULT

    try:
        with_overrides(DEFAULT, json.loads(body.decode()))
    except ValueError as exc:  # UnicodeError too
        return "policy is not JSON: %s" % exc
    except (LostcardError, TypeError, AttributeError) as exc:  # what with_overrides refuses
        return str(exc)
    return None


def install(storage, kind, crypto, key, device_id):
    """Check the whole partial object of `kind` and swap it in; its version. UpdateRefused (the
    partial removed, the installed object untouched) unless it is what the collector made for
    this device, newer than the installed one, and its content passes the terminal's check."""
    name = NAMES[kind] + ".new"
    head = header(storage, name, _magic(kind))
    version, length = (u32(head, 8), u32(head, 12)) if head else (0, 0)
    if not version:
        _refuse(storage, kind, "not a %s object" % NAMES[kind])
    if HEADER_LEN + length > MAX_TOTAL[kind]:
        _refuse(storage, kind, "object of %d bytes refused" % (HEADER_LEN + length))
    running = installed(storage, kind)
    if version <= running:
        _refuse(storage, kind, "version %d not above %d" % (version, running))
    digest = hashlib.sha256()
    held = 0
    previous = b"" if kind == WATCHLIST and not length % ENTRY else None  # None: not in order
    body = b""
    while True:
        piece = storage.read_at(name, HEADER_LEN + held, PIECE)
        if not piece:
            break
        held += len(piece)
        if held > length:
            _refuse(storage, kind, "longer than its header says")
        digest.update(piece)
        if kind == POLICY:
            body += piece
        elif previous is not None:
            previous = _check_entries(piece, previous)
    if held < length:
        _refuse(storage, kind, "truncated: %d of %d bytes" % (held, length))
    mac = storage.read_at(name, HEADER_LEN - 16, 16)
    if not constant_time_equal(mac, object_mac(crypto, key, device_id, kind, version,
                                               digest.digest())):
        _refuse(storage, kind, "object MAC does not verify")
    problem = None
    if kind == POLICY:
        problem = _check_policy(body)
    elif length % ENTRY:
        problem = "watchlist length not a multiple of 16"
    elif previous is None:
        problem = "watchlist unsorted or an entry without terminals"
    if problem:
        _refuse(storage, kind, problem, True)
    storage.rename(name, NAMES[kind] + ".lcu")
    return version


def policy_body(storage):
    """The installed policy's JSON (bytes), None if none is installed."""
    if not installed(storage, POLICY):
        return None
    return storage.read(NAMES[POLICY] + ".lcu")[HEADER_LEN:]
