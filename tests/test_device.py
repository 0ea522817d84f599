"""The device port end to end, from the bundle `lostcard build-mpy` writes (not the sources).

The bundle's example main.py runs on the real MicroPython interpreter as a terminal would: a
session of declines with the link down (each one shown and queued, none lost), then, on the next
boot, the link back and the backlog synced to a real collector on loopback, which ends with every
incident exactly once.

Heap: the Terminal runs its phases at TERMINAL_HEAP, the smallest heap it was measured to need on
this 64-bit unix port plus a margin (`lostcard bench device` prints the figure). The 64 KiB
budget of issue 6 is not met by the .mpy bundle on a 64-bit port: bytecode and interned names
are copied into the heap when a .mpy file is imported (frozen firmware keeps them in flash).
"""

import json
import subprocess

import pytest

from lostcard_cpython import mpybuild, paths
from lostcard_cpython.local_collector import LocalCollector, free_port
from terminal_setup import assert_collected_once, assert_shown_in_order, lostcard, \
    provisioned_terminal as _setup, status as _status

TERMINAL_HEAP = "112K"


def terminal(bundle, *args):
    env = paths.micropython_env(bundle)  # the bundle alone: no source directory on the path
    return subprocess.run([paths.tool("micropython"), "-X", "heapsize=" + TERMINAL_HEAP, "main.py"]
                          + [str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=bundle, timeout=300)


@pytest.fixture(scope="module")
def device_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("device")
    built = lostcard("build-mpy", "--out", str(out)).stdout
    total = int(next(line for line in built.splitlines() if "total .mpy" in line).split()[0])
    # the goal of 48 KiB is not met since issue 15: the build says so, and the size holds
    assert total <= mpybuild.CEILING_BYTES, "the bundle grew past its ceiling: %d" % total
    assert "goal <= 48 KiB: " + mpybuild.verdict(total, mpybuild.GOAL_BYTES) in built
    # the collector's checks and the benchmark tools stay off the terminal
    assert not list(out.glob("lostcard/record_check.*")) and not list(out.glob("*/bench_*"))
    for name in ("main.py", "manifest.py", "lostcard/terminal.mpy", "lostcard_mpy/terminal.mpy",
                 "lostcard/texts.txt", "src/lostcard/terminal.py"):
        assert (out / name).exists(), name
    return out


def test_a_session_offline_then_synced_from_the_built_bundle(device_bundle, tmp_path):
    port = free_port()  # nothing listens here yet: the link is down
    secret, events = _setup(tmp_path, "http://127.0.0.1:%d" % port, 40)

    offline = terminal(device_bundle, tmp_path / "lostcard.json", tmp_path / "declines.jsonl")
    status = _status(offline)
    assert status["queued"] == len(events) and status["link"] == "down"
    assert status["evicted"] == 0 and status["corrupt"] == 0
    assert not (tmp_path / "prov.cbor").exists()  # the key material went into the queue state
    assert_shown_in_order(offline.stdout, events)

    collector = LocalCollector(tmp_path / "collector.db", secret, port=port).start()
    try:
        online = _status(terminal(device_bundle, tmp_path / "lostcard.json"))
        assert online["queued"] == 0 and online["link"] == "up" and online["last_sync"]
        again = _status(terminal(device_bundle, tmp_path / "lostcard.json"))
        assert again["queued"] == 0
    finally:
        collector.stop()
    assert_collected_once(tmp_path / "collector.db", events)


def test_a_terminal_refuses_a_bad_config_before_any_decline(device_bundle, tmp_path):
    _setup(tmp_path, "http://127.0.0.1:9", 1)
    config = json.loads((tmp_path / "lostcard.json").read_text())
    for change, words in (({"token_key": "00"}, "token_key"),
                          ({"device_id": "T-OTHER-1"}, "not T-OTHER-1"),
                          ({"provisioning": str(tmp_path / "absent")}, "unusable"),
                          ({"gc_threshold": "4K"}, "gc_threshold"),
                          ({"gc_threshold": -1}, "gc_threshold"),
                          # no trust store on a terminal: https verifies against collector_ca
                          ({"collector_url": "https://localhost:9"}, "needs collector_ca"),
                          ({"collector_ca": ["ca.pem"]}, "collector_ca must be a path")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(dict(config, **change)))
        proc = terminal(device_bundle, bad, tmp_path / "declines.jsonl")
        out = proc.stdout + proc.stderr  # MicroPython prints tracebacks on stdout
        assert proc.returncode == 1 and "ConfigError" in out and words in out, \
            out
    assert (tmp_path / "prov.cbor").exists()  # nothing consumed by a refused start
