"""Issue-13 review, an attack kept fixed: provisioning a device id again does not revoke the old
terminal's ack key.

fleet.ack_key depends on the device id only, so every incarnation of a device shares it. Whoever
stole the old terminal (its queue state holds the ack key) and sits on the new terminal's link
answers its batches with acknowledgements that verify: the new terminal forgets records the
collector never received. The same key also MACs requests (and gap counts) as the new terminal.
"""

import os

import cbor2

from lostcard import protocol
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard_cpython import crypto, provision, scenarios
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.terminal import Terminal

SECRET = bytes(range(40, 72))
DEVICE = "T-R13-STOLEN"
EVENTS = [item["event"] for item in scenarios.load()]


def _boot(home):
    home.mkdir()
    provision.write(str(home / "prov.cbor"), SECRET, DEVICE)  # `lostcard provision`, as documented
    return Terminal({"device_id": DEVICE, "queue_dir": str(home / "queue"), "token_key": "5a" * 32,
                     "provisioning": str(home / "prov.cbor"),
                     "collector_url": "http://127.0.0.1:9", "sync_spread_s": 0})


def test_the_old_terminals_ack_key_cannot_make_the_new_terminal_forget(tmp_path):
    stolen = Queue(DirStorage(_boot(tmp_path / "old").storage.path)).ack_key  # from its flash
    new = _boot(tmp_path / "new")  # the replacement, provisioned again under the same id
    for event in EVENTS[:10]:
        new.on_decline(event)
    queue = Queue(DirStorage(new.storage.path), writable=True)
    held = sorted(s for lane in (1, 2, 3) for s, _ in queue.pending(lane))
    assert held

    class ForgingLink:  # the thief on the new terminal's link; the collector never sees a byte
        def post(self, path, body):
            batch = cbor2.loads(body)
            acked = batch[4][-1][0]
            mac = protocol.ack_mac(crypto, stolen, batch[1], batch[2], acked,
                                   protocol.digest(batch[4]))
            return 200, cbor2.dumps({1: acked, 2: mac, 3: 0})

    uploader = Uploader(queue, ForgingLink(), crypto, os.urandom, queue.device_id, queue.ack_key)
    for _ in range(len(held)):
        try:
            uploader.step()
        except Exception:
            pass
    left = sorted(s for lane in (1, 2, 3) for s, _ in queue.pending(lane))
    assert left == held, "forgotten without reaching the collector: %d of %d" % (
        len(held) - len(left), len(held))
