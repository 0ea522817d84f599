"""Issue-13 review, an attack kept fixed: two lanes the collector never acknowledges hold back the
third for ever.

Uploader._batch moves only the lane that failed *last* to the end: lane 1 fails, lane 2 is
tried and fails, so lane 1 is tried again, then 2, then 1... and lane 3 is never sent.
"""

import os

import cbor2

from lostcard import protocol
from lostcard.errors import SyncError
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard_cpython import crypto, provision, scenarios
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.terminal import Terminal

SECRET = bytes(range(40, 72))
EVENTS = [item["event"] for item in scenarios.load()]


def test_two_lanes_that_always_fail_hold_back_no_third(tmp_path):
    provision.write(str(tmp_path / "prov.cbor"), SECRET, "T-R13-LANES")
    t = Terminal({"device_id": "T-R13-LANES", "queue_dir": str(tmp_path / "queue"),
                  "token_key": "5a" * 32, "provisioning": str(tmp_path / "prov.cbor"),
                  "collector_url": "http://127.0.0.1:9", "sync_spread_s": 0})
    for event in EVENTS[:60]:
        t.on_decline(event)
    queue = Queue(DirStorage(t.storage.path), writable=True)
    assert all(list(queue.pending(lane)) for lane in (1, 2, 3))

    class LanesOneAndTwoFail:  # a collector failing on a poison record in lanes 1 and 2
        def post(self, path, body):
            batch = cbor2.loads(body)
            if batch[3] != 3:
                return 500, b""
            acked = batch[4][-1][0]
            return 200, cbor2.dumps({1: acked, 2: protocol.ack_mac(
                crypto, queue.ack_key, batch[1], batch[2], acked, protocol.digest(batch[4]))})

    uploader = Uploader(queue, LanesOneAndTwoFail(), crypto, os.urandom, queue.device_id,
                        queue.ack_key)
    for _ in range(30):
        try:
            uploader.step()
        except SyncError:
            pass
    assert list(queue.pending(3)) == [], "lane 3 never sent"
