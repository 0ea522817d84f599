"""Keys: one fleet secret at the collector, a one-way ratchet of epoch keys on each terminal.

    device root   = HKDF(fleet secret, salt "lostcard device v1", info device id)
    chain(0)      = HKDF(device root, info "lostcard epoch 0")
    chain(e + 1)  = HKDF(chain(e), info "lostcard ratchet")        one way: e+1 from e, never back
    record key(e) = HKDF(chain(e), info "lostcard record key")[:16] AES-128 for COSE
    kid           = device id (UTF-8) || e (2 bytes, big-endian)
    IV            = HMAC(device id, "lostcard iv")[:5] || sequence number (8 bytes, big-endian)

A terminal is provisioned with chain(0) (never the fleet secret) and holds only the current chain
key: after `advance()` it cannot recompute an earlier record key, so a stolen terminal cannot open
the records it already wrote. The collector derives any epoch from the fleet secret. The IV repeats
under a key only if a sequence number repeats, which the queue prevents (docs/SECURITY.md).

`crypto` is the platform's module: hmac_sha256(key, msg), hkdf_sha256(ikm, salt, info, length).
"""

from .errors import LostcardError

MAX_EPOCH = 1 << 16  # bounds the collector's work for a forged kid; see docs/SECURITY.md
MAX_DEVICE_ID = 32
MAX_SEQ = 1 << 64


class KeyScheduleError(LostcardError):
    """A device id, kid, epoch or sequence number outside what the key schedule allows."""


def check_device_id(device_id):
    if not isinstance(device_id, str) or not 0 < len(device_id) <= MAX_DEVICE_ID:
        raise KeyScheduleError("device id must be 1..%d characters" % MAX_DEVICE_ID)
    for ch in device_id:
        if not " " < ch <= "~":
            raise KeyScheduleError("device id must be printable ASCII without spaces")
    return device_id.encode()


def device_root(crypto, fleet_secret, device_id):
    return crypto.hkdf_sha256(fleet_secret, b"lostcard device v1", check_device_id(device_id), 32)


def first_chain(crypto, root):
    return crypto.hkdf_sha256(root, b"", b"lostcard epoch 0", 32)


def next_chain(crypto, chain):
    return crypto.hkdf_sha256(chain, b"", b"lostcard ratchet", 32)


def record_key(crypto, chain):
    return crypto.hkdf_sha256(chain, b"", b"lostcard record key", 16)


def kid(device_id, epoch):
    if not 0 <= epoch < MAX_EPOCH:
        raise KeyScheduleError("epoch out of range")
    return check_device_id(device_id) + epoch.to_bytes(2, "big")


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


def iv(crypto, device_id, seq):
    if not 0 <= seq < MAX_SEQ:
        raise KeyScheduleError("sequence number out of range")
    return crypto.hmac_sha256(check_device_id(device_id), b"lostcard iv")[:5] + seq.to_bytes(8, "big")


class DeviceKeys:
    """A terminal's side of the schedule: the current epoch's chain key and nothing older."""

    def __init__(self, crypto, device_id, epoch, chain):
        check_device_id(device_id)
        self.crypto = crypto
        self.device_id = device_id
        self.epoch = epoch
        self._chain = bytearray(chain)
        self.key = bytearray(record_key(crypto, bytes(chain)))

    def kid(self):
        return kid(self.device_id, self.epoch)

    def advance(self):
        """Move to the next epoch, overwriting the old chain and record keys in place.

        Copies made while deriving (HKDF's intermediate values, an AES object's key) are garbage
        the heap reuses soon but does not wipe; see docs/SECURITY.md.
        """
        if self.epoch + 1 >= MAX_EPOCH:
            raise KeyScheduleError("epoch range exhausted")
        following = next_chain(self.crypto, bytes(self._chain))
        self._chain[:] = following
        self.key[:] = record_key(self.crypto, following)
        self.epoch += 1

    def chain(self):
        """The current chain key, for the queue to persist with the epoch."""
        return bytes(self._chain)


class FleetKeys:
    """The collector's side: any device's record key for any epoch, from the fleet secret.

    Deriving epoch e costs e ratchet steps from the last epoch that opened a record of the device
    (from 0 for a device not yet seen), and a kid more than MAX_AHEAD epochs beyond that is
    refused before any work. `anchors` ({device id: epoch}) restores what a collector learnt
    before a restart (their chains are derived again on first use). `budget`, when set, caps the
    ratchet steps until it is set again: a collector gives each request one, so forged kids cost
    a bounded amount of work per request and change no state.
    """

    MAX_AHEAD = 1024

    def __init__(self, crypto, fleet_secret, anchors=None):
        self.crypto = crypto
        self._secret = fleet_secret
        self._known = {}  # device id -> (epoch, chain or None) of the last record that opened
        for device_id in anchors or {}:
            self._known[device_id] = (anchors[device_id], None)
        self._derived = None  # (device id, epoch, chain, key) of the last derivation
        self.budget = None

    def _next(self, chain):
        if self.budget is not None:
            if self.budget <= 0:
                raise KeyScheduleError("derivation budget of this request spent")
            self.budget -= 1
        return next_chain(self.crypto, chain)

    def record_key(self, device_id, epoch):
        if not 0 <= epoch < MAX_EPOCH:
            raise KeyScheduleError("epoch out of range")
        derived = self._derived
        if derived is not None and derived[0] == device_id and derived[1] == epoch:
            return derived[3]  # the same epoch again: a batch's records mostly share one
        start, chain = self._known.get(device_id, (0, None))
        if epoch - start > self.MAX_AHEAD:
            raise KeyScheduleError("epoch %d is too far beyond the device's last known epoch"
                                   % epoch)
        if chain is None or start > epoch:  # older records arriving late restart from the root
            start, chain = 0, first_chain(self.crypto,
                                          device_root(self.crypto, self._secret, device_id))
        for _ in range(epoch - start):
            chain = self._next(chain)
        key = record_key(self.crypto, chain)
        self._derived = (device_id, epoch, chain, key)
        return key

    def confirm(self, device_id, epoch):
        """A record of `device_id` sealed in `epoch` opened: derive later epochs from here."""
        derived = self._derived
        if derived is not None and derived[0] == device_id and derived[1] == epoch:
            known = self._known.get(device_id)
            if known is None or known[0] <= epoch:
                self._known[device_id] = (epoch, derived[2])

    def anchors(self):
        """{device id: last epoch that opened a record}, for a collector to persist."""
        out = {}
        for device_id in self._known:
            out[device_id] = self._known[device_id][0]
        return out


def ack_key(crypto, fleet_secret, device_id):
    """The key of a device's acknowledgements: the collector MACs each ack with it, the device
    checks it before forgetting anything (docs/SYNC.md). Provisioned with chain(0)."""
    return crypto.hkdf_sha256(fleet_secret, b"lostcard ack v1", check_device_id(device_id), 32)
