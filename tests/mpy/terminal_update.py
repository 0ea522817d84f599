"""The terminal's update flow (docs/DEVICE.md "Updates") through its API, on CPython (pytest) and
on MicroPython at 64 KiB in phases (runner.py): a verified offer after an acknowledged batch, one
fetch request per idle sync step, the object installed once whole, a refusal shown and reported,
a download resumed after a power cut, check-ins.

The collector is a transport that makes its objects as a collector does (update_collector.py).
"""

from lostcard.protocol import POLICY, WATCHLIST
from update_collector import Collector, Platform, terminal
from update_objects import watchlist_body

import heap  # noqa: F401  (on MicroPython: the tests' gc threshold)

WATCH = watchlist_body(70)  # 1,120 bytes: an object of two chunks
POLICY_JSON = b'{"name": "acquirer-u", "response_codes": {"05": null}}'


def _online(records=1, **config):
    collector = Collector()
    platform = Platform(collector)
    return collector, platform, terminal(platform, records, **config)


def test_an_offer_ahead_is_fetched_a_chunk_a_step_and_installed():
    collector, platform, t = _online()
    collector.publish(WATCHLIST, WATCH)
    assert t.sync_step() == 1  # the batch: acknowledged, with the offer [0, 1]
    assert collector.fetches() == [] and t.status()["watchlist_version"] == 0
    assert t.sync_step() == 0 and t.updating  # the first chunk
    assert collector.fetches() == [(WATCHLIST, 1, 0)]
    assert t.sync_step() == 0 and not t.updating  # the second, and the install
    assert collector.fetches()[1] == (WATCHLIST, 1, 1024)
    status = t.status()
    assert status["watchlist_version"] == 1 and status["policy_version"] == 0
    assert status["update_refused"] is None
    assert t.sync_step() == 0 and len(collector.seen) == 3  # nothing more to ask
    rebooted = terminal(Platform(collector, platform.files))  # the boot reads what is installed
    assert rebooted.status()["watchlist_version"] == 1 and rebooted._updates() == [0, 1, None]
    rebooted = None
    terminal(platform, 1)
    assert t.sync_step() == 1  # the next batch tells what the terminal runs
    assert collector.seen[-1][4] == [0, 1, None]


def test_an_offer_equal_to_the_installed_version_fetches_nothing():
    collector, platform, t = _online(records=2)
    collector.publish(POLICY, POLICY_JSON)
    t.sync_step()
    t.sync_step()  # the whole policy: one chunk
    assert t.status()["policy_version"] == 1 and collector.fetches() == [(POLICY, 1, 0)]
    terminal(platform, 1)
    assert t.sync_step() == 1 and t.sync_step() == 0
    assert len(collector.fetches()) == 1 and not t.updating


def test_an_offer_whose_mac_fails_is_not_believed():
    collector, platform, t = _online(checkin_s=0)  # and no check-in: only the offer could tell
    collector.publish(WATCHLIST, WATCH)
    collector.spoil = lambda mac: bytes([mac[0] ^ 1]) + mac[1:]
    assert t.sync_step() == 1
    assert t.sync_step() == 0 and collector.fetches() == []
    assert t.status()["watchlist_version"] == 0


def test_a_refused_object_is_shown_reported_in_the_next_batch_and_fetched_after_a_backoff():
    collector, platform, t = _online()
    version = collector.publish(WATCHLIST, WATCH, key=b"\x42" * 32)  # another device's key
    t.sync_step()
    t.sync_step()
    t.sync_step()
    status = t.status()
    refused = [WATCHLIST, version, "object MAC does not verify"]
    assert status["watchlist_version"] == 0 and status["update_refused"] == refused
    # a MAC that fails is the link's fault, not the version's: the terminal backs off
    assert not t.updating and t.sync_step() == 0 and len(collector.fetches()) == 2
    terminal(platform, 1)
    t.link_returned(0)  # the backoff over
    assert t.sync_step() == 1 and collector.seen[-1][4] == [0, 0, refused]
    assert t.status()["update_refused"] is None  # acknowledged: reported once
    collector.publish(WATCHLIST, WATCH)  # a good one, newer: fetched
    terminal(platform, 1)
    t.sync_step()
    while t.sync_step() == 0 and t.updating:
        pass
    assert t.status()["watchlist_version"] == 2


def test_a_download_cut_by_a_reboot_resumes_where_it_stopped():
    collector, platform, t = _online()
    collector.publish(WATCHLIST, WATCH)
    t.sync_step()
    t.sync_step()  # one chunk of two on flash, then the power goes
    again = terminal(Platform(collector, platform.files))  # the next boot: no offer known
    assert again.status()["watchlist_version"] == 0
    again.sync_step()  # idle: a check-in of each kind, the policy's first
    again.sync_step()  # the watchlist's asks for the rest of the partial copy
    assert collector.fetches()[1:] == [(POLICY, 0, 0), (WATCHLIST, 1, 1024)]
    assert again.status()["watchlist_version"] == 1


def test_an_idle_terminal_checks_in_every_checkin_s():
    collector, platform, t = _online(records=0, checkin_s=600)
    collector.publish(POLICY, POLICY_JSON)
    assert t.sync_step() == 0 and collector.fetches() == [(POLICY, 0, 0)]  # since the boot
    assert t.status()["policy_version"] == 1  # the newest came with the check-in, whole
    t.sync_step()
    assert collector.fetches()[1] == (WATCHLIST, 0, 0) and collector.fetches()[0][2] == 0
    assert collector.seen[1][4] == [1, 0, None]  # the check-in tells what the terminal runs
    platform.now += 599
    t.sync_step()
    assert len(collector.seen) == 2  # not due yet
    platform.now += 1
    t.sync_step()
    t.sync_step()
    assert collector.fetches()[2:] == [(POLICY, 0, 0), (WATCHLIST, 0, 0)]
    never = Collector()
    t = terminal(Platform(never), checkin_s=0)
    t.sync_step()
    assert never.seen == []


def test_a_failed_fetch_backs_off_and_leaves_the_partial_copy():
    collector, platform, t = _online()
    collector.publish(WATCHLIST, WATCH)
    t.sync_step()
    t.sync_step()
    collector.down = True
    assert t.sync_step() == 0 and t.link == "down" and not t.updating
    assert t.status()["next_sync_in_s"] > 0
    collector.down = False
    platform.now += 400  # past the longest backoff
    t.sync_step()
    assert collector.fetches()[-1] == (WATCHLIST, 1, 1024)
    assert t.status()["watchlist_version"] == 1
