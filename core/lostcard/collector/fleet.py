"""The collector's and the provisioning host's side of the key schedule (docs/SECURITY.md):
every device's root, first chain, record keys and ack key, from the fleet secret. Apart from
keys.py because a terminal never holds the fleet secret: the device bundle leaves this module out.
"""

from ..keys import MAX_EPOCH, KeyScheduleError, check_device_id, next_chain, record_key

# a terminal's first sequence number is its incarnation << 24: 16.7 million incidents per
# incarnation, and sequence numbers stay below the queue's 2**56 (queue_state.provision)
INCARNATION_SHIFT = 24
MAX_INCARNATION = (1 << 31) - 1


def device_root(crypto, fleet_secret, device_id):
    return crypto.hkdf_sha256(fleet_secret, b"lostcard device v1", check_device_id(device_id), 32)


def first_chain(crypto, root, incarnation=0):
    """chain(0) of the device's `incarnation`; 0 is every terminal provisioned before
    incarnations existed, and keeps their derivation."""
    info = b"lostcard epoch 0"
    if incarnation:
        info += incarnation.to_bytes(4, "big")
    return crypto.hkdf_sha256(root, b"", info, 32)


def incarnation(seq):
    """The incarnation a sequence number belongs to: its high bits (keys.py)."""
    return seq >> INCARNATION_SHIFT


def parse_kid(kid_bytes):
    """(device id, epoch) named by a kid; KeyScheduleError if it names none."""
    if not isinstance(kid_bytes, bytes) or len(kid_bytes) < 3:
        raise KeyScheduleError("kid too short")
    epoch = int.from_bytes(kid_bytes[-2:], "big")
    name = kid_bytes[:-2]
    for b in name:  # printable ASCII only, so one device has exactly one kid per epoch
        if not 0x20 < b <= 0x7E:
            raise KeyScheduleError("kid does not name a device")
    return str(name, "ascii"), epoch


class FleetKeys:
    """Any device's record key for any epoch of any incarnation, from the fleet secret, in
    bounded work whatever the epoch: no terminal is ever locked out.

    The ratchet only goes forward, so epoch e costs e steps from chain(0). Each (device,
    incarnation) keeps the chain of every CHECKPOINT-th epoch it has passed: a key costs at most
    CHECKPOINT - 1 steps from the nearest checkpoint at or below it, plus, once per device and
    process, the steps to build the checkpoints up to it (at most MAX_EPOCH, ~0.2 s). The
    collector asks only for the (device, incarnation) whose request authenticated, so only a
    holder of that incarnation's ack key makes it build or keep anything. Late records of an
    old epoch cost no more than new ones, and a collector restarted, or restored
    from an old backup, only rebuilds them. At most MAX_HELD chains (32 bytes each) are kept;
    past that the cache starts again (a rebuild costs the same bounded work).
    """

    CHECKPOINT = 256
    MAX_HELD = 200000

    def __init__(self, crypto, fleet_secret):
        self.crypto = crypto
        self._secret = fleet_secret
        self._chains = {}  # (device id, incarnation) -> [chain(0), chain(256), chain(512), ...]
        self._held = 0  # chains in _chains
        self._derived = None  # (device id, incarnation, epoch, key) of the last derivation

    def record_key(self, device_id, incarnation, epoch):
        if not 0 <= epoch < MAX_EPOCH:
            raise KeyScheduleError("epoch out of range")
        if not 0 <= incarnation <= MAX_INCARNATION:
            raise KeyScheduleError("incarnation out of range")
        derived = self._derived
        if derived is not None and derived[:3] == (device_id, incarnation, epoch):
            return derived[3]  # the same epoch again: a batch's records mostly share one
        step = self.CHECKPOINT
        if self._held + epoch // step >= self.MAX_HELD:
            self._chains, self._held = {}, 0
        held = self._chains.get((device_id, incarnation))
        if held is None:
            held = [first_chain(self.crypto, device_root(self.crypto, self._secret, device_id),
                                incarnation)]
            self._chains[(device_id, incarnation)] = held
            self._held += 1
        while len(held) <= epoch // step:  # the checkpoints up to this epoch, once
            chain = held[-1]
            for _ in range(step):
                chain = next_chain(self.crypto, chain)
            held.append(chain)
            self._held += 1
        chain = held[epoch // step]
        for _ in range(epoch % step):
            chain = next_chain(self.crypto, chain)
        key = record_key(self.crypto, chain)
        self._derived = (device_id, incarnation, epoch, key)
        return key


def ack_key(crypto, fleet_secret, device_id, incarnation=0):
    """The key of a device's requests and acknowledgements: the device MACs each batch with it,
    the collector each ack, and each checks the other's (docs/SYNC.md). Provisioned with chain(0).
    Each incarnation has its own: a terminal provisioned again makes the old one's key (on a
    stolen terminal's flash) useless against the new one. Incarnation 0 keeps the first
    derivation, that of terminals provisioned before incarnations."""
    if not incarnation:
        return crypto.hkdf_sha256(fleet_secret, b"lostcard ack v1", check_device_id(device_id),
                                  32)
    return crypto.hkdf_sha256(fleet_secret, b"lostcard ack v2", check_device_id(device_id)
                              + incarnation.to_bytes(4, "big"), 32)
