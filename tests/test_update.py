"""Updates on the terminal's flash (lostcard.update, lostcard.watchlist) on CPython's directory
storage: every refusal keeps the installed object, chunks resume, and a power cut at any storage
call leaves the old object or the new one. The same on MicroPython and LittleFS:
tests/mpy/test_update.py, tests/mpy/littlefs_update_powercuts.py (tests/test_queue_powercut.py).
"""

import hashlib
import json
import shutil
import struct
import tempfile

import cbor2
import pytest
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC

from lostcard import protocol, update, watchlist
from lostcard.protocol import CHUNK_LEN, HEADER_LEN, POLICY, WATCHLIST
from lostcard.queue import Queue
from lostcard.update import UpdateRefused
from lostcard_cpython import crypto
from lostcard_cpython.storage import DirStorage
from lostcard_tools.cut_storage import CutStorage
from lostcard_tools.fake_flash import PowerCut
from micropython_process import micropython
from queue_fakes import MemoryStorage, PlainSealer
from update_objects import DEVICE, KEY, in_memory, made, token, until_installed, watchlist_body

POLICY_JSON = {"name": "acquirer-x",
               "response_codes": {"42": ["acquirer_42", "card_compromised", 60, "skimmed", "p",
                                         "card reported skimmed"], "05": None}}


def policy_object(version, overrides=POLICY_JSON):
    return made(crypto, POLICY, version, json.dumps(overrides).encode())


@pytest.fixture
def storage(tmp_path):
    return DirStorage(str(tmp_path / "q"))


def fetched(storage, kind, obj, version, start=0):
    """Add `obj` chunk by chunk from `start`, as fetch replies carry it; True once whole."""
    for offset in range(start, len(obj), CHUNK_LEN):
        whole = update.add_chunk(storage, kind, version, len(obj), offset,
                                 obj[offset:offset + CHUNK_LEN])
        assert whole == (offset + CHUNK_LEN >= len(obj))
    return whole


def installed_now(storage, kind, obj, version):
    assert fetched(storage, kind, obj, version)
    assert update.partial(storage, kind) == (version, len(obj))
    assert update.install(storage, kind, crypto, KEY, DEVICE) == version
    assert update.installed(storage, kind) == version
    assert update.partial(storage, kind) == (0, 0)


def test_the_watchlist_constants_are_the_protocols():
    # watchlist.py reads headers without importing the protocol (the decide phase loads it alone)
    assert watchlist.HEADER_LEN == protocol.HEADER_LEN
    assert (watchlist.MAX_ENTRIES + 1) * watchlist.ENTRY <= 1 << 16
    assert update.MAX_TOTAL[WATCHLIST] == HEADER_LEN + 4094 * 16
    assert update.MAX_TOTAL[POLICY] == HEADER_LEN + 4096
    assert update.NAMES[WATCHLIST] + ".lcu" == watchlist.NAME


def test_a_full_watchlist_installs_and_every_token_is_found(storage):
    body = watchlist_body(4094)
    obj = made(crypto, WATCHLIST, 1, body)
    assert len(obj) == 1 << 16
    assert update.installed(storage, WATCHLIST) == 0
    assert watchlist.lookup(storage, token(0)) is None  # none installed
    installed_now(storage, WATCHLIST, obj, 1)
    for n in range(4094):
        assert watchlist.lookup(storage, token(n)) == (1, 1 + n % 255), n
    for n in range(4094, 4200):
        assert watchlist.lookup(storage, token(n)) is None
    ends = sorted(range(4094), key=lambda n: token(n))
    assert watchlist.lookup(storage, token(ends[0])) and watchlist.lookup(storage, token(ends[-1]))
    assert watchlist.lookup(storage, bytes(16)) is None
    assert watchlist.lookup(storage, b"\xff" * 16) is None
    # the 16th byte of a token is not kept: a token differing only there is the same card
    assert watchlist.lookup(storage, token(7)[:15] + b"\x00") == (1, 8)


