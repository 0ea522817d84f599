"""Serving updates (docs/SYNC.md "Updates") on both backends, to a client made from
lostcard.protocol as a terminal's is: every acknowledged batch carries the offer under its MAC;
a fetch gets the newest object a chunk at a time, made for that device alone; what the terminal
says it runs is stored from its batches and its fetches; a publish by another process is offered
within about a second."""

import hashlib
import os
import time

import httpx
import pytest

from lostcard import cbor, protocol
from lostcard.collector import fleet
from lostcard_cpython import crypto
from lostcard_cpython.collector_store import open_store
from lostcard_cpython.local_collector import LocalCollector
from test_resync import SECRET, _append, _queue

POLICY, WATCHLIST = protocol.POLICY, protocol.WATCHLIST


@pytest.fixture
def env(tmp_path, new_db):
    (tmp_path / "fleet.secret").write_text(SECRET.hex())
    env = {"db": new_db(), "tmp": tmp_path}
    collector = LocalCollector(env["db"], tmp_path / "fleet.secret").start()
    env["url"] = collector.url
    yield env
    collector.stop()


def _publish(db, kind, body):
    store = open_store(db)
    try:
        return store.publish(kind, body)
    finally:
        store.close()


def _states(db):
    store = open_store(db, readonly=True)
    try:
        return {s["device"]: s for s in store.terminal_states()}
    finally:
        store.close()


def _batch(env, q, said, lane=3):
    """One batch of q's pending records carrying `said` (key 7): (status, offer or None)."""
    items = [[s, sealed] for s, sealed in q.pending(lane)]
    digest, nonce = protocol.digest(items), os.urandom(16)
    body = protocol.encode_batch(crypto, q.ack_key, q.device_id, nonce, lane, items,
                                 [0, 0, 0, 0, 0], digest, said)
    reply = httpx.post(env["url"] + "/v1/batch", content=body, timeout=10)
    if reply.status_code != 200:
        return reply.status_code, None
    assert protocol.verified_ack(crypto, q.ack_key, q.device_id, nonce, digest,
                                 reply.content)[0] == items[-1][0]
    return 200, protocol.verified_offer(crypto, q.ack_key, q.device_id, nonce, reply.content)


def _fetch(env, device, key, kind, version, offset, said, mac=None):
    nonce = os.urandom(16)
    body = protocol.encode_fetch(crypto, key, device, nonce, kind, version, offset, said)
    if mac is not None:
        fetch = cbor.decode(body)
        fetch[6] = mac
        body = cbor.encode(fetch)
    reply = httpx.post(env["url"] + "/v1/update", content=body, timeout=10)
    reply.nonce = nonce  # what its reply MAC is bound to
    return reply


def _reply_mac_checks(reply, key, device, nonce):
    r = cbor.decode(reply.content)
    return r[5] == protocol.fetch_reply_mac(crypto, key, device, nonce, r[1], r[2], r[3], r[4])


def _download(env, device, key, kind, said=(0, 0, None)):
    """The newest object of `kind`, chunk by chunk as a terminal resumes: (version, object)."""
    got, version, length = b"", 0, None
    while length is None or len(got) < length:
        reply = _fetch(env, device, key, kind, version, len(got), list(said))
        assert reply.status_code == 200, reply.text
        # the reply is this fetch's: its MAC checks under the device's key and this nonce alone
        assert _reply_mac_checks(reply, key, device, reply.nonce)
        assert not _reply_mac_checks(reply, key, device, os.urandom(16))
        r = cbor.decode(reply.content)
        if r[1] != version:  # a newer one than we were fetching: start over
            got, version = b"", r[1]
        assert r[3] == len(got) and len(r[4]) <= protocol.CHUNK_LEN
        got += r[4]
        length = r[2]
        if not version:
            break
    return version, got


def _mac_checks(obj, key, device):
    kind, version = obj[4], int.from_bytes(obj[8:12], "big")
    body = obj[protocol.HEADER_LEN:]
    assert obj[:4] == protocol.OBJECT_MAGIC and int.from_bytes(obj[12:16], "big") == len(body)
    return obj[16:32] == protocol.object_mac(crypto, key, device, kind, version,
                                             hashlib.sha256(body).digest())


def test_every_acknowledged_batch_offers_the_newest_versions_under_its_mac(env):
    q = _queue(env["tmp"], "T-UPD-1")
    _append(q, 2)
    assert _batch(env, q, [0, 0, None]) == (200, [0, 0])  # none published: zeros
    _publish(env["db"], POLICY, b'{"name":"p1"}')
    _publish(env["db"], WATCHLIST, bytes(15) + b"\x02")
    _publish(env["db"], WATCHLIST, bytes(14) + b"\x01\x03")
    _append(q, 1)
    for _ in range(100):  # the collector reads the newest versions at most once a second
        status, offer = _batch(env, q, [0, 0, None])
        if offer == [1, 2]:
            break
        _append(q, 1)
        time.sleep(0.05)
    assert offer == [1, 2]
    # a terminal of the previous release (no key 7) is still served, and offered too
    _append(q, 1)
    assert _batch(env, q, None) == (200, [1, 2])


