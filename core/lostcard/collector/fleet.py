"""The collector's side of the key schedule (docs/SECURITY.md): every device's record keys and
ack keys, from the fleet secret. Apart from keys.py because a terminal never holds the fleet
secret: the device bundle leaves this module out.
"""

from ..keys import MAX_EPOCH, KeyScheduleError, check_device_id, device_root, first_chain, \
    next_chain, record_key


class KeyNotDerivableNow(KeyScheduleError):
    """A key this collector will derive, but not now: the request's budget is spent, or the epoch
    is too far beyond the device's last one that opened a record. Not the record's fault: the
    terminal sends it again and it opens once earlier epochs have."""


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
                raise KeyNotDerivableNow("derivation budget of this request spent")
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
            raise KeyNotDerivableNow("epoch %d is too far beyond the device's last known epoch"
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
