"""Issue-13 review, an attack kept fixed: a stolen terminal's keys make the collector redo the
whole ratchet per record.

docs/SECURITY.md promises key work "at most 255 ratchet steps per key from a cached checkpoint,
plus once per device and process the steps to the epoch, at most 65,535". But FleetKeys caches a
(device, incarnation) only after a record of it opened (confirm), and the incarnation comes from
the IV the attacker chooses: every record naming a fresh incarnation at epoch 65,535 cost 65,535
HKDF steps, in every request, under Collector.keys_lock (every other terminal's batch waits).
Measured on loopback: one 5.9 KB request of 100 such records = 20.7 s of collector CPU, and a
genuine terminal's sync_step during it fails (link down).
Fixed: each incarnation has its own ack key, a batch authenticates as one (device, incarnation),
and a record naming another incarnation is quarantined before any key is derived.
"""

import os

from lostcard import cose, keys, protocol
from lostcard.collector import fleet
from lostcard.collector.intake import NotAuthenticated
from lostcard_cpython import collector as collector_module, crypto
from lostcard_cpython.collector_store import SqliteStore

SECRET = bytes(range(40, 72))
DEVICE = "T-R13-CPU"


def _forged(incarnation):
    """A record under a made-up key naming `incarnation` at the last epoch: what anyone holding
    the device's ack key (a stolen terminal) can put in an authenticated batch."""
    seq = incarnation << fleet.INCARNATION_SHIFT
    return [seq, cose.seal(crypto.aead(bytes(16)), b"\xa0", keys.iv(crypto, DEVICE, seq),
                           kid=keys.kid(DEVICE, keys.MAX_EPOCH - 1))]


def test_key_work_per_authenticated_request_is_bounded_as_documented(tmp_path, monkeypatch):
    store = SqliteStore(str(tmp_path / "collector.db"))
    collector = collector_module.Collector(store, SECRET)
    calls = [0]
    hkdf = crypto.hkdf_sha256

    def counted(*args):
        calls[0] += 1
        return hkdf(*args)

    monkeypatch.setattr(crypto, "hkdf_sha256", counted)
    ack = fleet.ack_key(crypto, SECRET, DEVICE, 1000)  # the thief holds incarnation 1000's
    for request in range(2):  # two requests of two records each, four fresh incarnations
        items = [_forged(1000 + 2 * request + i) for i in range(2)]
        nonce = os.urandom(16)
        digest = protocol.digest(items)
        mac = protocol.request_mac(crypto, ack, DEVICE, nonce, 3, digest, None)
        try:
            _, incarnation = collector.authenticate(DEVICE, nonce, 3, items, digest, None, mac)
        except NotAuthenticated:  # a batch of another incarnation: refused outright
            assert request == 1
            continue
        assert collector.ingest(DEVICE, incarnation, 3, items, None) == (items[-1][0], 2)
    store.close()
    # documented bound: the steps to the epoch once per device and process, then at most
    # CHECKPOINT - 1 steps (+ root, chain(0), record key) per record
    allowed = keys.MAX_EPOCH + 4 * (fleet.FleetKeys.CHECKPOINT + 2)
    assert calls[0] <= allowed, "%d HKDF steps for 4 forged records (documented bound %d)" % (
        calls[0], allowed)
