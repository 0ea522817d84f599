"""Review of the fetch reply MAC and the max-within-an-incarnation terminals row (atk16).

A captured fetch (POST /v1/update) can still be replayed: the collector keeps no fetch nonces.
A replay must not bring an old refusal back over the newest one, and a terminal must install a
genuine update it has whole on flash. (The review's third finding, a replay moving a terminal's
`seen`, is a limit docs/SYNC.md states: nothing in a request tells a replay from an idle
terminal's check-in; TLS keeps requests off the wire.)
"""

import os

import httpx

from lostcard import protocol
from lostcard.collector import fleet
from lostcard.protocol import WATCHLIST
from lostcard_cpython import crypto
from test_resync import SECRET
from test_review15_atk15_link import OnTheLink, _Storage, WATCH
from test_updates_serve import _publish, _states, env  # noqa: F401  (env: on each backend)
from update_collector import Platform, terminal

POLICY = protocol.POLICY


def _post(env, body):
    return httpx.post(env["url"] + "/v1/update", content=body, timeout=10).status_code


def test_a_replayed_fetch_puts_an_old_refusal_over_the_newest_one(env):
    """Severity: medium. The terminal refused policy 5 (reported in fetch F1, then acknowledged),
    then refused watchlist 7 (reported in F2, acknowledged: the terminal sends it no more). The
    collector keeps one 'last refusal'. F1 replayed from the link passes terminal_row's check
    (policy 5 > the policy 0 it runs) and replaces the watchlist refusal: `policy status`, stats
    and the report no longer show that watchlist 7 was refused, and the terminal will never say
    it again. Fix: a nonce cache, or keep a refusal per kind and take one only if its version
    is above the one held for that kind."""
    device = "T-ATK16-1"
    key = fleet.ack_key(crypto, SECRET, device)
    # what the terminal refused was published (the collector takes no other refusal)
    for kind, count in ((POLICY, 5), (WATCHLIST, 7)):
        for _ in range(count):
            _publish(env["db"], kind, b"{}")
    f1 = protocol.encode_fetch(crypto, key, device, os.urandom(16), POLICY, 0, 0,
                               [0, 0, [POLICY, 5, "policy is not JSON"]])
    assert _post(env, f1) == 200
    f2 = protocol.encode_fetch(crypto, key, device, os.urandom(16), WATCHLIST, 0, 0,
                               [0, 0, [WATCHLIST, 7, "watchlist unsorted"]])
    assert _post(env, f2) == 200
    assert _states(env["db"])[device]["refused_kind"] == WATCHLIST
    assert _post(env, f1) == 200  # the same bytes, from the link
    state = _states(env["db"])[device]
    assert (state["refused_kind"], state["refused_version"]) == (WATCHLIST, 7), (
        "a replayed fetch replaced the watchlist refusal with an old one: %r" % (state,))


class _CutAtInstall(_Storage):
    """Flash whose rename fails once: the partial object is whole, but not installed (as a
    power cut between the last chunk's append and install() leaves it)."""
    fail = [True]

    def rename(self, old, new):
        if old.endswith(".new") and self.fail[0]:
            self.fail[0] = False
            raise OSError(5, "EIO")
        _Storage.rename(self, old, new)


class _CutPlatform(Platform):
    def storage(self, path):
        return _CutAtInstall(self.files)


def test_a_whole_partial_left_uninstalled_is_never_installed():
    """Severity: medium (pre-existing, not from this change). If install() does not finish
    after the last chunk (power cut, a flash error at rename), the partial holds `total` bytes;
    every later fetch asks offset = total, the collector answers an empty chunk at that offset
    (offset == length is allowed), and fetch.step returns None on `not chunk` before add_chunk
    or install: no backoff, `updating` stays True, so the terminal fetches back to back for
    ever and never installs the genuine update. Fix: in fetch.step, when the reply's chunk is
    empty and offset == total == the partial's size of that version, call install()."""
    collector = OnTheLink()
    platform = _CutPlatform(collector)
    _CutAtInstall.fail = [True]
    t = terminal(platform, 1, checkin_s=600)
    collector.publish(WATCHLIST, WATCH)
    assert t.sync_step() == 1
    for _ in range(3):
        t.sync_step()  # chunk 1, chunk 2 (rename fails: OSError, backoff)
    steps = 0
    for _ in range(20):
        platform.now += 700
        t.sync_step()
        steps += 1
        if t.status()["watchlist_version"] == 1:
            break
    assert t.status()["watchlist_version"] == 1, (
        "a whole partial was never installed; fetches: %r" % collector.fetches()[-4:])