def test_a_newer_watchlist_replaces_the_old_one(storage):
    installed_now(storage, WATCHLIST, made(crypto, WATCHLIST, 1, watchlist_body(10)), 1)
    installed_now(storage, WATCHLIST, made(crypto, WATCHLIST, 5, watchlist_body(10, 5)), 5)
    assert watchlist.lookup(storage, token(0)) is None
    assert watchlist.lookup(storage, token(14)) == (5, 15)
    assert sorted(storage.list()) == ["watch.lcu"]


def test_a_policy_installs_and_its_body_is_read_back(storage):
    assert update.policy_body(storage) is None
    obj = policy_object(3)
    installed_now(storage, POLICY, obj, 3)
    assert json.loads(update.policy_body(storage)) == POLICY_JSON
    assert update.installed(storage, WATCHLIST) == 0  # kinds apart


def test_the_largest_policy_fits_and_one_byte_more_is_refused(storage):
    body = json.dumps(POLICY_JSON).encode()
    body += b" " * (4096 - len(body))  # JSON may end in blanks
    installed_now(storage, POLICY, made(crypto, POLICY, 1, body), 1)
    obj = made(crypto, POLICY, 2, body + b" ")
    with pytest.raises(UpdateRefused, match="object of 4129 bytes refused"):
        update.add_chunk(storage, POLICY, 2, len(obj), 0, obj[:CHUNK_LEN])
    assert update.installed(storage, POLICY) == 1 and update.partial(storage, POLICY) == (0, 0)


def _refused(storage, kind, obj, version, reason):
    """Fetch `obj` whole, install it: refused for `reason`, partial gone, installed untouched."""
    before = {name: storage.read(name) for name in storage.list()}
    with pytest.raises(UpdateRefused) as refusal:
        assert fetched(storage, kind, obj, version)
        update.install(storage, kind, crypto, KEY, DEVICE)
    text = refusal.value.args[0]
    assert reason in text and len(text) <= 48 and "\n" not in text, text
    assert {name: storage.read(name) for name in storage.list()} == before
    assert update.partial(storage, kind) == (0, 0)


def _forged(obj, at):
    damaged = bytearray(obj)
    damaged[at] ^= 1
    return bytes(damaged)


def _with_v2_installed(storage):
    installed_now(storage, WATCHLIST, made(crypto, WATCHLIST, 2, watchlist_body(300)), 2)
    installed_now(storage, POLICY, policy_object(2), 2)


@pytest.mark.parametrize("kind", [POLICY, WATCHLIST])
def test_a_forged_object_is_refused(storage, kind):
    _with_v2_installed(storage)
    body = json.dumps(POLICY_JSON).encode() if kind == POLICY else watchlist_body(400)
    obj = made(crypto, kind, 3, body)
    for at in (len(obj) - 1, HEADER_LEN, HEADER_LEN - 1, 16):  # body, MAC, first MAC byte
        _refused(storage, kind, _forged(obj, at), 3, "object MAC does not verify")
    # made for another device, or under another key
    _refused(storage, kind, made(crypto, kind, 3, body, device="T-OTHER"), 3, "MAC")
    _refused(storage, kind, made(crypto, kind, 3, body, key=b"\x42" * 32), 3, "MAC")
    # the MAC of version 3 on a header saying 4: a version cannot be raised
    raised = obj[:8] + (4).to_bytes(4, "big") + obj[12:]
    _refused(storage, kind, raised, 4, "object MAC does not verify")
    installed_now(storage, kind, obj, 3)  # the genuine one still goes in


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_or_equal_version_is_refused(storage, version):
    _with_v2_installed(storage)
    _refused(storage, WATCHLIST, made(crypto, WATCHLIST, version, watchlist_body(5)), version,
             "version %d not above 2" % version)
    _refused(storage, POLICY, policy_object(version), version, "not above 2")


