"""The terminal's update flow (docs/DEVICE.md "Updates"): tests/mpy/terminal_update.py on CPython,
on MicroPython from the .mpy bundle at the heap its phased Terminal needs, and on the unix32
firmware (lostcard frozen) at 48 KiB, inside the device's 64; then what only CPython runs here:
decisions under the installed policy and the watchlist, and `lostcard queue status`.
"""

import json
import re

import pytest

import terminal_update
from lostcard import decision as decision_module, kdf, record
from lostcard.protocol import POLICY, WATCHLIST
from lostcard_cpython import crypto, paths, scenarios
from firmware_boards import build, tools_only, unix32
from micropython_process import MPY_TESTS, micropython
from update_collector import TOKEN_KEY, Collector, Platform, terminal
from update_objects import watchlist_body

FLOWS = re.findall(r"^def (test_\w+)\(", (MPY_TESTS / "terminal_update.py").read_text(), re.M)
# the phased Terminal from .mpy files: ~80 KiB for this flow (bytecode and names in the heap,
# as tests/test_device.py's TERMINAL_HEAP says); frozen, the firmware tests' heap (it passes at 32)
MPY_HEAP = "112K"
FIRMWARE_HEAP = "48K"
EVENTS = [item["event"] for item in scenarios.load()]


@pytest.mark.parametrize("name", FLOWS)
def test_the_flow_on_cpython(name):
    getattr(terminal_update, name)()


@pytest.mark.parametrize("name", FLOWS)
def test_the_flow_on_micropython(bundle, name):
    proc = micropython(bundle, ["-m", "runner", "terminal_update", name], heap=MPY_HEAP)
    assert proc.returncode == 0 and proc.stdout.strip() == "PASS " + name, \
        proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def firmware(bundle, tmp_path_factory):
    exe = build("unix32", tmp_path_factory.mktemp("fw-unix32"))
    return exe, tools_only(bundle, tmp_path_factory.mktemp("tools") / "bundle")


def test_the_flow_on_the_frozen_firmware_at_48k(firmware):
    exe, tools = firmware
    proc = unix32(exe, ["-m", "runner", "terminal_update"] + FLOWS, cwd=tools,
                  heap=FIRMWARE_HEAP)
    assert proc.returncode == 0 and proc.stdout.split() == [w for name in FLOWS
                                                            for w in ("PASS", name)], \
        proc.stdout[-3000:] + proc.stderr


class Sealing(Platform):
    def crypto(self):
        return crypto  # on_decline seals


def _card(event):
    return event.get("card", {}).get("pan")


def _installed(collector, t):
    while t.sync_step() or t.updating:
        pass
    return t.status()


def test_the_installed_policy_decides_from_the_next_decision_on(tmp_path):
    event = dict(EVENTS[0], code="42")
    overrides = json.loads((paths.FIXTURES / "policies/acquirer-42-stolen.json").read_text())
    collector = Collector()
    # resident: its policy is held between calls, until an update replaces it
    t = terminal(Sealing(collector), checkin_s=0, resident=True)
    before = t.on_decline(event)
    assert before["policy"] == decision_module.classify(event)["policy"]
    collector.publish(POLICY, json.dumps(overrides).encode())
    assert _installed(collector, t)["policy_version"] == 1
    after = t.on_decline(event)
    assert after["policy"] == before["policy"] + "+acq-42-stolen"
    # over the config file's policy, at the next boot too
    other = dict(overrides, name="acq-from-config")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(other))
    again = terminal(Sealing(collector, t.storage.files), policy=str(path))
    assert again.on_decline(event)["policy"] == after["policy"]


def test_a_card_on_the_watchlist_is_classified_with_its_entry(monkeypatch):
    ringed = next(e for e in EVENTS if _card(e))
    other = next(e for e in EVENTS if _card(e) and _card(e) != _card(ringed))
    token = record.token(kdf, bytes.fromhex(TOKEN_KEY), _card(ringed).replace(" ", ""))
    entries = sorted([token[:15] + b"\x03"] + [watchlist_body(1, n) for n in range(5)])
    collector = Collector()
    t = terminal(Sealing(collector), checkin_s=0)
    watches = []
    real = decision_module.classify

    def classify(event, policy=None, watch=None):
        watches.append(watch)
        return real(event, policy, watch)

    monkeypatch.setattr(decision_module, "classify", classify)
    t.on_decline(ringed)
    collector.publish(WATCHLIST, b"".join(entries))
    assert _installed(collector, t)["watchlist_version"] == 1
    hit = t.on_decline(ringed)
    assert "watchlist_hit" in [e["rule"] for e in hit["evidence"]]
    t.on_decline(other)
    t.on_decline({"response": {"code": "05"}})  # no card number: nothing to look up
    assert watches == [None, (1, 3), None, None]


def test_queue_status_shows_the_installed_versions(tmp_path):
    from lostcard_cpython.storage import DirStorage
    from update_objects import KEY, DEVICE, made
    from lostcard import update
    from lostcard.queue import Queue

    queue = tmp_path / "queue"
    storage = DirStorage(str(queue))
    Queue.provision(storage, b"\x07" * 32, device_id=DEVICE, ack_key=KEY)
    obj = made(kdf, WATCHLIST, 4, watchlist_body(3))
    assert update.add_chunk(storage, WATCHLIST, 4, len(obj), 0, obj)
    update.install(storage, WATCHLIST, kdf, KEY, DEVICE)
    proc = _lostcard("queue", "status", "--dir", str(queue))
    status = json.loads(proc.stdout)
    assert status["watchlist_version"] == 4 and status["policy_version"] == 0
    inspected = _lostcard("queue", "inspect", "--dir", str(queue)).stdout
    assert "watch.lcu: update object, version 4" in inspected and "unreadable" not in inspected


def _lostcard(*args):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli"] + list(args),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc
