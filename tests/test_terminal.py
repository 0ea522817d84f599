"""The Terminal API on CPython (the emulator's port): the same core the device runs.

on_decline never touches the network and returns only once the incident is durable; sync_step
sends at most one batch and backs off after failures; status() is what the status screen shows.
The phased (non-resident) mode is exercised on MicroPython by tests/test_device.py.
"""

import pytest

from lostcard import terminal as core
from lostcard.decision import classify
from lostcard.errors import ConfigError
from lostcard.queue import Queue
from lostcard_cpython import provision, scenarios
from lostcard_cpython.local_collector import LocalCollector, free_port
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.terminal import Platform, Terminal


SECRET = bytes(range(90, 122))
EVENTS = [item["event"] for item in scenarios.load()]


class Clock(Platform):
    """The emulator's platform with a clock the test moves and a transport it can watch."""

    def __init__(self):
        self.now = 1_800_000_000.0
        self.posts = 0

    def clock(self):
        return self.now

    def transport(self, url, ca=None):
        inner = Platform.transport(self, url, ca)
        outer = self

        class Counting:
            def post(self, path, body, limit=256):
                outer.posts += 1
                return inner.post(path, body, limit)

        return Counting()


def _config(tmp_path, url="http://127.0.0.1:9", device="T-TERM-1", **more):
    prov = tmp_path / "prov.cbor"
    if not prov.exists():
        provision.write(str(prov), SECRET, device)
    return dict({"device_id": device, "queue_dir": str(tmp_path / "q"), "token_key": "ab" * 32,
                 "provisioning": str(prov), "collector_url": url, "sync_spread_s": 0}, **more)


def test_on_decline_returns_the_decision_once_the_incident_is_durable(tmp_path):
    platform = Clock()
    t = Terminal(_config(tmp_path), platform)
    assert not (tmp_path / "prov.cbor").exists()  # consumed at the first boot
    decisions = [t.on_decline(e) for e in EVENTS[:12]]
    assert platform.posts == 0  # a decline never waits on the network
    for event, d in zip(EVENTS, decisions):
        assert d["stored"] and {k: v for k, v in d.items() if k not in ("seq", "stored")} \
            == classify(event)
    first = decisions[0]["seq"]  # the provisioning's: a random incarnation << 24
    assert first >> 24 > 0 and [d["seq"] for d in decisions] == list(range(first, first + 12))
    # durable: a new Terminal (the next boot) finds every incident and numbers on
    again = Terminal(_config(tmp_path), platform)
    assert again.status()["queued"] == 12
    assert again.on_decline(EVENTS[0])["seq"] >= first + 12
    reader = Queue(DirStorage(str(tmp_path / "q")))
    assert sum(1 for lane in (1, 2, 3) for _ in reader.pending(lane)) == 13


def test_a_bad_event_still_gets_a_decision_and_a_record(tmp_path):
    t = Terminal(_config(tmp_path), Clock())
    d = t.on_decline({"code": 41, "pan": "not a pan", "junk": [1]})
    assert d["cause"] == "undetermined" and d["errors"] and d["stored"]


def test_a_broken_flash_is_reported_and_the_decision_still_shown(tmp_path):
    t = Terminal(_config(tmp_path), Clock())

    def broken(name, data):
        raise OSError(5, "EIO")

    t.storage.append = broken  # the queue writes through the terminal's storage
    d = t.on_decline(EVENTS[0])
    assert d["stored"] is False and "EIO" in d["store_error"]
    assert d["messages"]["operator"]["en"] == classify(EVENTS[0])["messages"]["operator"]["en"]


def test_sync_steps_back_off_while_the_link_is_down_then_drain(tmp_path):
    port = free_port()
    platform = Clock()
    t = Terminal(_config(tmp_path, "http://127.0.0.1:%d" % port), platform)
    for e in EVENTS[:30]:
        t.on_decline(e)
    assert t.sync_step() == 0 and t.link == "down" and platform.posts == 1
    assert t.sync_step() == 0 and platform.posts == 1  # not due: no request at all
    assert 0 < t.status()["next_sync_in_s"] <= 2.0
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    collector = LocalCollector(tmp_path / "c.db", secret, port=port).start()
    try:
        t.link_returned()
        sent = []
        while True:
            done = t.sync_step()
            if not done:
                break
            sent.append(done)
        assert sum(sent) == 30 and len(sent) > 1  # one batch per step
        status = t.status()
        assert status["queued"] == 0 and status["link"] == "up"
        assert status["last_sync"] == platform.now
    finally:
        collector.stop()


@pytest.mark.parametrize("change,words", [
    ({"token_key": "12"}, "token_key"),
    ({"device_id": "T-TERM-2"}, "not T-TERM-2"),
    ({"provisioning": None}, "no provisioning file"),
    ({"policy": "/nonexistent/policy.json"}, "policy file"),
])
def test_bad_configs_are_refused_at_construction(tmp_path, change, words):
    config = _config(tmp_path)
    config.update(change)
    with pytest.raises(ConfigError, match=words):
        Terminal(config, Clock())


def test_a_config_missing_a_field_says_which(tmp_path):
    config = _config(tmp_path)
    del config["queue_dir"]
    with pytest.raises(ConfigError, match="queue_dir"):
        Terminal(config, Clock())


def test_an_acquirer_policy_applies_to_the_terminal(tmp_path):
    from lostcard_cpython.paths import FIXTURES

    t = Terminal(_config(tmp_path, policy=str(FIXTURES / "policies/acquirer-42-stolen.json")),
                 Clock())
    event = dict(EVENTS[0], code="42")
    d = t.on_decline(event)
    assert d["policy"] != classify(event)["policy"]