def test_a_truncated_or_overlong_object_is_refused(storage):
    _with_v2_installed(storage)
    obj = made(crypto, WATCHLIST, 3, watchlist_body(100))
    # the header says 1,600 bytes of body; the partial holds fewer (the collector sent a
    # shorter object than its header) or more
    short = obj[:-16]
    storage.replace("watch.new", short)
    with pytest.raises(UpdateRefused, match="truncated: 1584 of 1600 bytes"):
        update.install(storage, WATCHLIST, crypto, KEY, DEVICE)
    storage.replace("watch.new", obj + bytes(16))
    with pytest.raises(UpdateRefused, match="longer than its header says"):
        update.install(storage, WATCHLIST, crypto, KEY, DEVICE)
    storage.replace("watch.new", obj[:20])
    assert update.partial(storage, WATCHLIST) == (3, 20)  # a header's worth, to go on from
    with pytest.raises(UpdateRefused, match="truncated: 0 of 1600 bytes"):
        update.install(storage, WATCHLIST, crypto, KEY, DEVICE)
    storage.replace("watch.new", policy_object(3))
    with pytest.raises(UpdateRefused, match="not a watch object"):
        update.install(storage, WATCHLIST, crypto, KEY, DEVICE)
    assert update.partial(storage, WATCHLIST) == (0, 0) and update.installed(storage, WATCHLIST) == 2


def test_an_oversized_object_is_refused_before_it_is_fetched(storage):
    _with_v2_installed(storage)
    big = made(crypto, WATCHLIST, 3, watchlist_body(4095))  # one entry too many
    with pytest.raises(UpdateRefused, match="object of 65552 bytes refused"):
        update.add_chunk(storage, WATCHLIST, 3, len(big), 0, big[:CHUNK_LEN])
    assert update.partial(storage, WATCHLIST) == (0, 0)
    # a header claiming more than the cap, even with the reply's total within it
    storage.replace("watch.new", big)
    with pytest.raises(UpdateRefused, match="object of 65552 bytes refused"):
        update.install(storage, WATCHLIST, crypto, KEY, DEVICE)
    with pytest.raises(UpdateRefused, match="object of 32 bytes refused"):
        update.add_chunk(storage, POLICY, 3, HEADER_LEN, 0, big[:HEADER_LEN])
    assert update.installed(storage, WATCHLIST) == 2 and update.installed(storage, POLICY) == 2


def test_a_header_other_than_the_offer_is_refused_at_the_first_chunk(storage):
    obj = made(crypto, WATCHLIST, 3, watchlist_body(100))
    for version, total, first in ((4, len(obj), obj), (3, len(obj) + 16, obj),
                                  (3, len(obj), policy_object(3)),
                                  (3, len(obj), b"LCU2" + obj[4:])):
        with pytest.raises(UpdateRefused, match="header does not match the offer"):
            update.add_chunk(storage, WATCHLIST, version, total, 0, first[:CHUNK_LEN])
        assert update.partial(storage, WATCHLIST) == (0, 0)


def _entries(*pairs):
    return b"".join(token(n)[:15] + bytes((terminals,)) for n, terminals in pairs)


@pytest.mark.parametrize("body, reason", [
    (_entries((1, 2), (2, 3)) if token(1) > token(2) else _entries((2, 3), (1, 2)), "unsorted"),
    (_entries((1, 2), (1, 3)), "unsorted"),  # the same token twice: not strictly ascending
    (watchlist_body(40)[:16 * 20] + token(9999)[:15] + b"\x00" + watchlist_body(40)[16 * 20:],
     "without terminals"),
    (watchlist_body(40)[:-1], "not a multiple of 16"),
    (watchlist_body(3)[:-2] + b"\x00\x00", "without terminals"),
])
def test_a_watchlist_out_of_order_or_malformed_is_refused(storage, body, reason):
    _with_v2_installed(storage)
    _refused(storage, WATCHLIST, made(crypto, WATCHLIST, 3, body), 3, reason)


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "policy is not JSON"),
    (b"\xff\xfe{}", "policy is not JSON"),
    (b"[1, 2]", "overrides must be an object"),
    (json.dumps({"name": "x", "response_codes": {"42": ["r", "alien_cause", 5, "s", "", "m"]}}),
     "unknown cause"),
    (json.dumps({"name": "x", "response_codes": {"42": ["r", "card_compromised", 500, "s", "",
                                                        "m"]}}), "points must be 0..100"),
    (json.dumps({"name": "x", "response_codes": {"42": ["r", "card_compromised", 5, "s", 7,
                                                        "m"]}}), "not iterable"),
    (json.dumps({"name": "", "response_codes": {}}), "overrides need a name"),
    (json.dumps({"name": "x", "other": 1}), "may only set name"),
])
def test_a_policy_that_fails_the_check_is_refused(storage, body, reason):
    _with_v2_installed(storage)
    body = body.encode() if isinstance(body, str) else body
    _refused(storage, POLICY, made(crypto, POLICY, 3, body), 3, reason)
    assert json.loads(update.policy_body(storage)) == POLICY_JSON


