"""Sync against a real collector process on 127.0.0.1, through a proxy that injects faults, on
each backend (SQLite, and PostgreSQL: tests/pg.py).

After every fault: each incident is stored exactly once, the device forgot only what the
collector acknowledged, and the collector still serves. The MicroPython client runs against
the same collector.
"""

import os
import re

import cbor2
import httpx
import pytest

from lostcard import protocol, record, sealing
from lostcard.collector import fleet
from lostcard.decision import classify
from lostcard.errors import SyncError
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard_cpython import crypto, scenarios
from lostcard_cpython.local_collector import LocalCollector
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.transport import HttpTransport
from lostcard.collector.fleet import device_root, first_chain
from fault_proxy import FaultProxy
from micropython_process import micropython
from pg import query

SECRET = bytes(range(100, 132))
ITEMS = scenarios.load()


def _device(tmp_path, device_id, count=12, items=None):
    """A provisioned terminal queue holding `count` sealed incidents (or those of `items`);
    (queue, appended seqs)."""
    path = str(tmp_path / device_id)
    chain = first_chain(crypto, device_root(crypto, SECRET, device_id))
    Queue.provision(DirStorage(path), chain, device_id=device_id,
                    ack_key=fleet.ack_key(crypto, SECRET, device_id))
    q = Queue(DirStorage(path), lambda e, c: sealing.Sealer(crypto, device_id, e, c),
              rotate_bytes=800)
    seqs = []
    for item in ITEMS[:count] if items is None else items:
        d = classify(item["event"])
        seqs.append(q.append(record.build(item["event"], d, device_id, 0, crypto, b"t" * 32),
                             d["priority"]))
    return q, seqs


def _uploader(q, url, timeout=1.0):
    return Uploader(q, HttpTransport(url, timeout=timeout), crypto, os.urandom, q.device_id,
                    q.ack_key, batch_bytes=700)


def _body(q, items, lane=3, gaps=None, nonce=None):
    """A batch of `items` as q's device makes it: its request MAC under the device's ack key."""
    gaps = q.gaps() if gaps is None else gaps
    return protocol.encode_batch(crypto, q.ack_key, q.device_id, nonce or os.urandom(16), lane,
                                 items, gaps, protocol.digest(items))


def _pending(q):
    return sorted(seq for lane in (1, 2, 3) for seq, _ in q.pending(lane))


def _stored(db, device):
    return [row[0] for row in query(db, "SELECT seq FROM incidents WHERE device = ? ORDER BY seq",
                                    (device,))]


def _check(env, q, seqs):
    stored = _stored(env["db"], q.device_id)
    assert len(stored) == len(set(stored))  # once
    pending = _pending(q)
    for seq in seqs:  # nothing lost: what the device forgot, the collector holds
        assert seq in pending or seq in stored, seq
    assert httpx.get(env["collector"].url + "/v1/health", timeout=5).status_code == 200
    return stored, pending


@pytest.fixture
def env(tmp_path, new_db):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    db = new_db()
    collector = LocalCollector(db, secret).start()
    proxy = FaultProxy(collector.port)
    yield {"collector": collector, "proxy": proxy, "db": db, "tmp": tmp_path}
    proxy.close()
    collector.stop()


def _drain(q, url):
    return _uploader(q, url).run(lambda s: None, lambda a, b: 0.0, max_failures=3)


def test_a_backlog_uploads_once_urgent_lanes_first(env):
    q, seqs = _device(env["tmp"], "T-SYNC-1")
    lanes = {lane: [s for s, _ in q.pending(lane)] for lane in (1, 2, 3)}
    assert lanes[3] and (lanes[1] or lanes[2])
    order = []
    up = _uploader(q, env["proxy"].url)
    up.progress = lambda done, left: order.append(left)
    counts = []  # records left in lanes 1, 2, 3 after each batch
    step_once = up.step

    def step():
        done = step_once()
        counts.append([len(list(q.pending(lane))) for lane in (1, 2, 3)])
        return done
    up.step = step
    assert up.run(lambda s: None, lambda a, b: 0.0) == len(seqs)
    assert len(counts) > 2
    for left_1, left_2, left_3 in counts:  # no routine record went before an urgent one
        if left_3 < len(lanes[3]):
            assert left_1 == 0 and left_2 == 0
    stored, pending = _check(env, q, seqs)
    assert stored == sorted(seqs) and pending == []
    assert order == sorted(order, reverse=True) and order[-1] == 0


