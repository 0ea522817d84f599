"""The queue's logic: order, lanes, rotation, acks, eviction, recovery from damage.

Runs on CPython (pytest) and MicroPython (runner.py) over in-memory storage and a sealer
without crypto; power cuts are tested in test_queue_powercut (CPython) and littlefs_powercuts.py (LittleFS).
"""

from lostcard import segment
from lostcard.queue import Queue, QueueError
from queue_fakes import MemoryStorage, PlainSealer, opened

CHAIN = b"\x07" * 32


def _queue(storage=None, **kw):
    storage = storage or MemoryStorage()
    if "state" not in storage.list():
        Queue.provision(storage, CHAIN)
    return Queue(storage, PlainSealer, clock=lambda: 1000, **kw), storage


def _pending(q, lane):
    return [opened(p)[0] for _, p in q.pending(lane)]


def test_appends_come_back_in_order_per_lane():
    q, storage = _queue()
    seqs = [q.append({"n": i}, (1, 3, 3, 2)[i % 4]) for i in range(12)]
    assert seqs == list(range(1, 13))
    assert _pending(q, 1) == [1, 5, 9]
    assert _pending(q, 3) == [2, 3, 6, 7, 10, 11]
    assert [s for s, _ in q.pending(2)] == [4, 8, 12]
    assert q.stats()["records"] == 12 and q.stats()["by_priority"][3] == 6
    again, _ = _queue(storage)  # and after a restart
    assert _pending(again, 3) == [2, 3, 6, 7, 10, 11]


def test_sequence_numbers_are_never_reused_across_restarts():
    q, storage = _queue()
    q.append({}, 1)
    q.append({}, 1)
    restarted, _ = _queue(storage)
    seq = restarted.append({}, 1)
    assert seq > 2  # the rest of the reserved block is skipped, never reused
    assert _pending(restarted, 1) == [1, 2, seq]


def test_ack_forgets_a_lane_prefix_and_keeps_its_segments_in_the_retention_window():
    q, storage = _queue(rotate_bytes=60)
    for i in range(6):
        q.append({"n": i}, 3)
    segments = [n for n in storage.list() if n.endswith(".seg")]
    assert len(segments) > 1
    q.ack(3, 4)
    assert _pending(q, 3) == [5, 6]
    # acknowledged, not deleted: kept until room is needed (docs/QUEUE.md, "The retention window")
    assert [n for n in storage.list() if n.endswith(".seg")] == segments
    assert q.stats()["retained"] == 4
    q.ack(3, 2)  # an older ack changes nothing
    assert _pending(q, 3) == [5, 6]
    restarted, _ = _queue(storage, rotate_bytes=60)
    assert _pending(restarted, 3) == [5, 6]
    q.ack(3, 6)
    assert _pending(q, 3) == [] and q.stats()["records"] == 0


def test_rotation_advances_the_epoch_and_persists_the_chain():
    q, storage = _queue(rotate_bytes=60)
    epochs = []
    for i in range(5):
        seq = q.append({"n": i}, 2)
        epochs.append([opened(p)[1] for s, p in q.pending(2) if s == seq][0])
    assert epochs[0] == 0 and epochs[-1] > 0 and epochs == sorted(epochs)
    restarted, _ = _queue(storage, rotate_bytes=60)
    assert restarted.sealer.epoch == epochs[-1]
    assert restarted.sealer.chain() == q.sealer.chain() != CHAIN


def test_full_queue_evicts_routine_before_urgent_and_counts_it():
    q, storage = _queue(rotate_bytes=60, budget_bytes=400)
    for i in range(4):
        q.append({"u": i}, 1)
    for i in range(30):
        q.append({"r": i}, 3)
    stats = q.stats()
    assert stats["bytes"] <= 400
    assert _pending(q, 1) == [1, 2, 3, 4]  # urgent untouched
    assert stats["evicted"][3] > 0 and stats["evicted"][1] == 0
    assert _pending(q, 3)[-1] == 34  # the newest routine record is kept
    restarted, _ = _queue(storage, rotate_bytes=60, budget_bytes=400)
    assert restarted.stats()["evicted"] == stats["evicted"]  # counted persistently
    # a routine record never pushes out urgent ones, even when it cannot be stored
    tiny, _ = _queue(budget_bytes=120)
    tiny.append({"u": 0}, 1)
    assert tiny.append({"r": "x" * 200}, 3) is None  # not stored: the caller is told
    assert _pending(tiny, 1) == [1] and tiny.stats()["evicted"][3] == 1


