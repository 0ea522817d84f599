"""Power cuts on real LittleFS while an update is fetched and installed: the old object or the new.

    micropython littlefs_update_powercuts.py MODE

MODE "stop", "half" or "garble" cuts the power at each block write in turn (as
littlefs_powercuts.py does for the queue); "calls" at each storage call (lostcard_tools'
CutStorage over the device's FlashStorage). A terminal with watchlist 1 and policy 1 installed
fetches and installs watchlist 2 then policy 2, until the cut; the flash is mounted again and
checked: each installed file is byte for byte the old object or the new (never missing, never a
mix), its version and lookups say the same, and the fetch then resumes to the new ones, leaving
no partial behind. Prints "OK <cuts> cuts, workload <writes> writes" or raises.
"""

import gc
import hashlib
import os
import sys

from lostcard import update, watchlist
from lostcard.protocol import POLICY, WATCHLIST
from lostcard_mpy.storage import FlashStorage
from lostcard_tools.cut_storage import CutStorage
from lostcard_tools.fake_flash import PowerCut, RamBlockDevice
from lostcard_mpy import crypto
from update_objects import in_memory, made, spread, spread_object, until_installed

import heap  # noqa: F401  (the tests' gc threshold)

BLOCK = 256
BLOCKS = 32
MOUNT = "/u"
FLASH = bytearray(BLOCK * BLOCKS)
OLD_WATCH = (1, 40)  # (version, entries): 672 bytes
NEW_WATCH = (2, 70)  # 1,152 bytes: two chunks
OLD_POLICY = made(crypto, POLICY, 1, b'{"name": "acquirer-x", "response_codes": {"05": null}}')
NEW_POLICY = made(crypto, POLICY, 2, b'{"name": "acquirer-y", "response_codes": {}}')


def _digest(total, chunk_at):
    digest = hashlib.sha256()
    for offset in range(0, total, 1024):
        digest.update(chunk_at(offset))
    return digest.digest()


def _file_digest(storage, name):
    digest = hashlib.sha256()
    at = 0
    while True:
        piece = storage.read_at(name, at, 512)
        if not piece:
            return digest.digest()
        digest.update(piece)
        at += len(piece)


WATCH = {version: spread_object(crypto, count, version) for version, count in (OLD_WATCH,
                                                                               NEW_WATCH)}
DIGESTS = {("watch.lcu", v): _digest(*WATCH[v]) for v in WATCH}
DIGESTS.update({("policy.lcu", 1): hashlib.sha256(OLD_POLICY).digest(),
                ("policy.lcu", 2): hashlib.sha256(NEW_POLICY).digest()})


def _mounted(bd):
    os.mount(os.VfsLfs2(bd), MOUNT)  # type: ignore[attr-defined]
    return FlashStorage(MOUNT + "/queue")


def workload(storage):
    until_installed(storage, crypto, WATCHLIST, 2, *WATCH[2])
    until_installed(storage, crypto, POLICY, 2, *in_memory(NEW_POLICY))


def check(storage):
    for kind, name in ((WATCHLIST, "watch.lcu"), (POLICY, "policy.lcu")):
        version = update.installed(storage, kind)
        assert version in (1, 2), (name, version)
        assert _file_digest(storage, name) == DIGESTS[(name, version)], ("a mix", name)
    version = update.installed(storage, WATCHLIST)
    assert watchlist.lookup(storage, spread(39)) == (version, 40)
    assert watchlist.lookup(storage, spread(69)) == ((2, 70) if version == 2 else None)
    workload(storage)  # the fetch resumes, from the partial or from the start
    assert update.installed(storage, WATCHLIST) == 2 and update.installed(storage, POLICY) == 2
    assert sorted(storage.list()) == ["policy.lcu", "watch.lcu"], list(storage.list())


def _unmount():
    try:
        os.umount(MOUNT)
    except (OSError, PowerCut):  # a dead device: its last writes fail
        pass


def run(cut_at, mode):
    for i in range(len(FLASH)):  # factory-fresh flash
        FLASH[i] = 0xFF
    bd = RamBlockDevice(BLOCK, BLOCKS, FLASH)
    os.VfsLfs2.mkfs(bd)  # type: ignore[attr-defined]
    storage = _mounted(bd)
    until_installed(storage, crypto, WATCHLIST, 1, *WATCH[1])
    until_installed(storage, crypto, POLICY, 1, *in_memory(OLD_POLICY))
    if mode == "calls":
        storage = CutStorage(storage, cut_at)
    else:
        os.umount(MOUNT)
        bd.cut_at, bd.mode, bd.writes = cut_at, mode, 0
        storage = _mounted(bd)
    cut = False
    try:
        workload(storage)
    except PowerCut:
        cut = True
    _unmount()
    writes = storage.calls if mode == "calls" else bd.writes
    bd.dead = True
    storage = None
    gc.collect()  # the abandoned mount's files are finalised against the dead device
    bd = RamBlockDevice(BLOCK, BLOCKS, bd.data)  # power back on
    try:
        check(_mounted(bd))
    finally:
        os.umount(MOUNT)
    return cut, writes


def main(mode):
    cuts = 0
    while True:
        cut, writes = run(cuts + 1, mode)
        if not cut:  # the workload finished before this cut: every write was cut once
            break
        cuts += 1
        gc.collect()
    print("OK %d cuts, workload %d writes" % (cuts, writes))


if __name__ == "__main__":
    main(sys.argv[1])