@pytest.mark.parametrize("fault", ["die_before_commit:1", "die_after_commit:1"])
def test_collector_killed_mid_batch_and_restarted(env, fault):
    env["collector"].stop()
    env["collector"].start(fault)
    q, seqs = _device(env["tmp"], "T-SYNC-2")
    with pytest.raises(SyncError):
        _uploader(q, env["proxy"].url).step()
    env["collector"].wait_dead()
    assert _pending(q) == sorted(seqs)  # nothing acknowledged, nothing forgotten
    env["collector"].start()
    _drain(q, env["proxy"].url)
    stored, pending = _check(env, q, seqs)
    assert stored == sorted(seqs) and pending == []


@pytest.mark.parametrize("mode", ["reset_before", "reset_after", "slow"])
def test_connection_reset_or_too_slow_loses_and_duplicates_nothing(env, mode):
    q, seqs = _device(env["tmp"], "T-SYNC-3")
    env["proxy"].mode, env["proxy"].delay = mode, 2.5  # the client gives up after 1 s
    with pytest.raises(SyncError):
        _uploader(q, env["proxy"].url).step()
    assert _pending(q) == sorted(seqs)
    _drain(q, env["proxy"].url)
    stored, pending = _check(env, q, seqs)
    assert stored == sorted(seqs) and pending == []


def test_the_same_batch_twice_is_stored_once(env):
    q, seqs = _device(env["tmp"], "T-SYNC-4", count=3)
    body = _body(q, [[s, b] for s, b in q.pending(3)])
    first = httpx.post(env["collector"].url + "/v1/batch", content=body)
    second = httpx.post(env["collector"].url + "/v1/batch", content=body)
    assert first.status_code == second.status_code == 200
    assert cbor2.loads(first.content)[1] == cbor2.loads(second.content)[1]
    assert len(_stored(env["db"], q.device_id)) == len([s for s, _ in q.pending(3)])


def _flip_mac(body):
    reply = cbor2.loads(body)
    reply[2] = bytes([reply[2][0] ^ 1]) + reply[2][1:]
    return cbor2.dumps(reply)


def test_forged_replayed_and_other_device_acks_change_nothing(env):
    proxy = env["proxy"]
    other, _ = _device(env["tmp"], "T-SYNC-OTHER", count=2)
    _uploader(other, proxy.url).step()  # a genuine ack, for another device and another request
    other_reply = proxy.replies[-1]
    q, seqs = _device(env["tmp"], "T-SYNC-5")
    for transform in (_flip_mac, lambda body: other_reply,
                      lambda body: cbor2.dumps({1: 10 ** 6, 2: b"\x00" * 16, 3: 0})):
        proxy.mode, proxy.transform = "change", transform
        with pytest.raises(SyncError):
            _uploader(q, proxy.url).step()
        assert _pending(q) == sorted(seqs)  # nothing forgotten
    first_reply = proxy.replies[-1]  # the collector's genuine reply to an earlier request
    proxy.mode, proxy.transform = "change", lambda body: first_reply
    with pytest.raises(SyncError):
        _uploader(q, proxy.url).step()  # a replayed ack: its nonce is not ours
    assert _pending(q) == sorted(seqs)
    _drain(q, proxy.url)
    stored, pending = _check(env, q, seqs)
    assert stored == sorted(seqs) and pending == []


def test_junk_bodies_get_clear_4xx_and_the_collector_serves_on(env):
    url = env["collector"].url + "/v1/batch"
    q, _ = _device(env["tmp"], "T-SYNC-6", count=1)
    good = _body(q, [[s, b] for s, b in q.pending(3)])
    for body, status in ((good[:-5], 400), (b"\xff" * 100, 400), (b"", 400),
                         (cbor2.dumps({1: "T-1", 2: b"x", 3: 1, 4: []}), 400),
                         (cbor2.dumps({1: "bad id", 2: bytes(16), 3: 1, 4: []}), 400),
                         (cbor2.dumps({1: "T-1", 2: bytes(16), 3: 1, 4: [[1, b"x"]] * 101}), 400),
                         (b"\xa0" * (70 * 1024), 413)):
        reply = httpx.post(url, content=body)
        assert reply.status_code == status, (body[:20], reply.text)
        assert "error" in reply.json()
    assert httpx.post(url, content=good).status_code == 200


def test_records_of_another_device_or_tampered_are_quarantined_and_acknowledged(env):
    q, seqs = _device(env["tmp"], "T-SYNC-7", count=3)
    stranger, _ = _device(env["tmp"], "T-SYNC-8", count=1)
    items = [[s, b] for s, b in q.pending(3)]
    assert len(items) == 3
    tampered = bytearray(items[0][1])
    tampered[-1] ^= 1
    foreign = [b for _, b in stranger.pending(3)][0]
    body = _body(q, [[items[0][0], bytes(tampered)], [items[1][0], foreign],
                                  items[2]])
    reply = httpx.post(env["collector"].url + "/v1/batch", content=body)
    assert reply.status_code == 200
    answer = cbor2.loads(reply.content)
    assert answer[1] == items[2][0] and answer[3] == 2  # through the batch, 2 quarantined
    reasons = [r[0] for r in query(env["db"], "SELECT reason FROM quarantine")]
    assert any("authentication failed" in r for r in reasons)
    assert any("another device" in r for r in reasons)
    assert _stored(env["db"], q.device_id) == [items[2][0]]