def test_recovery_drops_a_torn_tail_and_nothing_before_it():
    q, storage = _queue()
    for i in range(3):
        q.append({"n": i}, 2)
    name = [n for n in storage.list() if n.endswith(".seg")][0]
    storage.files[name] = storage.files[name] + segment.frame(4, 0, b"whole")[:-3]
    restarted, _ = _queue(storage)
    assert _pending(restarted, 2) == [1, 2, 3]
    assert restarted.stats()["torn_tails"] == 1 and restarted.stats()["corrupt"] == 0
    seq = restarted.append({"n": 9}, 2)  # goes to a new segment, not after the torn bytes
    assert seq > 4 and _pending(restarted, 2) == [1, 2, 3, seq]


def test_a_corrupt_record_in_the_middle_costs_that_record_only_and_is_counted_once():
    q, storage = _queue()
    for i in range(4):
        q.append({"n": i}, 1)
    name = [n for n in storage.list() if n.endswith(".seg")][0]
    data = bytearray(storage.files[name])
    frames, _, _ = segment.scan(bytes(data))
    data[frames[1][2] + 1] ^= 0xFF  # damage the second record's payload
    storage.files[name] = bytes(data)
    restarted, _ = _queue(storage)
    assert _pending(restarted, 1) == [1, 3, 4]
    assert restarted.stats()["corrupt"] == 1
    again, _ = _queue(storage)
    assert again.stats()["corrupt"] == 1  # not counted again at the next boot


def test_unknown_segment_versions_are_kept_and_reported_not_deleted():
    q, storage = _queue()
    q.append({}, 1)
    name = [n for n in storage.list() if n.endswith(".seg")][0]
    data = bytearray(storage.files[name])
    data[2] = 99  # a format version from the future
    storage.files[name] = bytes(data)
    restarted, _ = _queue(storage)
    assert restarted.stats()["unreadable_segments"] == 1
    assert name in storage.list()


def test_read_only_and_unprovisioned_queues_say_so():
    q, storage = _queue()
    q.append({}, 1)
    reader = Queue(storage)
    assert reader.stats()["records"] == 1
    for attempt in (lambda: reader.append({}, 1), lambda: Queue(MemoryStorage())):
        try:
            attempt()
            raise AssertionError("no error")
        except QueueError:
            pass


def test_a_broken_clock_does_not_stop_a_record_from_being_stored():
    for reading in (-5, 2.5, 1 << 40):
        storage = MemoryStorage()
        Queue.provision(storage, CHAIN)
        q = Queue(storage, PlainSealer, clock=lambda: reading)
        assert q.append({}, 1) == 1 and _pending(q, 1) == [1]


class FailingStorage(MemoryStorage):
    """Fails the next append with an errno, leaving what a file system leaves: an empty file."""

    def __init__(self):
        MemoryStorage.__init__(self)
        self.fail_with = None
        self.capacity = None

    def append(self, name, data):
        used = sum(len(v) for v in self.files.values())
        if self.fail_with is not None or (self.capacity and used + len(data) > self.capacity):
            errno, self.fail_with = self.fail_with or 28, None
            self.files.setdefault(name, b"")
            raise OSError(errno)
        MemoryStorage.append(self, name, data)

    def replace(self, name, data):
        # the new file is written beside the old one before the rename frees it
        used = sum(len(v) for v in self.files.values())
        if self.capacity and used + len(data) > self.capacity:
            raise OSError(28)
        MemoryStorage.replace(self, name, data)


def test_a_failed_write_leaves_no_headerless_segment_behind():
    storage = FailingStorage()
    q, _ = _queue(storage)
    q.append({}, 1)
    q.ack(1, 1)  # the lane's segment goes; the next append starts a new one
    storage.fail_with = 5  # EIO
    try:
        q.append({}, 1)
        raise AssertionError("no error")
    except OSError:
        pass
    seq = q.append({}, 1)
    assert _pending(q, 1) == [seq]
    restarted, _ = _queue(storage)
    assert _pending(restarted, 1) == [seq] and restarted.stats()["unreadable_segments"] == 0


def test_a_full_flash_evicts_and_retries_and_never_raises():
    storage = FailingStorage()
    q, _ = _queue(storage, rotate_bytes=60)
    storage.capacity = 500  # the flash fills before the (default, large) budget does
    for i in range(60):  # the state's own rewrites (reservations, rotations) meet a full flash too
        q.append({"n": i, "pad": "x" * 20}, 3)
    assert q.stats()["evicted"][3] > 0 and _pending(q, 3)[-1] == 60


