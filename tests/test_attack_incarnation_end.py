"""Issue-13 review, an attack kept fixed: a terminal whose sequence numbers pass its incarnation's
2**24 loses records.

The collector reads the incarnation from the sequence number (seq >> 24), and nothing on the
terminal stops at the end of its range: the first record numbered (i + 1) << 24 is sealed under
incarnation i's key but looked up under i + 1's, fails to open, is quarantined and acknowledged,
and the terminal deletes it. (An incarnation-0 queue after 16.7 M incidents; any terminal whose
reservations skipped far enough.) Reproduced by provisioning a queue two numbers before the end.
"""

import sqlite3

import cbor2
import pytest

from lostcard.collector import fleet
from lostcard_cpython import crypto, scenarios
from lostcard_cpython.terminal import Terminal
from test_sync_security import SECRET, collector  # noqa: F401 (the fixture)

EVENTS = [item["event"] for item in scenarios.load()]



@pytest.mark.parametrize("incarnation", [0, 77])
def test_no_record_is_lost_at_the_end_of_an_incarnation(collector, tmp_path, incarnation):
    device = "T-R13-END-%d" % incarnation
    root = fleet.device_root(crypto, SECRET, device)
    first = ((incarnation + 1) << fleet.INCARNATION_SHIFT) - 2
    (tmp_path / "prov.cbor").write_bytes(cbor2.dumps({
        1: device, 2: fleet.first_chain(crypto, root, incarnation),
        3: fleet.ack_key(crypto, SECRET, device, incarnation), 4: first}))
    t = Terminal({"device_id": device, "queue_dir": str(tmp_path / "queue"),
                  "token_key": "5a" * 32, "provisioning": str(tmp_path / "prov.cbor"),
                  "collector_url": collector.url, "sync_spread_s": 0})
    for event in EVENTS[:6]:
        try:
            t.on_decline(event)
        except Exception:
            pass  # refusing to seal past the range would be a fix; losing records is not
    for _ in range(50):
        t._next_try = 0.0
        t.sync_step()
    with sqlite3.connect(collector.db) as con:
        quarantined = con.execute("SELECT reason FROM quarantine").fetchall()
    assert quarantined == [], "acknowledged, and the terminal keeps %d of 6: %r" % (
        t.status()["queued"], quarantined)
