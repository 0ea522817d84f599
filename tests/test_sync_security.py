"""The sync channel under attack and after long outages (docs/SYNC.md, docs/SECURITY.md), against
a real collector process: unauthenticated batches store nothing, no terminal is ever locked out,
a terminal provisioned again under its old id reuses no nonce and loses nothing, a lane the
collector never acknowledges holds back no other, and a queue written before all this syncs.
"""

import os
import shutil
import sqlite3

import cbor2
import httpx
import pytest

from lostcard import cbor, cose, keys, protocol, queue_state, record
from lostcard.decision import classify
from lostcard.errors import SyncError
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard_cpython import crypto, paths, provision, scenarios
from lostcard_cpython.local_collector import LocalCollector
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.terminal import Terminal
from lostcard_cpython.transport import HttpTransport

SECRET = bytes(range(40, 72))  # fixtures/queue-ee06986's
EVENTS = [item["event"] for item in scenarios.load()]


@pytest.fixture
def collector(tmp_path):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    running = LocalCollector(tmp_path / "collector.db", secret).start()
    yield running
    running.stop()


def _terminal(tmp_path, name, url, incarnation=None, **config):
    """A terminal provisioned as `lostcard provision` does (a new random incarnation)."""
    home = tmp_path / name
    home.mkdir()
    provision.write(str(home / "prov.cbor"), SECRET, name, incarnation)
    config = dict({"device_id": name, "queue_dir": str(home / "queue"), "token_key": "5a" * 32,
                   "provisioning": str(home / "prov.cbor"), "collector_url": url,
                   "sync_spread_s": 0}, **config)
    terminal = Terminal(config)
    terminal.test_config = config  # for the next boot
    return terminal


def _queue(terminal, writable=False):
    return Queue(DirStorage(terminal.storage.path), writable=writable)


def _pending(queue):
    return sorted(seq for lane in (1, 2, 3) for seq, _ in queue.pending(lane))


def _drain(terminal, rounds=200):
    for _ in range(rounds):
        terminal._next_try = 0.0  # no backoff waits in a test
        terminal.sync_step()
        if terminal.status()["queued"] == 0:
            return
    raise AssertionError("queue not drained: %r" % terminal.status())


def _stored(db, device):
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT seq FROM incidents WHERE device = ? ORDER BY "
                                          "seq", (device,))]


def _counts(db):
    with sqlite3.connect(db) as con:
        return tuple(con.execute("SELECT COUNT(*) FROM %s" % t).fetchone()[0]
                     for t in ("incidents", "quarantine", "gaps"))


def test_a_batch_its_device_did_not_make_stores_nothing(collector, tmp_path):
    t = _terminal(tmp_path, "T-AUTH-1", collector.url)
    for event in EVENTS[:6]:
        t.on_decline(event)
    q = _queue(t)
    items = [[s, b] for s, b in q.pending(3)][:2] or [[s, b] for s, b in q.pending(1)][:2]
    url = collector.url + "/v1/batch"

    def body(change=None):
        batch = {1: q.device_id, 2: os.urandom(16), 3: 3, 4: items, 5: [0, 0, 0, 0]}
        batch[6] = protocol.request_mac(crypto, q.ack_key, batch[1], batch[2], batch[3],
                                        protocol.digest(items), batch[5])
        batch.update(change or {})
        return cbor2.dumps({k: v for k, v in batch.items() if v is not None})

    before = _counts(collector.db)
    for forged in (body({6: None}), body({6: bytes(16)}), body({1: "T-MADE-UP"}),
                   body({5: [9, 9, 9, 9]}), body({3: 1}), body({4: items[:1]}),
                   body({1: "T-MADE-UP", 4: [[n, os.urandom(300)] for n in range(1, 90)]})):
        reply = httpx.post(url, content=forged)
        assert reply.status_code == 403 and "authenticated" in reply.json()["error"]
    assert _counts(collector.db) == before  # nothing stored, quarantined or counted
    assert httpx.post(url, content=body()).status_code == 200  # the genuine one
    # replayed as it was, it changes nothing: stored once, the same counts
    after = _counts(collector.db)
    assert httpx.post(url, content=body()).status_code == 200
    assert _counts(collector.db) == after


def _ten_thousand_epochs_on(terminal):
    """Move a terminal's key ratchet 10,000 epochs on, as 10,000 segment rotations would (the
    records of those epochs long evicted): 50 million routine declines offline, in 0.1 s."""
    storage = DirStorage(terminal.storage.path)
    state = queue_state.load(storage)
    chain = state[queue_state.S_CHAIN]
    for _ in range(10000):
        chain = keys.next_chain(crypto, chain)
    state[queue_state.S_EPOCH] += 10000
    state[queue_state.S_CHAIN] = chain
    storage.replace(queue_state.STATE, cbor.encode(state))


def test_a_terminal_back_after_10000_epochs_syncs_to_a_collector_old_or_new(collector, tmp_path):
    t = _terminal(tmp_path, "T-LONG-1", collector.url, rotate_bytes=600)
    config = t.test_config
    for event in EVENTS[:3]:
        t.on_decline(event)
    _drain(t)  # the collector knew it at epoch ~0
    _ten_thousand_epochs_on(t)
    t = Terminal(t.test_config)  # the next boot
    for event in EVENTS[:80]:
        t.on_decline(event)
    assert _queue(t).stats()["epoch"] > 10000
    held = _pending(_queue(t))
    _drain(t)
    assert set(held) <= set(_stored(collector.db, "T-LONG-1"))
    assert _counts(collector.db)[1] == 0  # nothing quarantined
    # and again to a collector on a fresh database (restored from nothing): it gets the
    # retention window too (docs/SYNC.md, "Restore")
    _ten_thousand_epochs_on(t)
    t = Terminal(config)
    for event in EVENTS[:60]:
        t.on_decline(event)
    held = _pending(_queue(t))
    collector.stop()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(collector.db + suffix):
            os.remove(collector.db + suffix)
    collector.start()
    _drain(t)
    stored = _stored(collector.db, "T-LONG-1")
    assert set(held) < set(stored) and stored == sorted(set(stored))  # each once
    assert _queue(t).gaps()[4] == 0  # the window held all it had acknowledged
    assert _counts(collector.db)[1] == 0


