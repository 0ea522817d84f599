"""Keys: one fleet secret at the collector, a one-way ratchet of epoch keys on each terminal.

    device root   = HKDF(fleet secret, salt "lostcard device v1", info device id)
    chain(0)      = HKDF(device root, info "lostcard epoch 0" [|| incarnation, 4 bytes BE if > 0])
    chain(e + 1)  = HKDF(chain(e), info "lostcard ratchet")        one way: e+1 from e, never back
    record key(e) = HKDF(chain(e), info "lostcard record key")[:16] AES-128 for COSE
    kid           = device id (UTF-8) || e (2 bytes, big-endian)
    IV            = HMAC(device id, "lostcard iv")[:5] || sequence number (8 bytes, big-endian)

A terminal is provisioned with chain(0) (never the fleet secret) and its first sequence number,
incarnation << 24: a terminal provisioned again under the same device id gets a new random
incarnation, so new keys and new nonces (docs/SECURITY.md). The terminal needs neither the
incarnation nor the root: the provisioning host and the collector derive them
(lostcard.collector.fleet). It holds only the current chain key: after `advance()` it cannot
recompute an earlier record key, so a stolen terminal cannot open the records it already wrote.
The IV repeats under a key only if a sequence number repeats, which the queue prevents.

`crypto` is the platform's crypto module (Crypto in lostcard/platform.py).
"""

from .errors import LostcardError

MAX_EPOCH = 1 << 16  # the kid's 2 bytes; a terminal provisioned again starts a new range
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


def next_chain(crypto, chain):
    return crypto.hkdf_sha256(chain, b"", b"lostcard ratchet", 32)


def record_key(crypto, chain):
    return crypto.hkdf_sha256(chain, b"", b"lostcard record key", 16)


def kid(device_id, epoch):
    if not 0 <= epoch < MAX_EPOCH:
        raise KeyScheduleError("epoch out of range")
    return check_device_id(device_id) + epoch.to_bytes(2, "big")


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