def test_chunks_resume_across_restarts_and_restart_when_they_do_not_follow(tmp_path):
    obj = made(crypto, WATCHLIST, 4, watchlist_body(1000))  # 16 chunks
    storage = DirStorage(str(tmp_path / "q"))
    assert not update.add_chunk(storage, WATCHLIST, 4, len(obj), 0, obj[:CHUNK_LEN])
    assert not update.add_chunk(storage, WATCHLIST, 4, len(obj), CHUNK_LEN, obj[CHUNK_LEN:2048])
    storage = DirStorage(str(tmp_path / "q"))  # power off and on: the partial stays
    assert update.partial(storage, WATCHLIST) == (4, 2048)
    # a chunk from elsewhere than the end: the partial starts again (the next fetch from 0)
    assert not update.add_chunk(storage, WATCHLIST, 4, len(obj), 3072, obj[3072:4096])
    assert update.partial(storage, WATCHLIST) == (0, 0)
    for offset in range(0, 5 * CHUNK_LEN, CHUNK_LEN):
        assert not update.add_chunk(storage, WATCHLIST, 4, len(obj), offset,
                                    obj[offset:offset + CHUNK_LEN])
    assert update.partial(storage, WATCHLIST) == (4, 5 * CHUNK_LEN)
    # a newer version published meanwhile: the reply is its, from offset 0
    newer = made(crypto, WATCHLIST, 5, watchlist_body(1000, 1))
    assert not update.add_chunk(storage, WATCHLIST, 5, len(newer), 5120, newer[5120:6144])
    assert update.partial(storage, WATCHLIST) == (0, 0)
    assert fetched(storage, WATCHLIST, newer, 5)
    # a cut after the last chunk but before install: the next reply, empty, says it is whole
    assert update.add_chunk(storage, WATCHLIST, 5, len(newer), len(newer), b"")
    assert update.install(storage, WATCHLIST, crypto, KEY, DEVICE) == 5
    assert watchlist.lookup(storage, token(1000)) == (5, 1 + 1000 % 255)


def test_a_chunk_past_the_object_or_empty_before_its_end_is_refused(storage):
    obj = policy_object(1)
    with pytest.raises(UpdateRefused, match="chunk outside the object"):
        update.add_chunk(storage, POLICY, 1, len(obj) - 1, 0, obj)
    update.add_chunk(storage, POLICY, 1, len(obj), 0, obj[:40])
    with pytest.raises(UpdateRefused, match="chunk outside the object"):
        update.add_chunk(storage, POLICY, 1, len(obj), 40, b"")
    assert update.partial(storage, POLICY) == (0, 0)


def test_the_queue_passes_over_the_update_files(tmp_path):
    storage = DirStorage(str(tmp_path / "q"))
    Queue.provision(storage, b"\x07" * 32)
    installed_now(storage, WATCHLIST, made(crypto, WATCHLIST, 1, watchlist_body(50)), 1)
    partial = policy_object(2)
    update.add_chunk(storage, POLICY, 2, len(partial), 0, partial[:100])
    q = Queue(storage, PlainSealer, rotate_bytes=200)
    seqs = [q.append({"n": n}, 1 + n % 3) for n in range(12)]
    q = Queue(DirStorage(str(tmp_path / "q")), PlainSealer, rotate_bytes=200)
    assert sorted(s for lane in (1, 2, 3) for s, _ in q.pending(lane)) == seqs
    assert q.stats()["unreadable_segments"] == 0 and q.stats()["corrupt"] == 0
    assert {"watch.lcu", "policy.new"} <= set(storage.list())


# -- power cuts ------------------------------------------------------------------------------