def test_a_terminal_provisioned_again_reuses_no_nonce_and_both_are_stored(collector, tmp_path):
    old = _terminal(tmp_path, "T-AGAIN-1", collector.url)
    for event in EVENTS[:8]:
        old.on_decline(event)
    _drain(old)
    old_first = min(_stored(collector.db, "T-AGAIN-1"))
    # the replacement: the same command, the same device id, a new directory
    (tmp_path / "again").mkdir()
    new = _terminal(tmp_path / "again", "T-AGAIN-1", collector.url)
    for event in EVENTS[:8]:  # the same declines: the same plaintexts, were the keys the same
        new.on_decline(event)
    q = _queue(new)
    new_records = [(s, b) for lane in (1, 2, 3) for s, b in q.pending(lane)]
    new_seqs = sorted(s for s, _ in new_records)
    assert new_seqs[0] >> 24 != old_first >> 24  # another incarnation: other numbers, keys
    with sqlite3.connect(collector.db) as con:
        old_sealed = [bytes(r[0]) for r in con.execute("SELECT sealed FROM incidents")]
    old_nonces = {cose.parse(s)[1][5] for s in old_sealed}
    assert not old_nonces & {cose.parse(b)[1][5] for _, b in new_records}
    _drain(new)
    stored = _stored(collector.db, "T-AGAIN-1")
    assert len(stored) == 16 and set(new_seqs) <= set(stored)
    assert _counts(collector.db)[1] == 0  # nothing quarantined as "sequence number reused"


def test_a_lane_the_collector_never_acknowledges_holds_back_no_other(collector, tmp_path):
    t = _terminal(tmp_path, "T-LANES-1", collector.url)
    for event in EVENTS[:40]:
        t.on_decline(event)
    q = _queue(t, writable=True)  # the terminal is not used again
    urgent = [s for s, _ in q.pending(1)]
    others = [s for lane in (2, 3) for s, _ in q.pending(lane)]
    assert urgent and others

    class Lane1Fails:  # a collector that fails on every urgent batch (a poison record)
        def __init__(self):
            self.http = HttpTransport(collector.url)

        def post(self, path, body):
            if cbor2.loads(body)[3] == 1:
                return 500, b""
            return self.http.post(path, body)

    uploader = Uploader(q, Lane1Fails(), crypto, os.urandom, q.device_id, q.ack_key)
    for _ in range(4 * len(others)):
        try:
            uploader.step()
        except SyncError:
            pass
    assert sorted(s for lane in (2, 3) for s, _ in q.pending(lane)) == []
    assert [s for s, _ in q.pending(1)] == urgent  # still held: nothing forgotten
    assert set(others) <= set(_stored(collector.db, "T-LANES-1"))


def test_retry_after_of_a_busy_collector_is_waited_out(tmp_path):
    from lostcard.sync import retry_delay

    def longest(low, high):
        return high

    assert retry_delay(SyncError("collector busy (429)", 40), 0, longest) == 40
    assert retry_delay(SyncError("collector busy (429)", None), 3, longest) == 8
    assert retry_delay(SyncError("collector busy (429)", 2), 5, longest) == 32
    assert retry_delay(OSError(28, "no space"), 0, longest) == 1  # errno is no Retry-After


def test_a_queue_written_before_protocol_2_syncs_after_the_upgrade(collector, tmp_path):
    queue_dir = tmp_path / "queue"
    shutil.copytree(paths.FIXTURES / "queue-ee06986", queue_dir,
                    ignore=shutil.ignore_patterns("README.md"))
    t = Terminal({"device_id": "T-OLD-0001", "queue_dir": str(queue_dir), "token_key": "5a" * 32,
                  "collector_url": collector.url, "rotate_bytes": 600, "sync_spread_s": 0})
    held = _pending(_queue(t))
    assert len(held) == 50 and held[0] < 1 << 24  # incarnation 0, sealed by the old release
    for event in EVENTS[60:65]:  # it declines on after the upgrade
        t.on_decline(event)
    held = _pending(_queue(t))
    _drain(t)
    # with the one record it had acknowledged to the old collector and still holds: this
    # collector has never seen it (docs/SYNC.md, "Restore")
    assert _stored(collector.db, "T-OLD-0001") == [held[0] - 1] + held
    assert _counts(collector.db)[1] == 0
    rows = sqlite3.connect(collector.db).execute(
        "SELECT cause FROM incidents WHERE device = 'T-OLD-0001' ORDER BY seq").fetchall()
    assert rows[-1][0] == classify(EVENTS[64])["cause"]
    assert record.VERSION == 1  # the records themselves did not change


def test_the_collector_listens_on_a_tcp_socket_that_gets_tcp_nodelay():
    # asyncio sets TCP_NODELAY on accepted sockets only if the listener's proto is TCP; without
    # it each reply waited for the client's delayed ACK: 44 ms a request instead of 0.5 ms
    import asyncio
    import socket

    from lostcard_cpython.collector import bind

    listener = bind("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP

    async def accepted_nodelay():
        flags = []

        async def on_connect(reader, writer):
            flags.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP,
                                                                    socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        await reader.read()
        writer.close()
        server.close()
        return flags

    assert asyncio.run(accepted_nodelay()) == [1]