def test_sync_forever_runs_steps_until_cancelled(tmp_path):
    import asyncio

    t = Terminal(_config(tmp_path), Clock())
    steps = []
    t.sync_step = lambda: steps.append(1) or 0

    async def run():
        task = asyncio.create_task(core.sync_forever(t, idle_s=0.001))
        while len(steps) < 3:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(run())
    assert len(steps) >= 3


def test_a_provisioning_file_left_by_a_cut_is_removed_at_the_next_boot(tmp_path):
    config = _config(tmp_path)
    Terminal(config, Clock())
    provision.write(str(tmp_path / "prov.cbor"), SECRET, "T-TERM-1")  # as if the cut kept it
    Terminal(config, Clock())
    assert not (tmp_path / "prov.cbor").exists()  # key material does not stay on flash


@pytest.mark.parametrize("key,value", [("budget_bytes", "65536"), ("rotate_bytes", None),
                                       ("sync_spread_s", -1), ("budget_bytes", True)])
def test_numbers_in_the_config_are_checked_at_construction(tmp_path, key, value):
    with pytest.raises(ConfigError, match=key):
        Terminal(_config(tmp_path, **{key: value}), Clock())


def test_a_record_the_queue_cannot_keep_is_shown_as_not_stored(tmp_path):
    t = Terminal(_config(tmp_path, budget_bytes=300), Clock())
    urgent = [e for e in EVENTS if classify(e)["priority"] == 1][:1]
    routine = [e for e in EVENTS if classify(e)["priority"] == 3][:1]
    assert t.on_decline(urgent[0])["stored"]
    d = t.on_decline(routine[0])  # would have to push out the urgent one: counted, not kept
    assert d["stored"] is False and d["seq"] is None and "evicted" in d["store_error"]
    assert t.status()["evicted"] == 1


def test_a_second_terminal_on_the_same_queue_cannot_reuse_sequence_numbers(tmp_path):
    first = Terminal(_config(tmp_path), Clock())
    second = Terminal(_config(tmp_path), Clock())
    seqs = [first.on_decline(EVENTS[0])["seq"], second.on_decline(EVENTS[1])["seq"]]
    for event in EVENTS[2:40]:  # `first` comes to the end of the numbers it had reserved
        d = first.on_decline(event)
        if not d["stored"]:
            assert "another writer" in d["store_error"]
            break
        seqs.append(d["seq"])
    else:
        raise AssertionError("two writers went on unnoticed")
    assert len(seqs) == len(set(seqs))  # no number (and so no nonce) was used twice


def test_storage_errors_in_a_sync_step_back_off_and_never_escape(tmp_path):
    platform = Clock()
    t = Terminal(_config(tmp_path), platform)
    t.on_decline(EVENTS[0])

    def broken(name):
        raise OSError(5, "EIO")

    t.storage.read = broken
    assert t.sync_step() == 0 and "EIO" in t.last_error and platform.posts == 0
    status = t.status()  # reading the queue may fail too: then status() says so
    assert "error" in status or status["next_sync_in_s"] > 0


def test_in_phases_a_reopened_queue_resumes_from_the_checkpoint_without_a_listing(tmp_path):
    # the core's Terminal in phases on the emulator's platform, no module unloaded: each call
    # reopens the queue, as on a device, from the checkpoint the Terminal kept
    class Everything:
        def __contains__(self, name):
            return True

    class Phased(Clock):
        keep = Everything()
        listings = 0

        def storage(self, path):
            platform = self

            class Counting(DirStorage):
                def list(self):
                    platform.listings += 1
                    return DirStorage.list(self)

            return Counting(path)

    platform = Phased()
    t = core.Terminal(_config(tmp_path, rotate_bytes=300), platform)
    for event in EVENTS[:30]:
        assert t.on_decline(event)["stored"]
    listed = platform.listings
    seqs = [t.on_decline(event)["seq"] for event in EVENTS[30:40]]
    assert platform.listings == listed  # no reopen listed (or read) the whole queue
    assert seqs == list(range(seqs[0], seqs[0] + 10))  # and no reserved number was burnt
    assert t.status()["queued"] == 40


def test_in_phases_a_checkpoint_lost_to_a_full_heap_costs_a_scan_not_a_store(tmp_path, monkeypatch):
    # checkpoint() on a full heap: the append it follows was stored, and the next phase, with no
    # checkpoint to trust, scans; no sequence number is handed out twice
    class Everything:
        def __contains__(self, name):
            return True

    class Phased(Clock):
        keep = Everything()

    t = core.Terminal(_config(tmp_path, rotate_bytes=300), Phased())
    seqs = [t.on_decline(event)["seq"] for event in EVENTS[:8]]
    marks = Queue._marks
    calls = []

    def full_heap(queue):  # the open's check of the checkpoint, then checkpoint() itself
        calls.append(queue)
        if len(calls) == 2:
            raise MemoryError("memory allocation failed")
        return marks(queue)

    monkeypatch.setattr(Queue, "_marks", full_heap)
    decision = t.on_decline(EVENTS[8])
    assert decision["stored"] and "store_error" not in decision and t._resume is None
    seqs += [decision["seq"]] + [t.on_decline(event)["seq"] for event in EVENTS[9:20]]
    assert None not in seqs and len(set(seqs)) == len(seqs) == 20