def test_ack_refuses_unknown_lanes_and_never_acks_beyond_what_was_handed_out():
    q, _ = _queue()
    q.append({}, 3)
    for bad in (0, 4):
        try:
            q.ack(bad, 1)
            raise AssertionError("acked lane %d" % bad)
        except QueueError:
            pass
    q.ack(3, 10 ** 6)
    seq = q.append({}, 3)
    assert _pending(q, 3) == [seq]  # records after the ack are not swallowed by it


def test_a_record_that_cannot_fit_evicts_nothing():
    q, _ = _queue(budget_bytes=400)
    for i in range(3):
        q.append({"n": i}, 3)
    q.append({"big": "x" * 500}, 3)
    assert _pending(q, 3) == [1, 2, 3] and q.stats()["evicted"][3] == 1


def test_damage_in_an_older_segment_is_corruption_counted_per_record():
    q, storage = _queue(rotate_bytes=200)
    for i in range(12):
        q.append({"n": i}, 2)
    names = sorted(n for n in storage.list() if n.endswith(".seg"))
    assert len(names) >= 2
    data = bytearray(storage.files[names[0]])
    frames, _, _ = segment.scan(bytes(data))
    for f in frames[-3:]:  # the last three records of a closed segment, each hit in its payload
        data[f[2]] ^= 0x01
    storage.files[names[0]] = bytes(data)
    restarted, _ = _queue(storage, rotate_bytes=200)
    stats = restarted.stats()
    assert stats["corrupt"] == 3 and stats["torn_tails"] == 0
    assert len(_pending(restarted, 2)) == 9


def test_oldest_age_counts_from_the_first_record_still_due():
    ticks = [1000]
    storage = MemoryStorage()
    Queue.provision(storage, CHAIN)
    q = Queue(storage, PlainSealer, clock=lambda: ticks[0])
    for t in (1000, 2000, 3000):
        ticks[0] = t
        q.append({}, 1)
    q.ack(1, 1)
    ticks[0] = 3010
    assert q.stats()["oldest_age_s"] == 1010


def test_looking_at_a_queue_changes_nothing():
    q, storage = _queue()
    q.append({}, 1)
    storage.files["1-00000000000000ff.seg"] = b"LQ"  # an interrupted creation
    before = dict(storage.files)
    Queue(storage).stats()
    assert storage.files == before


def test_state_of_another_version_and_a_second_provisioning_are_refused():
    q, storage = _queue()
    q.append({}, 1)
    for attempt in (lambda: Queue.provision(storage, CHAIN),):
        try:
            attempt()
            raise AssertionError("provisioned twice")
        except QueueError:
            pass
    from lostcard import cbor
    state = cbor.decode(storage.files["state"])
    state[1] = 2
    storage.files["state"] = cbor.encode(state)
    try:
        Queue(storage, PlainSealer)
        raise AssertionError("opened a version 2 state")
    except QueueError:
        pass


def test_gaps_are_the_persisted_eviction_and_corruption_counts():
    q, _ = _queue(budget_bytes=120)
    q.append({"u": 0}, 1)
    q.append({"r": "x" * 200}, 3)
    stats = q.stats()
    assert q.gaps() == [stats["evicted"][1], stats["evicted"][2], stats["evicted"][3],
                        stats["corrupt"], stats["lost_to_restore"]] == [0, 0, 1, 0, 0]


def test_acknowledged_segments_go_first_oldest_first_and_are_not_gaps():
    q, storage = _queue(rotate_bytes=60, budget_bytes=400)
    urgent = [q.append({"u": i}, 1) for i in range(4)]
    routine = [q.append({"r": i}, 3) for i in range(4)]
    q.ack(1, urgent[-1])  # the urgent lane is on the collector; the routine one is not
    while _first_seqs(storage, 1):
        # the acknowledged urgent records make room before any unacknowledged routine one goes
        routine.append(q.append({"r": len(routine)}, 3))
        stats = q.stats()
        assert stats["evicted"] == {1: 0, 2: 0, 3: 0} and stats["bytes"] <= 400
    assert _pending(q, 3) == routine and _pending(q, 1) == []
    assert q.state[11][:2] == [4, urgent[-1]]  # S_RETIRED of lane 1: 4, through its last
    assert stats["retained"] == 0
    # and only then unacknowledged ones, counted as today
    for i in range(20):
        q.append({"r": 40 + i}, 3)
    assert q.stats()["evicted"][3] > 0