def test_known_gaps_are_stored(env):
    q, seqs = _device(env["tmp"], "T-SYNC-9", count=2)
    q.state[6] = [0, 1, 7]  # as if the queue had evicted records
    q.state[7] = 2
    _drain(q, env["proxy"].url)
    row, = query(env["db"], "SELECT evicted_1, evicted_2, evicted_3, corrupt FROM gaps "
                            "WHERE device = ?", (q.device_id,))
    assert row == (0, 1, 7, 2)


@pytest.mark.parametrize("fault", ["forged", "replayed", "other_device", "reset_before",
                                   "reset_after", "slow", "die_before_commit:1",
                                   "die_after_commit:1"])
def test_the_micropython_client_against_the_same_collector(env, bundle, fault):
    proxy = env["proxy"]
    if fault in ("replayed", "other_device"):  # a genuine reply to capture first
        other, _ = _device(env["tmp"], "T-SYNC-GIVER", count=1)
        _uploader(other, proxy.url).step()
        captured = proxy.replies[-1]
    q, seqs = _device(env["tmp"], "T-SYNC-MPY")
    path = str(env["tmp"] / "T-SYNC-MPY")
    if fault.startswith("die_"):
        env["collector"].stop()
        env["collector"].start(fault)
    elif fault == "forged":
        proxy.mode, proxy.transform = "change", _flip_mac
    elif fault in ("replayed", "other_device"):
        proxy.mode, proxy.transform = "change", lambda body: captured
    else:
        proxy.mode, proxy.delay = fault, 7.0  # the device's timeout is 5 s
    proc = micropython(bundle, ["-m", "sync_client", path, proxy.url, "1"])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "refused" in proc.stdout, proc.stdout
    assert _pending(Queue(DirStorage(path))) == sorted(seqs)  # nothing forgotten
    if fault.startswith("die_"):
        env["collector"].wait_dead()
        env["collector"].start()
    proc = micropython(bundle, ["-m", "sync_client", path, proxy.url, "20"])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "done" in proc.stdout, proc.stdout
    stored, pending = _check(env, Queue(DirStorage(path)), seqs)
    assert stored == sorted(seqs) and pending == []


def test_sync_and_collector_commands(env):
    import json
    import subprocess
    import sys

    q, seqs = _device(env["tmp"], "T-SYNC-CLI")
    path = str(env["tmp"] / "T-SYNC-CLI")

    def lostcard(*args):
        return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args],
                              capture_output=True, text=True, timeout=120)
    sync = lostcard("sync", "-v", "--dir", path, "--url", env["collector"].url, "--now")
    assert sync.returncode == 0, sync.stderr
    assert "synced %d incidents; 0 left" % len(seqs) in sync.stderr
    # -v: each attempt and its outcome on one line; no progress bar off a terminal
    assert re.search(r"attempt 1: \d+ acknowledged", sync.stderr) and "\r" not in sync.stderr
    stats = json.loads(lostcard("collector", "stats", "--db", env["db"]).stdout)
    assert stats["incidents"] == len(seqs) and stats["quarantined"] == 0
    rows = [json.loads(line) for line in lostcard(
        "collector", "incidents", "--db", env["db"], "--device", "T-SYNC-CLI").stdout.split("\n")
        if line]
    assert [r["seq"] for r in rows] == sorted(seqs)
    cause = rows[0]["cause"]
    only = lostcard("collector", "incidents", "--db", env["db"], "--cause", cause).stdout
    assert all(json.loads(line)["cause"] == cause for line in only.split("\n") if line)
    down = lostcard("sync", "--dir", path, "--url", "http://127.0.0.1:9", "--now",
                    "--max-failures", "1")
    assert down.returncode == 0  # nothing left to send: nothing to fail
    q2, _ = _device(env["tmp"], "T-SYNC-CLI2", count=1)
    down = lostcard("sync", "--dir", str(env["tmp"] / "T-SYNC-CLI2"), "--url",
                    "http://127.0.0.1:9", "--now", "--max-failures", "2")
    assert down.returncode == 1 and "sync stopped" in down.stderr
    assert _pending(Queue(DirStorage(str(env["tmp"] / "T-SYNC-CLI2")))) != []


