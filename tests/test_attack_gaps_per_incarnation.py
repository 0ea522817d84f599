"""Issue-13 review, an attack kept fixed: a terminal provisioned again has its lost records hidden
by its predecessor's counts.

The collector keeps one gaps row per device id and takes MAX of each count. A replacement
terminal (a new incarnation, new queue) counts its evictions from 0: until they pass the old
terminal's, `collector stats` and the report show none of them.
"""

import os
import sqlite3

import httpx

import cbor2

from lostcard import protocol
from lostcard.queue import Queue
from lostcard_cpython import crypto, provision, scenarios
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.terminal import Terminal
from test_sync_security import SECRET, collector  # noqa: F401 (the fixture)

DEVICE = "T-R13-GAPS"
EVENTS = [item["event"] for item in scenarios.load()]



def _sync_one_with_gaps(collector, home, gaps):
    """A genuine terminal (its own records, its own MAC) reporting `gaps` lost records."""
    home.mkdir()
    provision.write(str(home / "prov.cbor"), SECRET, DEVICE)
    t = Terminal({"device_id": DEVICE, "queue_dir": str(home / "queue"), "token_key": "5a" * 32,
                  "provisioning": str(home / "prov.cbor"), "collector_url": collector.url,
                  "sync_spread_s": 0})
    t.on_decline(EVENTS[0])
    q = Queue(DirStorage(t.storage.path))
    items = [[s, b] for lane in (1, 2, 3) for s, b in q.pending(lane)][:1]
    lane = next(lane for lane in (1, 2, 3) if list(q.pending(lane)))
    nonce = os.urandom(16)
    body = cbor2.dumps({1: DEVICE, 2: nonce, 3: lane, 4: items, 5: gaps,
                        6: protocol.request_mac(crypto, q.ack_key, DEVICE, nonce, lane,
                                                protocol.digest(items), gaps)})
    assert httpx.post(collector.url + "/v1/batch", content=body).status_code == 200


def test_the_replacements_evictions_are_counted(collector, tmp_path):
    _sync_one_with_gaps(collector, tmp_path / "old", [0, 0, 50, 0])
    _sync_one_with_gaps(collector, tmp_path / "new", [0, 0, 10, 0])  # provisioned again
    with sqlite3.connect(collector.db) as con:
        evicted = con.execute("SELECT SUM(evicted_3) FROM gaps").fetchone()[0]
    assert evicted == 60, "the replacement's 10 evictions are not counted (%d)" % evicted