OLD = made(crypto, WATCHLIST, 1, watchlist_body(200))
NEW = made(crypto, WATCHLIST, 2, watchlist_body(300, 100))
OLD_POLICY = policy_object(1)
NEW_POLICY = policy_object(2, {"name": "acquirer-y", "response_codes": {"05": None}})


def _until_installed(storage, kind, obj, version):
    until_installed(storage, crypto, kind, version, *in_memory(obj))


@pytest.mark.parametrize("kind, old, new", [(WATCHLIST, OLD, NEW),
                                            (POLICY, OLD_POLICY, NEW_POLICY)])
def test_a_power_cut_at_every_storage_call_leaves_the_old_object_or_the_new(kind, old, new):
    name = update.NAMES[kind] + ".lcu"
    cut_at = 1
    while True:
        files = {}
        _until_installed(MemoryStorage(files), kind, old, 1)
        storage = CutStorage(MemoryStorage(files), cut_at,
                             kept=lambda size: (cut_at * 7919) % (size + 1))
        try:
            _until_installed(storage, kind, new, 2)
            break  # the update finished before the cut: every call was cut once
        except PowerCut:
            pass
        after = MemoryStorage(files)  # power back
        assert files[name] in (old, new), cut_at  # the old or the new, never a mix
        assert update.installed(after, kind) == (2 if files[name] == new else 1)
        if kind == WATCHLIST:
            assert watchlist.lookup(after, token(150)) == (update.installed(after, kind), 151)
        _until_installed(after, kind, new, 2)  # and the fetch resumes to the end
        assert files[name] == new and set(files) == {name}
        cut_at += 1
    # each chunk's write (a replace, then appends) and the rename were cut
    assert cut_at - 1 == storage.calls == -(-len(new) // CHUNK_LEN) + 1


@pytest.mark.parametrize("mode, least", [("calls", 5), ("stop", 20), ("half", 20),
                                         ("garble", 20)])
def test_every_cut_on_littlefs_leaves_the_old_object_or_the_new(bundle, mode, least):
    # 96 KiB: the harness keeps the flash in the heap beside update, the protocol and, for the
    # policy's check, the policy and override modules (~49 KiB of .mpy code and names)
    proc = micropython(bundle, ["-m", "littlefs_update_powercuts", mode], heap="96K")
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("OK"), proc.stderr[-2000:] + last
    cuts, writes = [int(w) for w in last.split() if w.isdigit()]
    assert cuts == writes >= least  # exhaustive: a cut at every write of the workload


def test_a_refusal_cut_short_leaves_the_partial_or_nothing():
    files = {}
    _until_installed(MemoryStorage(files), POLICY, OLD_POLICY, 1)
    forged = _forged(NEW_POLICY, len(NEW_POLICY) - 2)
    update.add_chunk(MemoryStorage(files), POLICY, 2, len(forged), 0, forged)
    with pytest.raises(PowerCut):  # the cut takes the remove of the refused partial
        update.install(CutStorage(MemoryStorage(files), 1), POLICY, crypto, KEY, DEVICE)
    assert files["policy.lcu"] == OLD_POLICY and files["policy.new"] == forged
    with pytest.raises(UpdateRefused):  # refused again at the next attempt, then gone
        update.install(MemoryStorage(files), POLICY, crypto, KEY, DEVICE)
    assert set(files) == {"policy.lcu"}


def test_the_digest_is_of_the_body_alone():
    # the object MAC binds sha256(body): the header's MAC field is not under itself
    obj = policy_object(9)
    assert obj[16:32] == protocol.object_mac(crypto, KEY, DEVICE, POLICY, 9,
                                             hashlib.sha256(obj[32:]).digest())


# -- across the line: objects made by `cryptography` on MicroPython, and back -----------------

def _independently_made(kind, version, body, key=KEY, device=DEVICE):
    """An object made with `cryptography`'s HMAC and cbor2: no lostcard code in its MAC."""
    mac = HMAC(key, SHA256())
    mac.update(cbor2.dumps([device, "object", kind, version, hashlib.sha256(body).digest()]))
    return (b"LCU1" + bytes((kind, 0, 0, 0)) + struct.pack(">II", version, len(body))
            + mac.finalize()[:16] + body)


def _hmac_tokens(count):
    """Keyed tokens as record.py makes them, of made-up card numbers."""
    return [crypto.hmac_sha256(b"\x5a" * 32, b"4000%012d" % n)[:16] for n in range(count)]


def test_a_watchlist_made_with_cryptography_is_installed_and_searched_on_micropython(
        bundle, tmp_path):
    tokens = _hmac_tokens(4200)
    listed = tokens[:4094]
    body = b"".join(sorted(t[:15] + bytes((1 + t[15] % 255,)) for t in listed))
    obj = _independently_made(WATCHLIST, 7, body)
    assert obj == made(crypto, WATCHLIST, 7, body)  # the test's maker agrees with cryptography
    (tmp_path / "watch.obj").write_bytes(obj)
    # a path as short as a terminal's queue directory: the unix port's open() copies it
    flash = bundle / "update-interop"
    shutil.rmtree(flash, ignore_errors=True)
    proc = micropython(bundle, ["-m", "update_interop", "install", flash.name, "2", "7",
                                str(tmp_path / "watch.obj")])
    assert proc.returncode == 0 and proc.stdout.split() == ["7"], proc.stdout + proc.stderr
    assert (flash / "watch.lcu").read_bytes() == obj and sorted(p.name for p in flash.iterdir()) \
        == ["watch.lcu"]
    asked = tokens[::9]  # on the list and not
    (tmp_path / "tokens.txt").write_text("".join(t.hex() + "\n" for t in asked))
    proc = micropython(bundle, ["-m", "update_interop", "lookup", flash.name,
                                str(tmp_path / "tokens.txt")])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(asked)
    storage = DirStorage(str(flash))
    allocated = []
    for token, line in zip(asked, lines):
        found = watchlist.lookup(storage, token)
        assert line.rsplit(" ", 1)[0] == ("%d %d" % found if found else "none")
        assert (found is not None) == (token in listed)
        allocated.append(int(line.rsplit(" ", 1)[1]))
    allocated.sort()
    # the budget: under 1 KiB of heap per lookup (all of it garbage when it returns)
    # the budget: under 1 KiB of heap per lookup at the median (all of it garbage when it
    # returns), a few reads at worst, never the list (64 KiB)
    assert allocated[len(allocated) // 2] < 1024 and allocated[-1] < 4096, str(allocated)


def test_an_object_made_on_micropython_verifies_with_cryptography(bundle, tmp_path):
    body = json.dumps(POLICY_JSON).encode()
    (tmp_path / "body").write_bytes(body)
    proc = micropython(bundle, ["-m", "update_interop", "make", "1", "4", str(tmp_path / "body")])
    assert proc.returncode == 0, proc.stderr
    obj = bytes.fromhex(proc.stdout.strip())
    assert obj == _independently_made(POLICY, 4, body)
    storage = DirStorage(str(tmp_path / "q"))
    installed_now(storage, POLICY, obj, 4)
    # and one made for another device is refused there
    (tmp_path / "other.obj").write_bytes(_independently_made(POLICY, 5, body, device="T-OTHER"))
    proc = micropython(bundle, ["-m", "update_interop", "install", str(tmp_path / "q"), "1", "5",
                                str(tmp_path / "other.obj")])
    assert proc.stdout.strip() == "refused: object MAC does not verify", proc.stdout + proc.stderr
    assert update.installed(storage, POLICY) == 4


def test_the_device_bench_looks_up_a_full_watchlist_on_both_interpreters(bundle):
    from io import StringIO

    from lostcard_cpython.bench import device, watchlist as bench_watchlist

    # the bench's own temporary directory: pytest's paths are longer than a terminal's queue
    # directory, and the unix port's open() copies the path into the heap at every read
    with tempfile.TemporaryDirectory() as tmp:
        mpy, cpy = bench_watchlist.measure(str(bundle), tmp)
    for result in (mpy, cpy):
        assert result["lookups"] == 1000 and result["found"] == 500
    assert 0 < mpy["median_bytes"] < 1024 and mpy["worst_bytes"] < 4096
    assert cpy["median_bytes"] == 0
    out = StringIO()
    device._report_watchlist(out, mpy, cpy)
    assert "heap allocated per lookup, median (bytes)" in out.getvalue()
