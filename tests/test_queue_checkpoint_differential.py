"""Differential test of the queue's checkpoint reopen (Queue(resume=)) against the full scan.

A seeded random run drives the queue the way a Terminal in phases does: every phase reopens the
queue from the checkpoint the previous phase left (`finally: checkpoint()`), appends, syncs
(pending + ack), looks (stats), or loses the power (the checkpoint is gone; an append in flight
may leave a prefix). Optionally the storage fails now and then the way the contract allows
(an append leaving a prefix and raising EIO/ENOSPC, a remove raising EIO, a listing raising
MemoryError as os.ilistdir does on a full heap), or a foreign segment (a future format version)
appears.

After each phase an oracle, on copies of the flash:
- every sequence number is sealed at most once over the whole run (never reused);
- no acknowledged record is pending again, and every record an append returned that was not
  acknowledged is pending after a full scan or counted as evicted;
- if the checkpoint would be accepted, the reopened queue's pending records equal the full
  scan's, and each lane's running BYTES equals the bytes of its readable segments on flash;
- a full scan finds no corruption (none is injected), and an unknown-version segment stays.

With no faults it must find nothing; with them, nothing either (the findings of the queue11
review, fixed: a successor listed before a segment goes, foreign segments passed over, a
checkpoint refused once a write failed).
"""

import random

import pytest

from lostcard.lane_index import BYTES, LANES, key_of
from lostcard.queue import Queue, QueueError
from lostcard.segment import HEADER_LEN, SegmentError, read_header
from lostcard_tools.fake_flash import PowerCut
from queue_fakes import MemoryStorage, PlainSealer

CHAIN = b"\x07" * 32
KW = dict(rotate_bytes=120, budget_bytes=1500, writable=True)


class Flash(MemoryStorage):
    """MemoryStorage that fails as the storage contract allows, when `armed`."""

    def __init__(self, files, rng, faults):
        MemoryStorage.__init__(self, files)
        self.rng, self.faults, self.armed, self.cut, self.listings = rng, faults, False, False, 0

    def _fail(self, kind):
        return self.armed and self.rng.random() < self.faults.get(kind, 0)

    def list(self):
        self.listings += 1
        if self._fail("list"):
            raise MemoryError("memory allocation failed")
        return MemoryStorage.list(self)

    def append(self, name, data):
        if self.cut:  # the power goes during this write: a prefix stays
            self.cut = False
            MemoryStorage.append(self, name, data[:self.rng.randrange(len(data))])
            raise PowerCut(name)
        if self._fail("append"):
            MemoryStorage.append(self, name, data[:self.rng.randrange(len(data))])
            raise OSError(self.rng.choice((5, 28)), name)
        MemoryStorage.append(self, name, data)

    def remove(self, name):
        if self._fail("remove"):
            raise OSError(5, name)
        MemoryStorage.remove(self, name)


class Sealers:
    """PlainSealer, recording every sequence number sealed over the run."""

    def __init__(self):
        self.sealed = {}

    def __call__(self, epoch, chain):
        log = self.sealed
        sealer = PlainSealer(epoch, chain)
        seal = sealer.seal

        def recording(record, seq):
            log[seq] = log.get(seq, 0) + 1
            return seal(record, seq)

        sealer.seal = recording
        return sealer


def _readable(files, lane):
    """Bytes of the lane's segments a full scan would index."""
    total = 0
    for name, data in files.items():
        key = key_of(name) if name.endswith(".seg") else None
        if key is None or key >> 60 != lane or len(data) < HEADER_LEN:
            continue
        try:
            if read_header(data)[0] == lane:
                total += len(data)
        except SegmentError:
            pass
    return total


def _pending(q, lane):
    return [(seq, bytes(p)) for seq, p in q.pending(lane)]


