"""The terminal as firmware: lostcard frozen into MicroPython's unix port built as a 32-bit program,
run at a 48 KiB heap (tests/firmware_boards.py builds it, cached).

Frozen bytecode and the policy's words stay in the image, so the heap holds only what runs: the
same main.py and harnesses as the .mpy tests, at three quarters of their heap.
"""

import json
import re
import shutil

import pytest

from lostcard.decision import classify
from lostcard_cpython import paths, scenarios
from lostcard_cpython.local_collector import LocalCollector, free_port
from firmware_boards import SOURCE, build, tools_only, unix32
from terminal_setup import assert_collected_once, assert_shown_in_order, lostcard, \
    provisioned_terminal, status

HEAP = "48K"


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    return build("unix32", tmp_path_factory.mktemp("fw-unix32"))


@pytest.fixture(scope="module")
def tools(bundle, tmp_path_factory):
    return tools_only(bundle, tmp_path_factory.mktemp("tools") / "bundle")


def test_every_fixture_decides_as_cpython_decides(exe, tools):
    proc = unix32(exe, ["-m", "decide_fixtures", paths.SCENARIOS], cwd=tools, heap=HEAP)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    items = scenarios.load()
    assert len(got) == len(items)
    for item, decision in zip(items, got):
        assert decision == classify(item["event"]), item["name"]


def test_every_block_write_cut_on_littlefs(exe, tools):
    proc = unix32(exe, ["-m", "littlefs_powercuts", "stop", "1", "100000", "1", "1"], cwd=tools,
                  heap=HEAP)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("OK"), proc.stdout[-2000:] + proc.stderr
    cuts, writes = [int(w) for w in last.split() if w.isdigit()]
    assert cuts == writes and cuts >= 40  # exhaustive: a cut at every block write


def _readme_build(host):
    """Run the README's `build-firmware` line in `host` (with the tests' MicroPython source); the
    firmware it wrote."""
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^\s*\.venv/bin/lostcard (build-firmware .*)$", readme, re.M).group(1).split()
    line[line.index("--micropython") + 1] = str(SOURCE)
    lostcard(*line[:1], *[str(host / w) if w.startswith("build/") else w for w in line[1:]])
    return host / "build" / "fw" / "micropython"


def _recipe_copies(readme):
    """The `mpremote cp SRC :DEST` lines of the README's freezing recipe and of its provisioning
    step, in order."""
    section = readme[readme.index("**Or freeze it**"):readme.index("4. **Configure**")]
    return re.findall(r"^\s*mpremote cp (\S+) :(\S+)", section, re.M)


@pytest.mark.parametrize("resident", [True, False], ids=["resident", "phases"])
def test_the_readme_freezing_recipe_then_a_day_offline_and_a_sync(exe, tmp_path, resident):
    port = free_port()  # nothing listens yet: the link is down
    host = tmp_path / "host"  # the integrator's machine, in the checkout as the README has it
    host.mkdir()
    lostcard("build-mpy", "--out", str(host / "build" / "device"))
    exe = _readme_build(host)  # the README's build-firmware line, on the tests' source
    secret, events = provisioned_terminal(host, "http://127.0.0.1:%d" % port, 30, queue_dir="queue",
                                          provisioning="prov.cbor", resident=resident)
    flash = tmp_path / "flash"  # the device's file system: what the recipe copies, nothing else
    flash.mkdir()
    copies = _recipe_copies((paths.ROOT / "README.md").read_text(encoding="utf-8"))
    assert [dest for _, dest in copies] == ["main.py", "lostcard.json", "prov.cbor"]
    for source, dest in copies:
        shutil.copyfile(host / source, flash / dest)
    (flash / "token.key").write_text("5a" * 32)  # main.py's stand-in for the platform's key store
    (host / "declines.jsonl").rename(tmp_path / "declines.jsonl")

    imported = unix32(exe, ["-c", "import lostcard_mpy, lostcard.terminal as t; print(t.__file__)"],
                      cwd=flash, heap=HEAP)
    assert imported.stdout.split() == ["lostcard/terminal.py"], imported.stdout + imported.stderr

    offline = unix32(exe, ["main.py", "lostcard.json", tmp_path / "declines.jsonl"], cwd=flash,
                     heap=HEAP)
    state = status(offline)
    assert state["queued"] == len(events) and state["link"] == "down" and state["evicted"] == 0
    assert_shown_in_order(offline.stdout, events)

    collector = LocalCollector(tmp_path / "collector.db", secret, port=port).start()
    try:
        online = status(unix32(exe, ["main.py", "lostcard.json"], cwd=flash, heap=HEAP))
        assert online["queued"] == 0 and online["link"] == "up"
    finally:
        collector.stop()
    assert_collected_once(tmp_path / "collector.db", events)
    assert sorted(p.name for p in flash.iterdir()) == ["lostcard.json", "main.py", "queue",
                                                      "token.key"]  # prov.cbor consumed