def test_records_swapped_on_the_way_make_the_ack_fail_and_nothing_is_forgotten(env):
    q, seqs = _device(env["tmp"], "T-SYNC-MITM")
    proxy = env["proxy"]

    def swap(body):  # keep device, nonce and lane; replace the records with junk
        batch = cbor2.loads(body)
        batch[4] = [[batch[4][-1][0], b"junk"]]
        return cbor2.dumps(batch)
    proxy.mode, proxy.request_transform = "swap", swap
    with pytest.raises(SyncError):
        _uploader(q, proxy.url).step()
    assert _pending(q) == sorted(seqs)
    _drain(q, proxy.url)
    stored, pending = _check(env, q, seqs)
    assert stored == sorted(seqs) and pending == []


def test_gaps_come_only_from_batches_whose_records_open_and_never_shrink(env):
    q, seqs = _device(env["tmp"], "T-SYNC-GAPS", count=2)
    q.state[6] = [0, 1, 7]
    q.state[7] = 2
    _drain(q, env["proxy"].url)
    url = env["collector"].url + "/v1/batch"
    items = [[seqs[0], b"junk"]]
    forged = cbor2.dumps({1: "T-SYNC-GAPS", 2: bytes(16), 3: 1, 4: items, 5: [0, 0, 0, 0]})
    assert httpx.post(url, content=forged).status_code == 403  # no request MAC
    forged = cbor2.dumps({1: "T-SYNC-GAPS", 2: bytes(16), 3: 1, 4: items, 5: [9, 9, 9, 9],
                          6: bytes(16)})
    assert httpx.post(url, content=forged).status_code == 403  # a MAC that does not check
    # a genuine batch replayed with other counts: the MAC covers them
    genuine = cbor2.loads(_body(q, items, gaps=[0, 1, 7, 2]))
    genuine[5] = [50, 50, 50, 50]
    assert httpx.post(url, content=cbor2.dumps(genuine)).status_code == 403
    row, = query(env["db"], "SELECT evicted_1, evicted_2, evicted_3, corrupt FROM gaps "
                            "WHERE device = ?", ("T-SYNC-GAPS",))
    assert row == (0, 1, 7, 2)


def test_no_record_content_makes_the_collector_fail_or_block_the_device(env):
    q, _ = _device(env["tmp"], "T-SYNC-POISON", count=2)
    items = [[s, b] for s, b in q.pending(3)]
    poison = [bytes.fromhex("c5821b400000000000000001"), bytes.fromhex("d8648a"), b"\xf7",
              b"\xd0\x83\x43\xa1\x01\x0a\xa0\x40", b"\xff" * 300]
    batch = [[items[0][0], p] for p in poison]
    body = _body(q, batch)
    reply = httpx.post(env["collector"].url + "/v1/batch", content=body)
    assert reply.status_code == 200 and cbor2.loads(reply.content)[3] == len(poison)
    # a terminal provisioned again under the same id seals other content under the same
    # numbers: the collector keeps the first, quarantines the second and says why
    good = _body(q, items)
    assert httpx.post(env["collector"].url + "/v1/batch", content=good).status_code == 200
    chain = first_chain(crypto, device_root(crypto, SECRET, "T-SYNC-POISON"))
    event = ITEMS[50]["event"]
    other = [[items[0][0], sealing.Sealer(crypto, "T-SYNC-POISON", 0, chain).seal(
        record.build(event, classify(event), "T-SYNC-POISON", 0, crypto, b"t" * 32),
        items[0][0])]]
    assert other[0][1] != items[0][1]
    body = _body(q, other)
    assert cbor2.loads(httpx.post(env["collector"].url + "/v1/batch", content=body).content)[3] == 1
    reasons = [r[0] for r in query(env["db"], "SELECT reason FROM quarantine")]
    assert any("reused" in r for r in reasons)
    assert httpx.get(env["collector"].url + "/v1/health").json() == {"status": "ok"}


def test_backoff_is_exponential_with_full_jitter():
    from lostcard.sync import backoff_delay

    calls = []

    def uniform(low, high):  # the longest wait, and a record of the range asked for
        calls.append((low, high))
        return high

    delays = [backoff_delay(failures, uniform, base=1.0, cap=20.0) for failures in range(7)]
    assert calls == [(0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 16.0), (0, 20.0), (0, 20.0)]
    assert delays == [b for _, b in calls]
    assert backoff_delay(0, uniform, base=1.0, cap=20.0) == 1.0  # after a success: from the start
    assert backoff_delay(1000, uniform) == 300.0  # the default cap, however long the outage


def test_replies_that_are_not_maps_never_raise():
    for body in (b"\x80", b"\x01", b"\xa1\x01\x02", b"", b"\xff", cbor2.dumps({1: True, 2: b"x"})):
        assert protocol.verified_ack(crypto, b"k" * 32, "T-1", bytes(16), bytes(32), body) is None
