"""`lostcard build-firmware`: refusals that say what is missing, nothing half-written, the cache."""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from lostcard_cpython import firmware
from firmware_boards import SOURCE, build


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "build-firmware"] + list(args),
                          capture_output=True, text=True, timeout=120, env=env)


def _refused(proc, words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lostcard: ") and words in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_directory_that_is_not_micropython_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    out = tmp_path / "out"
    _refused(cli("--micropython", str(tmp_path / "src"), "--board", "unix32", "--out", str(out)),
             "is not a MicroPython source tree")
    assert not out.exists()


def test_an_archive_that_is_not_micropython_is_refused(tmp_path):
    (tmp_path / "README").write_text("hello")
    with tarfile.open(tmp_path / "other.tar.xz", "w:xz") as tar:
        tar.add(tmp_path / "README", arcname="other/README")
    (tmp_path / "junk.tar.xz").write_bytes(b"not an archive")
    out = tmp_path / "out"
    env = dict(os.environ, LOSTCARD_CACHE=str(tmp_path / "cache"))
    _refused(cli("--micropython", str(tmp_path / "other.tar.xz"), "--board", "unix32", "--out", str(out),
                 env=env), "is not a MicroPython source archive")
    _refused(cli("--micropython", str(tmp_path / "junk.tar.xz"), "--board", "unix32", "--out", str(out),
                 env=env), "cannot unpack")
    _refused(cli("--micropython", str(tmp_path / "absent.tar.xz"), "--board", "unix32", "--out", str(out),
                 env=env), "does not exist")
    assert not out.exists()
    assert [p.name for p in (tmp_path / "cache" / "firmware").iterdir()] == []  # no half-unpacked tree


def test_a_missing_make_or_cross_compiler_names_the_package(tmp_path):
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no make, no compilers
    args = ("--micropython", str(tmp_path), "--board", "qemu-mps2-an385", "--out", str(tmp_path / "o"))
    _refused(cli(*args, env=env), "make not found: apt-get install make")
    (tmp_path / "make").symlink_to(shutil.which("make"))  # make, still no cross compiler
    _refused(cli(*args, env=env), "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    assert not (tmp_path / "o").exists()


def test_an_unknown_board_lists_the_boards(tmp_path):
    with pytest.raises(firmware.FirmwareError, match="choose one of unix32, qemu-mps2-an385"):
        firmware.build_firmware(tmp_path, "esp32", tmp_path / "out")
    assert cli("--micropython", str(tmp_path), "--board", "esp32", "--out", "x").returncode == 2


def test_a_second_build_with_nothing_changed_runs_no_compiler(tmp_path, monkeypatch):
    first = build("qemu-mps2-an385", tmp_path / "a")  # cached already by the firmware tests
    monkeypatch.setattr(firmware, "_make", lambda *a: pytest.fail("rebuilt with nothing changed"))
    again = firmware.build_firmware(SOURCE, "qemu-mps2-an385", tmp_path / "b")
    assert (tmp_path / "b" / "firmware.elf").read_bytes() == first.read_bytes()
    # the goal (<= 64 KiB) is not met since issue 15: the frozen lostcard holds at its ceiling
    assert again["lostcard_adds"] <= firmware.CEILING_ADDS


def test_the_frozen_words_answer_every_row_as_texts_txt_does():
    from lostcard.collector.policy_check import check
    from lostcard.policy import DEFAULT
    from lostcard.table import row
    from lostcard_cpython import mpybuild

    scope = {}
    exec(mpybuild.frozen_words(mpybuild.CORE / "lostcard" / "texts.txt"), scope)
    frozen = scope["TEXTS"]
    keys = [line.split("|")[0] for line in DEFAULT["texts"].splitlines() if "|" in line
            and not line.startswith("#")]
    assert len(keys) > 100
    for key in keys + ["why:", "nothing:here"]:  # prefixes and strangers: no row
        assert row(frozen, key) == row(DEFAULT["texts"], key), key
    check(dict(DEFAULT, texts=frozen))  # the collector's policy check reads the frozen words too


def test_a_link_cut_short_in_the_build_cache_is_relinked_not_served(tmp_path):
    first = build("qemu-mps2-an385", tmp_path / "a")
    key = json.loads((tmp_path / "a" / "firmware.json").read_text())["key"]
    cache = firmware.cache_root()
    done = cache / ("image-qemu-mps2-an385-" + key)
    linked = [p for p in cache.glob("build-qemu-mps2-an385-*-lostcard/firmware.elf")
              if p.read_bytes() == first.read_bytes()]
    assert linked
    linked[0].write_bytes(first.read_bytes()[:100_000])  # a killed linker's newer, broken file
    shutil.rmtree(done)  # as if the bundle had changed: the image must be made again
    again = firmware.build_firmware(SOURCE, "qemu-mps2-an385", tmp_path / "b")
    assert (tmp_path / "b" / "firmware.elf").read_bytes() == first.read_bytes()
    assert again["lostcard_adds"] > 0