def test_the_oldest_acknowledged_segment_of_any_lane_goes_first():
    q, storage = _queue(rotate_bytes=60, budget_bytes=400)
    old = [q.append({"r": i}, 3) for i in range(3)]
    new = [q.append({"u": i}, 1) for i in range(3)]
    q.ack(3, old[-1])
    q.ack(1, new[-1])
    routine, urgent = _first_seqs(storage, 3), _first_seqs(storage, 1)
    assert q._evict_one(4)  # 4: acknowledged segments only
    assert _first_seqs(storage, 3) == routine[1:] and _first_seqs(storage, 1) == urgent
    gone = [s for s in old if s < (routine[1:] or [new[0]])[0]]
    assert q.state[11] == [0, 0, 0, 0, len(gone), gone[-1]]
    assert q.stats()["retained"] == 6 - len(gone) and q.gaps() == [0] * 5
    reopened, _ = _queue(storage, rotate_bytes=60, budget_bytes=400)  # durable, counted first
    assert reopened.state[11] == [0, 0, 0, 0, len(gone), gone[-1]]


def _first_seqs(storage, lane):
    return sorted(int(n[2:18], 16) for n in storage.list() if n.startswith("%d-" % lane))


def test_rewind_sends_again_what_is_held_and_counts_what_is_not():
    q, storage = _queue(rotate_bytes=60, budget_bytes=400)
    seqs = [q.append({"r": i}, 3) for i in range(8)]
    q.ack(3, seqs[-1])
    q.rewind(3, seqs[-1] + 5)  # never forward
    assert _pending(q, 3) == []
    q.rewind(3, seqs[3])  # a collector holding lane 3 through seqs[3] only
    assert _pending(q, 3) == seqs[4:] and q.gaps()[4] == 0  # all held: nothing lost
    q.ack(3, seqs[-1])
    while q.stats()["retained"] == 8:  # room for urgent records pushes acknowledged ones out
        q.append({"u": 0}, 1)
    retired, top = q.state[11][4:]
    gone = [s for s in seqs if s <= top]
    assert retired == len(gone) and 0 < len(gone) < 8
    q.rewind(3, 0)  # a collector restored from a copy holding nothing of it
    assert _pending(q, 3) == seqs[len(gone):]
    assert q.gaps()[4] == len(gone)  # exact here: the lane's numbers are consecutive
    reopened, _ = _queue(storage, rotate_bytes=60, budget_bytes=400)
    assert _pending(reopened, 3) == seqs[len(gone):] and reopened.gaps()[4] == len(gone)
    reopened.rewind(3, 0)  # the same again counts nothing more
    assert reopened.gaps()[4] == len(gone)


def test_a_second_writer_on_the_same_queue_is_refused_before_reusing_a_number():
    first, storage = _queue()
    second, _ = _queue(storage)
    taken = [first.append({"n": i}, 3) for i in range(40)]  # past one reservation block
    try:
        for i in range(40):
            assert second.append({"m": i}, 3) not in taken
        raise AssertionError("a second writer went on unnoticed")
    except QueueError as exc:
        assert "another writer" in exc.args[0]


def test_a_damaged_length_before_good_frames_is_corruption_not_a_torn_tail():
    q, storage = _queue()
    for i in range(6):
        q.append({"n": i}, 3)
    name = [n for n in storage.list() if n.endswith(".seg")][0]
    data = bytearray(storage.files[name])
    frames = segment.scan(bytes(data))[0]
    third = frames[2][2] - segment.FRAME_HEAD
    data[third + 2] = 0xFF  # its length now runs past the end of the file
    storage.files[name] = bytes(data)
    restarted, _ = _queue(storage)
    assert _pending(restarted, 3) == [1, 2, 4, 5, 6]  # only the damaged frame is lost
    assert restarted.stats()["corrupt"] == 1 and restarted.stats()["torn_tails"] == 0


def test_a_segment_that_cannot_be_read_stops_its_lane_and_is_never_passed_by():
    q, storage = _queue(rotate_bytes=60)
    for i in range(12):
        q.append({"n": i}, 3)
    oldest = sorted(n for n in storage.list() if n.endswith(".seg"))[0]
    read = storage.read

    def failing(name, errno=5):
        if name == oldest:
            raise OSError(errno)
        return read(name)

    storage.read = failing
    try:
        list(q.pending(3))
        raise AssertionError("a failing read went unnoticed")
    except OSError:
        pass
    storage.read = lambda name: failing(name, 2)  # gone: evicted while a caller iterated
    assert list(q.pending(3)) == []  # nothing from after it, which an ack would pass by
    storage.read = read
    assert _pending(q, 3) == list(range(1, 13))


