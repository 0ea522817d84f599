"""Review of issue 15 (atk15): a captured fetch (POST /v1/update) replayed by someone on the
link. The fetch MAC covers a nonce the collector never checks for freshness, and what the fetch
says the terminal runs (key 7) overwrites the collector's record of that terminal."""

import os

import httpx

from lostcard import protocol
from lostcard.collector import fleet
from lostcard_cpython import crypto
from test_resync import SECRET
from test_updates_serve import _states, env  # noqa: F401  (env: a collector on each backend)

POLICY, WATCHLIST = protocol.POLICY, protocol.WATCHLIST


def test_a_replayed_old_fetch_rolls_back_what_the_collector_says_a_terminal_runs(env):
    """Severity: low/medium. A fetch captured while the terminal ran nothing ([0, 0, None]) and
    replayed after it reported policy 3 and watchlist 2 is accepted (200) and stored: the
    collector (`policy status`, the report's "terminals behind" section, /metrics) now shows the
    terminal behind on both, and an alert/acquirer acting on it is misled; replayed at will it
    keeps the terminal looking behind. Fix: refuse a fetch nonce seen before (as batches are
    idempotent by sequence) or, simpler, never lower the stored versions of the same incarnation
    (take the max) and keep a refusal only if newer than the stored one."""
    device = "T-ATK15-1"
    key = fleet.ack_key(crypto, SECRET, device)
    old = protocol.encode_fetch(crypto, key, device, os.urandom(16), POLICY, 0, 0, [0, 0, None])
    assert httpx.post(env["url"] + "/v1/update", content=old, timeout=10).status_code == 200
    now = protocol.encode_fetch(crypto, key, device, os.urandom(16), POLICY, 0, 0, [3, 2, None])
    assert httpx.post(env["url"] + "/v1/update", content=now, timeout=10).status_code == 200
    state = _states(env["db"])[device]
    assert (state["policy"], state["watchlist"]) == (3, 2)
    replayed = httpx.post(env["url"] + "/v1/update", content=old, timeout=10)  # the same bytes
    state = _states(env["db"])[device]
    assert replayed.status_code != 200 or (state["policy"], state["watchlist"]) == (3, 2), (
        "a replayed fetch rolled the terminal's record back to %r"
        % ((state["policy"], state["watchlist"]),))
