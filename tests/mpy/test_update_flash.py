"""Updates on whichever interpreter runs this: on MicroPython (a 64 KiB heap) through the device's
FlashStorage, on the unix port's own file system (LittleFS, with power cuts:
littlefs_update_powercuts.py); under pytest over MemoryStorage. tests/test_update.py has every
refusal on CPython.
"""

import gc
import json
import sys

from lostcard import update, watchlist
from lostcard.protocol import POLICY, WATCHLIST
from lostcard.update import UpdateRefused
from update_objects import STEP, in_memory, made, spread, spread_object, until_installed

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto

MICROPYTHON = sys.implementation.name == "micropython"


def _storage():
    if not MICROPYTHON:
        from queue_fakes import MemoryStorage

        return MemoryStorage()
    from lostcard_mpy.storage import FlashStorage

    storage = FlashStorage("update-check")
    for name in list(storage.list()):  # what an earlier run left
        storage.remove(name)
    return storage


def _between(n):
    """A token just above the n-th spread entry's (below the next): on no spread watchlist."""
    return (STEP * (n + 1) + 1).to_bytes(15, "big") + b"\x00"


def test_a_full_watchlist_installs_and_is_searched_on_flash():
    storage = _storage()
    until_installed(storage, crypto, WATCHLIST, 3, *spread_object(crypto, 4094, 3))
    assert update.installed(storage, WATCHLIST) == 3
    for n in range(0, 4094, 13):
        assert watchlist.lookup(storage, spread(n)) == (3, n % 255 + 1), n
    for n in (0, 1, 2046, 4093):
        assert watchlist.lookup(storage, spread(n)) == (3, n % 255 + 1), n
        assert watchlist.lookup(storage, _between(n)) is None, n
    assert watchlist.lookup(storage, bytes(16)) is None
    assert watchlist.lookup(storage, b"\xff" * 16) is None


def test_a_lookup_allocates_under_1_kib():
    storage = _storage()
    until_installed(storage, crypto, WATCHLIST, 1, *spread_object(crypto, 4094))
    worst = 0
    for n in (0, 1000, 2047, 4093):
        for token in (spread(n), _between(n)):
            if MICROPYTHON:  # everything the lookup allocates, garbage included
                gc.collect()
                gc.disable()
                before = gc.mem_alloc()
                watchlist.lookup(storage, token)
                worst = max(worst, gc.mem_alloc() - before)
                gc.enable()
            else:
                watchlist.lookup(storage, token)
    assert worst < 1024, worst


def test_an_object_refused_on_the_device_leaves_the_installed_one():
    storage = _storage()
    until_installed(storage, crypto, WATCHLIST, 2, *spread_object(crypto, 300, 2))
    total, chunk_at = spread_object(crypto, 400, 3)
    forged = bytearray(chunk_at(CHUNK_AT_MAC))
    forged[20] ^= 1  # in the header's object MAC

    def forged_at(offset):
        return bytes(forged) if offset == CHUNK_AT_MAC else chunk_at(offset)

    for version, chunks, reason in ((3, forged_at, "object MAC does not verify"),
                                    (1, spread_object(crypto, 400, 1)[1], "not above 2")):
        try:
            until_installed(storage, crypto, WATCHLIST, version, total, chunks)
            raise AssertionError("installed")
        except UpdateRefused as exc:
            assert reason in exc.args[0], exc.args[0]
        assert update.partial(storage, WATCHLIST) == (0, 0)
        assert watchlist.lookup(storage, spread(299)) == (2, 300 % 255)
        assert watchlist.lookup(storage, spread(350)) is None


CHUNK_AT_MAC = 0  # the chunk that carries the header


POLICY_JSON = {"name": "acquirer-x",
               "response_codes": {"42": ["acquirer_42", "card_compromised", 60, "skimmed", "p",
                                         "card reported skimmed"], "05": None}}


def test_a_policy_is_checked_and_installed_within_the_heap():
    storage = _storage()
    body = json.dumps(POLICY_JSON).encode()
    until_installed(storage, crypto, POLICY, 1, *in_memory(made(crypto, POLICY, 1, body)))
    assert json.loads(update.policy_body(storage)) == POLICY_JSON
    bad = body.replace(b"60", b"600")  # points out of range: the terminal's check refuses it
    try:
        until_installed(storage, crypto, POLICY, 2, *in_memory(made(crypto, POLICY, 2, bad)))
        raise AssertionError("installed")
    except UpdateRefused as exc:
        assert "points must be 0..100" in exc.args[0], exc.args[0]
    assert update.installed(storage, POLICY) == 1 and update.partial(storage, POLICY) == (0, 0)