def run(seed, faults=None, foreign=False, steps=300, checkpoints=True):
    """The violations found by a seeded run: a list of (step, what)."""
    rng = random.Random(seed)
    files = {}
    flash = Flash(files, rng, faults or {})
    Queue.provision(flash, CHAIN)
    sealers = Sealers()
    returned = {1: [], 2: [], 3: []}
    acked = {1: 0, 2: 0, 3: 0}
    foreign_name = None
    bad = []
    cp = None
    for step in range(steps):
        op = rng.random()
        if op < 0.04:
            cp = None  # a power cut between phases: the RAM is gone
            continue
        if foreign and foreign_name is None and step >= steps // 3:
            # a segment of a later format version, named inside lane 3's range
            seqs = [s for s in returned[3] if s > acked[3]]
            if seqs:
                foreign_name = "3-%016x.seg" % seqs[len(seqs) // 2]
                if foreign_name not in files:
                    files[foreign_name] = b"LQ\x02\x03\x00\x00\x00\x00" + b"future" * 4
                else:
                    foreign_name = None
        sealing = op < 0.7
        flash.armed = True
        flash.cut = 0.66 < op < 0.7  # the power goes during this append
        try:
            try:
                q = Queue(flash, sealers if sealing else None, resume=cp, **KW)
            except (OSError, MemoryError, QueueError):
                continue  # as Terminal: the checkpoint it had stays
            try:
                if sealing:
                    lane = rng.choice(LANES)
                    seq = q.append({"n": step, "pad": "x" * rng.randrange(80)}, lane)
                    if seq is not None:
                        returned[lane].append(seq)
                        used = sum(len(d) for n, d in files.items()
                                   if n.endswith(".seg") and n != foreign_name)
                        if used > KW["budget_bytes"]:
                            bad.append((step, "segments hold %d bytes, budget %d"
                                        % (used, KW["budget_bytes"])))
                elif op < 0.95:
                    for lane in LANES:
                        got = [s for s, _ in q.pending(lane)]
                        if got:
                            through = got[rng.randrange(len(got))]
                            # the cursor is durable before anything can fail (no faulty replace)
                            acked[lane] = max(acked[lane], through)
                            q.ack(lane, through)
                else:
                    q.stats()
                    continue  # Terminal.status() keeps no checkpoint
            except (OSError, MemoryError) as exc:
                if isinstance(exc, FileNotFoundError):
                    bad.append((step, "ENOENT from the queue: a row names a deleted segment"))
            finally:
                cp = q.checkpoint() if checkpoints else None
        except PowerCut:
            cp = None
            flash.cut = False
        flash.armed = False
        bad += [(step, w) for w in _oracle(files, cp, sealers, returned, acked, foreign_name)]
        if len(bad) > 20:
            break
    return bad


def _oracle(files, cp, sealers, returned, acked, foreign_name):
    out = []
    reused = [s for s, n in sealers.sealed.items() if n > 1]
    if reused:
        out.append("sequence numbers sealed twice: %r" % reused[:5])
    scan_files = dict(files)
    full = Queue(MemoryStorage(scan_files), None, **KW)  # the truth after a reboot
    gaps = full.gaps()
    if gaps[3]:
        out.append("full scan reports %d corrupt records (none injected)" % gaps[3])
    if foreign_name and foreign_name not in files:
        out.append("unknown-version segment %s deleted" % foreign_name)
    for lane in LANES:
        got = _pending(full, lane)
        seqs = {s for s, _ in got}
        if any(s <= acked[lane] for s in seqs):
            out.append("lane %d: acknowledged record pending again" % lane)
        missing = [s for s in returned[lane] if s > acked[lane] and s not in seqs]
        if len(missing) > gaps[lane - 1]:
            out.append("lane %d: %d stored records gone, %d counted evicted"
                       % (lane, len(missing), gaps[lane - 1]))
    if cp is None:
        return out
    copy_files = dict(files)
    storage = _Counting(copy_files)
    resumed = Queue(storage, None, resume=[list(x) if isinstance(x, list) else x for x in cp[:4]]
                    + [[list(r) for r in cp[4]]], **KW)
    if storage.listings:
        return out  # the checkpoint was refused: the open scanned everything
    for lane in LANES:
        if _pending(resumed, lane) != _pending(full, lane):
            out.append("lane %d: checkpoint reopen pends %r, full scan %r"
                       % (lane, [s for s, _ in _pending(resumed, lane)],
                          [s for s, _ in _pending(full, lane)]))
        on_flash = _readable(copy_files, lane)
        if resumed.rows[lane][BYTES] != on_flash:
            out.append("lane %d: running BYTES %d, segments on flash %d"
                       % (lane, resumed.rows[lane][BYTES], on_flash))
    return out


class _Counting(MemoryStorage):
    listings = 0

    def list(self):
        self.listings += 1
        return MemoryStorage.list(self)


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_checkpoint_reopen_matches_the_full_scan_without_faults(seed):
    assert run(seed) == []


def test_listing_failures():
    assert [v for s in SEEDS for v in run(s, {"list": 0.05})] == []


def test_append_failures():
    assert [v for s in SEEDS for v in run(s, {"append": 0.05})] == []


def test_an_unknown_version_segment_is_kept():
    assert [v for s in SEEDS for v in run(s, foreign=True)] == []


class _BadWalk(MemoryStorage):
    def free(self):  # LittleFS's statvfs on a corrupt block anywhere in the file system
        raise OSError(84, "statvfs")


def test_a_failing_free_space_query_counts_as_unknown():
    storage = _BadWalk()
    Queue.provision(storage, CHAIN)
    q = Queue(storage, PlainSealer, **KW)
    assert q.append({"urgent": 1}, 1) == 1 and q.checkpoint() is not None


class _Eio(MemoryStorage):
    fail = False

    def append(self, name, data):
        if self.fail:  # all but the last byte, then EIO
            self.fail = False
            MemoryStorage.append(self, name, data[:-1])
            raise OSError(5, name)
        MemoryStorage.append(self, name, data)


def test_a_failed_append_leaves_no_checkpoint_and_its_bytes_are_trimmed_by_the_next_scan():
    storage = _Eio()
    Queue.provision(storage, CHAIN)
    cp = None
    for i in range(60):
        q = Queue(storage, PlainSealer, resume=cp, **KW)
        storage.fail = i % 7 == 3
        try:
            q.append({"n": i, "pad": "x" * 40}, 3)
        except OSError:
            assert q.checkpoint() is None  # the next phase scans
        cp = q.checkpoint()
        if cp is not None:  # the rows count what is on flash, within the budget
            on_flash = sum(len(d) for n, d in storage.files.items() if n.endswith(".seg"))
            assert q.rows[3][BYTES] == on_flash <= KW["budget_bytes"]
    assert Queue(MemoryStorage(dict(storage.files)), None).gaps()[3] == 0
