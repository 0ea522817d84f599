"""The terminal on an emulated Cortex-M3 (QEMU MPS2-AN385) with lostcard frozen into its firmware, at
the board's 64 KiB heap, the queue on LittleFS in the board's flash (tests/firmware_boards.py).

The board has no network: declines come in and the sync goes out over its serial console, which
this side relays to a real collector on loopback, so the sealed records cross to CPython's checks.
"""

import json

import httpx
import pytest

from lostcard.decision import classify
from lostcard_cpython.local_collector import LocalCollector
from firmware_boards import build
from lostcard_cpython.qemu_board import Qemu
from terminal_setup import assert_collected_once, provisioned_terminal


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    return build("qemu-mps2-an385", tmp_path_factory.mktemp("fw-qemu"))


def _boot(elf, workdir):
    board = Qemu(elf, workdir)
    try:
        # what the board runs is frozen: lostcard from ROM, nothing of it on the flash
        assert board.run("import os, lostcard.decision as d; print(d.__file__, 'lostcard' in "
                         "os.listdir())").split() == ["lostcard/decision.py", "False"]
    except BaseException:
        board.close()
        raise
    return board


def _relay(board, url):
    """Answer the board's POSTs from the collector until it reports its status; return it."""
    while True:
        line = board.line()
        if line.startswith("POST "):
            _, path, body = line.split(" ", 2)
            reply = httpx.post(url + path, content=bytes.fromhex(body), timeout=30,
                               headers={"Content-Type": "application/cbor"})
            board.send("%d %s\n" % (reply.status_code, reply.content.hex() or "-"))
        elif line.startswith("S "):
            return json.loads(line[2:])


def test_declines_on_the_board_then_a_reboot_and_a_sync_over_the_console(elf, bundle, tmp_path):
    collector = LocalCollector(tmp_path / "collector.db", tmp_path / "fleet.secret")
    secret, events = provisioned_terminal(tmp_path, "serial:", 100, queue_dir="q",
                                          provisioning="prov.cbor")
    board = _boot(elf, tmp_path)
    try:
        for name in ("lostcard.json", "prov.cbor"):  # the only files a terminal needs
            board.put(name, (tmp_path / name).read_bytes())
        board.put("board_driver.mpy", (bundle / "board_driver.mpy").read_bytes())
        board.start("import board_driver; board_driver.main('lostcard.json')")
        for event in events:
            board.send(json.dumps(event) + "\n")
            got = json.loads(board.line()[2:])
            want = classify(event)
            assert {k: got[k] for k in want} == want, event
            assert got["stored"], got.get("store_error")
        board.send("STATUS\nEND\n")
        status = json.loads(board.line()[2:])
        assert status["queued"] == len(events) and status["evicted"] == 0 and status["corrupt"] == 0
        board.finish()
        board.reset()
    finally:
        board.close()

    collector.start()
    board = _boot(elf, tmp_path)  # a reboot: the same flash image
    try:
        board.start("import board_driver; board_driver.main('lostcard.json')")
        board.send("STATUS\n")
        assert json.loads(board.line()[2:])["queued"] == len(events)  # the queue survived
        board.send("SYNC\n")
        status = _relay(board, collector.url)
        assert status["queued"] == 0 and status["link"] == "up"
        board.send("END\n")
        board.finish()
        board.reset()
    finally:
        board.close()
        collector.stop()
    assert_collected_once(tmp_path / "collector.db", events)


def test_os_urandom_is_the_hosts_entropy_not_the_ports_fixed_seed(elf, tmp_path):
    """The qemu port's own mp_hal_get_random is an LCG from seed 0: the same bytes after every
    reset, which would repeat sync nonces. The board replaces it at link time."""
    lcg_first_bytes = bytes.fromhex("3c47d1aa629f57a3")
    seen = []
    for _ in range(2):  # two power-ons
        board = _boot(elf, tmp_path)
        try:
            seen.append(bytes.fromhex(board.run("import os; print(os.urandom(8).hex())").strip()))
            board.reset()
        finally:
            board.close()
    assert seen[0] != seen[1] and lcg_first_bytes not in seen


def test_a_flash_that_does_not_mount_is_kept_not_formatted(elf, tmp_path):
    board = _boot(elf, tmp_path)
    try:
        board.put("keep.txt", b"incidents")
        board.reset()
    finally:
        board.close()
    image = tmp_path / Qemu.IMAGE
    whole = image.read_bytes()
    image.write_bytes(whole[:4096])  # cut short, as a crash while it was created would
    board = Qemu(elf, tmp_path)
    try:
        listing = board.run_unchecked("import os; print(os.listdir())")
        board.close()
    finally:
        board.close()
    assert listing is None or "keep.txt" not in listing  # no file system, and none made up
    assert image.read_bytes() == whole[:4096]  # not reformatted
