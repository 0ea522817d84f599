"""The queue's state file: what a queue must remember besides its segments (docs/QUEUE.md, "Files").

A CBOR map under the name STATE, only ever replaced whole (atomically, by the storage): the
sequence numbers reserved, the epoch and its chain key, each lane's ack cursor, what was evicted
or found corrupt, and the device's sync identity.
"""

from . import cbor
from .errors import LostcardError

STATE = "state"
RESERVE = 32  # sequence numbers reserved per state write
# state keys, in docs/QUEUE.md's order
S_VERSION, S_RESERVED, S_EPOCH, S_CHAIN, S_CURSORS, S_EVICTED, S_CORRUPT, S_SEEN_CORRUPT, \
    S_DEVICE, S_ACK_KEY, S_RETIRED, S_LOST = range(1, 13)


class QueueError(LostcardError):
    """The queue cannot be opened or used (no state, read-only, or a storage failure)."""


def provision(storage, chain, first_seq=1, device_id=None, ack_key=None):
    """Create the state of a new queue (epoch 0, `chain` = the device's chain(0)); the
    device id and ack key, when given, are kept for the sync (docs/SYNC.md).

    Refused where a queue has been: starting its sequence numbers and keys over would reuse
    (key, IV) pairs. A terminal provisioned again gets a new provisioning file (a new
    incarnation: docs/SECURITY.md) and an empty directory.
    """
    used = False
    for name in storage.list():  # to the end: a dropped listing keeps the directory open
        used = used or name == STATE or name.endswith(".seg")
    if used:
        raise QueueError("queue already provisioned")
    if not 1 <= first_seq < 1 << 56:  # leaves 2**56 numbers below a segment name's 2**60
        raise QueueError("first sequence number out of range")
    state = {S_VERSION: 1, S_RESERVED: first_seq, S_EPOCH: 0, S_CHAIN: bytes(chain),
             S_CURSORS: [0, 0, 0], S_EVICTED: [0, 0, 0], S_CORRUPT: 0, S_SEEN_CORRUPT: {},
             S_RETIRED: [0] * 6, S_LOST: 0}  # (absent in a queue of an older release)
    if device_id is not None:
        state[S_DEVICE] = device_id
        state[S_ACK_KEY] = bytes(ack_key)
    storage.replace(STATE, cbor.encode(state))


def load(storage):
    """The state on flash, with every key the queue needs; QueueError if it is not one."""
    try:
        state = cbor.decode(storage.read(STATE))
        if state[S_VERSION] != 1:
            raise QueueError("queue state version %r is not supported" % state[S_VERSION])
        for key in (S_RESERVED, S_EPOCH, S_CHAIN, S_CURSORS, S_EVICTED, S_CORRUPT,
                    S_SEEN_CORRUPT):
            state[key]
    except (LostcardError, KeyError, TypeError, IndexError) as exc:
        raise QueueError("queue state unreadable: %s" % (exc,))
    return state


def save(storage, state, written):
    """Replace the state file with `state`; `written` is (S_RESERVED, S_EPOCH) of the state
    this queue last wrote or read there. Returns them for `state`."""
    # another queue on this directory (a second process, a second Terminal) would hand out
    # the same sequence numbers under the same key: refuse to write over what it wrote
    try:
        on_flash = cbor.decode(storage.read(STATE))
        moved = on_flash[S_RESERVED] != written[0] or on_flash[S_EPOCH] != written[1]
    except (LostcardError, KeyError, TypeError, IndexError):
        moved = True
    if moved:
        raise QueueError("the queue state changed on flash: another writer on this queue")
    storage.replace(STATE, cbor.encode(state))
    return state[S_RESERVED], state[S_EPOCH]


def count_corrupt(state, found):
    """Count each corrupt frame once, however often its segment is read again: `found` is
    {segment name: corrupt frames in it} from this scan; True if the state changed."""
    seen = state[S_SEEN_CORRUPT]
    changed = False
    for name in found:
        new = found[name] - seen.get(name, 0)
        if new > 0:
            state[S_CORRUPT] += new
            seen[name] = found[name]
            changed = True
    for name in list(seen):
        if name not in found:  # the segment is gone: nothing more to remember of it
            del seen[name]
            changed = True
    return changed