class CountingStorage(MemoryStorage):
    """Counts the listings and the reads of each file; a file system of `capacity` bytes."""

    def __init__(self, files=None):
        MemoryStorage.__init__(self, files)
        self.listings = 0
        self.reads = {}
        self.capacity = 1 << 30

    def list(self):
        self.listings += 1
        return MemoryStorage.list(self)

    def read(self, name):
        self.reads[name] = self.reads.get(name, 0) + 1
        return MemoryStorage.read(self, name)

    def free(self):
        return self.capacity - sum(len(data) for data in self.files.values())


def _backlog():
    """A queue of many closed segments in lanes 1 and 3, and its checkpoint."""
    q, storage = _queue(CountingStorage(), rotate_bytes=60)
    for i in range(30):
        q.append({"n": i}, 1 if i % 3 == 0 else 3)
    return q, storage, q.checkpoint()


def _same(q, seen):
    """`q` holds what a queue that scanned everything (`seen`) holds (a queue that scans
    everything resumes its numbers at the reservation mark: the next number may differ)."""
    mine, theirs = q.stats(), seen.stats()
    assert mine.pop("next_seq") <= theirs.pop("next_seq") and mine == theirs
    for lane in (1, 2, 3):
        assert _pending(q, lane) == _pending(seen, lane)


def test_a_reopen_with_the_checkpoint_reads_only_the_open_segments():
    q, storage, checkpoint = _backlog()
    segments = len([n for n in storage.list() if n.endswith(".seg")])
    assert segments > 8
    storage.listings, storage.reads = 0, {}
    again = Queue(storage, PlainSealer, rotate_bytes=60, resume=checkpoint)
    seq = again.append({"n": 30}, 3)  # the budget from running totals: no segment walked
    assert storage.listings == 0 and sum(storage.reads.values()) <= 3, storage.reads
    assert seq == q.next_seq  # no reserved number burnt either
    _same(again, _queue(storage, rotate_bytes=60)[0])


def test_a_missing_stale_or_corrupt_checkpoint_falls_back_to_the_full_scan():
    q, storage, checkpoint = _backlog()
    q.ack(3, 5)  # the state moved on since the checkpoint
    rows = checkpoint[4]
    short_row = checkpoint[:4] + [[rows[0][:3], rows[1], rows[2]]]
    bad = [None, "x", checkpoint[:4], checkpoint, short_row]
    fresh = q.checkpoint()
    grown = [list(row) for row in fresh[4]]
    grown[2][4], grown[2][2] = 1, grown[2][2] + 7  # an open segment longer than on flash
    bad.append(fresh[:4] + [grown])
    for resume in bad:
        storage.listings = 0
        again = Queue(storage, PlainSealer, rotate_bytes=60, resume=resume)
        assert storage.listings > 0, resume  # scanned everything
        _same(again, Queue(storage, rotate_bytes=60))
    storage.listings = 0
    Queue(storage, PlainSealer, rotate_bytes=60, resume=fresh)
    assert storage.listings == 0  # the current one is taken


def test_a_full_file_system_evicts_routine_records_before_urgent_ones():
    q, storage = _queue(CountingStorage(), rotate_bytes=60)
    urgent = [q.append({"u": i}, 1) for i in range(3)]
    for i in range(6):
        q.append({"r": i}, 3)
    storage.capacity -= storage.free() - 10  # full: the budget (64 KiB) is far off
    seq = q.append({"u": 3}, 1)
    routine = _pending(q, 3)
    assert _pending(q, 1) == urgent + [seq] and len(routine) < 6
    assert q.stats()["evicted"] == {1: 0, 2: 0, 3: 6 - len(routine)}  # each one counted
    storage.capacity -= storage.free() - 10  # full again: a routine record makes room only
    late = q.append({"r": 6}, 3)  # among routine ones, or is itself lost, counted
    assert _pending(q, 1) == urgent + [seq]
    assert late is None or _pending(q, 3)[-1] == late
    assert q.stats()["evicted"][3] + len(_pending(q, 3)) == 7  # every routine one kept or counted