def test_the_batch_updates_are_stored_with_it_and_under_its_mac(env):
    q = _queue(env["tmp"], "T-UPD-2")
    _append(q, 1)
    for _ in range(2):  # a terminal refuses a version that was published
        _publish(env["db"], WATCHLIST, b"w" * 16)
    assert _batch(env, q, [3, 1, [WATCHLIST, 2, "entries not sorted"]])[0] == 200
    state = _states(env["db"])["T-UPD-2"]
    assert (state["policy"], state["watchlist"], state["refused_kind"], state["refused_version"],
            state["refused_reason"]) == (3, 1, WATCHLIST, 2, "entries not sorted")
    # updates the MAC did not cover: refused (403), nothing stored
    _append(q, 1)
    items = [[s, sealed] for s, sealed in q.pending(3)]
    digest, nonce = protocol.digest(items), os.urandom(16)
    batch = cbor.decode(protocol.encode_batch(crypto, q.ack_key, q.device_id, nonce, 3, items,
                                              [0, 0, 0, 0, 0], digest, [3, 1, None]))
    batch[7] = [9, 9, None]
    reply = httpx.post(env["url"] + "/v1/batch", content=cbor.encode(batch), timeout=10)
    assert reply.status_code == 403
    batch[7] = [1, "x", None]
    reply = httpx.post(env["url"] + "/v1/batch", content=cbor.encode(batch), timeout=10)
    assert reply.status_code == 400 and "updates" in reply.json()["error"]
    assert _states(env["db"])["T-UPD-2"]["policy"] == 3


def test_a_fetch_gets_the_newest_object_in_chunks_made_for_that_device_alone(env):
    key = fleet.ack_key(crypto, SECRET, "T-UPD-3")
    other = fleet.ack_key(crypto, SECRET, "T-UPD-4")
    assert _download(env, "T-UPD-3", key, WATCHLIST) == (0, b"")  # none published
    entries = b"".join(i.to_bytes(15, "big") + b"\x02" for i in range(1, 301))  # 4,800 bytes
    assert _publish(env["db"], WATCHLIST, entries) == 1
    for _ in range(100):
        version, obj = _download(env, "T-UPD-3", key, WATCHLIST)
        if version:
            break
        time.sleep(0.05)
    assert version == 1 and obj[protocol.HEADER_LEN:] == entries and obj[4] == WATCHLIST
    assert len(obj) == protocol.HEADER_LEN + len(entries) > 4 * protocol.CHUNK_LEN
    assert _mac_checks(obj, key, "T-UPD-3") and not _mac_checks(obj, other, "T-UPD-3")
    theirs = _download(env, "T-UPD-4", other, WATCHLIST)[1]
    assert _mac_checks(theirs, other, "T-UPD-4") and theirs[16:32] != obj[16:32]

    # a fetch of a version that is no longer the newest: the newest's, from 0
    assert _publish(env["db"], WATCHLIST, entries[:160]) == 2
    for _ in range(100):
        r = cbor.decode(_fetch(env, "T-UPD-3", key, WATCHLIST, 1, 2048, [0, 1, None]).content)
        if r[1] == 2:
            break
        time.sleep(0.05)
    assert (r[1], r[2], r[3]) == (2, protocol.HEADER_LEN + 160, 0)
    # an offset past the end: 400; a MAC that does not check: 403; the fetch's `updates` stored
    assert _fetch(env, "T-UPD-3", key, WATCHLIST, 2, 4096, [0, 1, None]).status_code == 400
    assert _fetch(env, "T-UPD-3", other, WATCHLIST, 0, 0, [0, 1, None]).status_code == 403
    assert _fetch(env, "T-UPD-3", key, WATCHLIST, 0, 0, [0, 1, None],
                  mac=bytes(16)).status_code == 403
    assert _fetch(env, "T-UPD-3", key, 3, 0, 0, [0, 1, None]).status_code == 400
    assert _publish(env["db"], POLICY, b"{}") == 1  # a terminal refuses what was published
    assert _fetch(env, "T-UPD-3", key, POLICY, 0, 0, [0, 2, [POLICY, 1, "bad"]]).status_code \
        == 200
    state = _states(env["db"])["T-UPD-3"]
    assert (state["watchlist"], state["refused_kind"], state["refused_reason"]) == (
        2, POLICY, "bad")


def test_a_reprovisioned_terminal_fetches_under_its_new_incarnation(env):
    # no batch yet from incarnation 1: the collector tries the one after what it knows
    key = fleet.ack_key(crypto, SECRET, "T-UPD-5", 1)
    assert _fetch(env, "T-UPD-5", key, POLICY, 0, 0, [0, 0, None]).status_code == 200
    assert _states(env["db"])["T-UPD-5"]["incarnation"] == 1
    stale = fleet.ack_key(crypto, SECRET, "T-UPD-5", 3)
    assert _fetch(env, "T-UPD-5", stale, POLICY, 0, 0, [0, 0, None]).status_code == 403
