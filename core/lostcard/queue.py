"""Store and forward: sealed incidents on flash until the collector acknowledges them.

Guarantees (tested by cutting power at every write, docs/QUEUE.md):
- `append` returns a sequence number only once the record is durable; it survives any later cut.
- Sequence numbers strictly increase for the life of the device and are never reused: a block
  of numbers is reserved in the state file before any of them is used.
- Nothing stored is rewritten: records are appended to segment files; `ack` writes a cursor.
- Each segment is sealed under its own epoch key; rotating advances the ratchet, and the state
  file keeps only the new chain key.
- Bounded: past the byte budget, whole segments are evicted, routine (priority 3) before urgent
  (priority 1), and every evicted record is counted in the state file for the next sync.

`storage` is the port's file store (Storage in lostcard/platform.py).
`make_sealer(epoch, chain)` gives the sealer for an epoch: seal(record, seq) -> bytes, advance(),
epoch, chain(); sealing.Sealer is the real one. Without it the queue opens read-only, or, with
writable=True, for uploading (acks but no appends).
"""

from .lane_index import FIRST, FIRST_MASK, FRAMES, LANES, LAST, OLDEST, OPEN, SIZE, WIDTH, \
    LaneIndex, key_of, segment_name
from .queue_state import RESERVE, S_ACK_KEY, S_CHAIN, S_CORRUPT, S_CURSORS, S_DEVICE, S_EPOCH, \
    S_EVICTED, S_RESERVED, STATE, QueueError, count_corrupt, load, provision, save
from .segment import FRAME_HEAD, HEADER_LEN, SegmentError, frame, header, read_header, scan

MAX_RECORD = 4096  # a sealed incident is ~200 B; this bounds a segment to rotate_bytes + 4 KiB


def _flash_full(exc):
    return exc.args and exc.args[0] == 28  # ENOSPC, as a literal: errno would cost a module


class Queue:
    def __init__(self, storage, make_sealer=None, rotate_bytes=2048, budget_bytes=65536,
                 clock=None, writable=None, resume_seq=None):
        self.storage = storage
        self.rotate_bytes = rotate_bytes
        self.budget = budget_bytes
        self.clock = clock
        # without a sealer the queue only looks (writes and deletes nothing) unless told it may
        # acknowledge: an uploader needs acks, not keys
        self.writable = make_sealer is not None if writable is None else writable
        self._sealing = make_sealer is not None
        self._recover()
        if make_sealer is not None:
            # after the segments are read: on a small heap, the scans leave no holes between the
            # sealing code (CBOR, COSE, CCM, keys) that the sealer loads
            self.sealer = make_sealer(self.state[S_EPOCH], self.state[S_CHAIN])
        # reopened in the same power-on (a terminal's phases): go on from the caller's next
        # number, inside the reservation already on flash, instead of burning a new block
        if resume_seq is not None and self._used() < resume_seq <= self.state[S_RESERVED]:
            self.next_seq = resume_seq

    provision = staticmethod(provision)  # queue_state.provision: a new queue's state file

    # -- recovery -----------------------------------------------------------------------------

    def _recover(self):
        has_state = False
        keys = []  # lane << 60 | first seq: a small int (8 bytes) where a name costs ~60
        self.unreadable = []
        for name in self.storage.list():
            if name == STATE:
                has_state = True
            elif name.endswith(".seg"):
                key = key_of(name)
                if key is None:
                    self.unreadable.append((name, "not a segment name"))  # kept, reported
                else:
                    keys.append(key)
        if not has_state:
            raise QueueError("no queue state: provision the queue first")
        self.state = state = load(self.storage)
        self._written = state[S_RESERVED], state[S_EPOCH]  # what _save expects to find on flash
        self.device_id = state.get(S_DEVICE)
        self.ack_key = state.get(S_ACK_KEY)
        self.next_seq = state[S_RESERVED]  # numbers below may have been used before the cut
        self.sealer = None
        self.lanes = {}
        self.torn = 0
        corrupt_found = {}
        keys.sort()
        for lane in LANES:  # room for the segments found and the next one
            self.lanes[lane] = LaneIndex(lane, 1 + sum(1 for key in keys if key >> 60 == lane))
        for i in range(len(keys)):
            lane, first = keys[i] >> 60, keys[i] & FIRST_MASK
            newest = i + 1 == len(keys) or keys[i + 1] >> 60 != lane
            last = self._load(lane, first, corrupt_found, newest)
            if last is not None:
                self.next_seq = max(self.next_seq, last + 1)
        if count_corrupt(state, corrupt_found) and self.writable:
            self._save()
        if self.writable:
            for lane in LANES:
                self._drop_acked(lane)

    def _load(self, lane, first, corrupt_found, newest):
        """Index a segment; its last seq, or None if it holds no usable segment."""
        name = segment_name(lane, first)
        data = self.storage.read(name)
        if len(data) < HEADER_LEN:  # the cut interrupted its creation: that append never returned
            if self.writable:
                self.storage.remove(name)
            return None
        try:
            header_lane, epoch = read_header(data)
        except SegmentError as exc:
            self.unreadable.append((name, str(exc)))  # kept on flash, reported, never deleted
            return None
        if header_lane != lane:
            self.unreadable.append((name, "lane %d does not match its name" % header_lane))
            return None
        frames, corrupt, torn = scan(data, newest)
        if corrupt:
            corrupt_found[name] = corrupt
        if torn:
            self.torn += 1
            if self.writable:  # set the torn append aside for good: atomically, the good frames
                data = data[:frames[-1][3] if frames else HEADER_LEN]
                self.storage.replace(name, data)
        open_ = newest and not torn and not corrupt and self._sealing \
            and epoch == self.state[S_EPOCH]
        last = frames[-1][0] if frames else first - 1
        self.lanes[lane].add((first, last, epoch, len(data), len(frames),
                              frames[0][1] if frames else -1, 1 if open_ else 0))
        return last

    # -- state --------------------------------------------------------------------------------

    def _used(self):
        """The highest sequence number on flash or acknowledged."""
        used = max(self.state[S_CURSORS])
        for lane in LANES:
            index = self.lanes[lane]
            if index.count:
                used = max(used, index.get(index.count - 1, LAST))
        return used

    def _save(self):
        self._written = save(self.storage, self.state, self._written)

    def _take_seq(self):
        seq = self.next_seq
        if seq >= self.state[S_RESERVED]:
            reserved = self.state[S_RESERVED]
            self.state[S_RESERVED] = seq + RESERVE
            try:
                self._save()  # durable before the number is used: a cut cannot make us reuse it
            except Exception:
                self.state[S_RESERVED] = reserved  # not reserved after all
                raise
        self.next_seq = seq + 1
        return seq

    def _rotate(self, lane):
        """Next epoch for every lane: persist the new chain before sealing anything with it."""
        self.sealer.advance()
        self.state[S_EPOCH] = self.sealer.epoch
        self.state[S_CHAIN] = self.sealer.chain()
        self._evicting_if_full(lane, self._save)
        for lane in LANES:
            index = self.lanes[lane]
            for i in range(index.count):
                index.set(i, OPEN, 0)

    # -- appending ----------------------------------------------------------------------------

    def _total(self, lanes=LANES):
        total = 0
        for lane in lanes:
            index = self.lanes[lane]
            for i in range(index.count):
                total += index.get(i, SIZE)
        return total

    def _evict_one(self, lane_from):
        """Remove the oldest segment of the most routine lane no more urgent than `lane_from`
        (a routine record never pushes out an urgent one); False if there is none."""
        for lane in (3, 2, 1):
            index = self.lanes[lane]
            if lane >= lane_from and index.count:
                self.state[S_EVICTED][lane - 1] += self._unacked(index, 0)
                try:
                    self._save()  # count first: a cut may then overcount, never hide a loss
                    saved = True
                except OSError as exc:
                    if not _flash_full(exc):
                        raise
                    saved = False  # the flash is too full to rewrite the state: free it first
                self.storage.remove(index.name(0))
                index.drop_oldest()
                if not saved:
                    self._save()  # (a cut just before this hides that segment's loss)
                return True
        return False

    def _unacked(self, index, i):
        cursor = self.state[S_CURSORS][index.lane - 1]
        if index.get(i, LAST) <= cursor:
            return 0
        if index.get(i, FIRST) > cursor:
            return index.get(i, FRAMES)
        frames, _, _ = scan(self.storage.read(index.name(i)))
        return sum(1 for f in frames if f[0] > cursor)

    def _room(self, lane, need):
        """Evict until `need` more bytes fit; False (evicting nothing) if even dropping every
        segment no more urgent than `lane` could not make room."""
        urgent = self._total([more_urgent for more_urgent in LANES if more_urgent < lane])
        if urgent + need > self.budget:
            return False
        while self._total() + need > self.budget:
            if not self._evict_one(lane):
                return False
        return True

    def _lost(self, lane):
        self.state[S_EVICTED][lane - 1] += 1
        self._save()

    def _evicting_if_full(self, lane, write):
        """`write()`, again after evicting once if the flash was too full for it."""
        try:
            return write()
        except OSError as exc:
            if not (_flash_full(exc) and self._evict_one(lane)):
                raise
            return write()

    def append(self, record, priority):
        """Seal `record` under the next sequence number and store it durably; return the number.

        Never raises because the queue or the flash is full: older routine segments make room,
        and a record that cannot be stored without pushing out more urgent ones, or that is
        larger than MAX_RECORD, is counted as evicted and None returned. Other storage failures
        raise.
        """
        if self.sealer is None:
            raise QueueError("queue opened read-only")
        lane = priority if priority in LANES else 3
        seq = self._evicting_if_full(lane, self._take_seq)
        index = self.lanes[lane]
        # the segment appends go to, by its first seq: eviction renumbers the rows
        current = None
        if index.count and index.get(index.count - 1, OPEN):
            current = index.get(index.count - 1, FIRST)
            if index.get(index.count - 1, SIZE) >= self.rotate_bytes:
                self._rotate(lane)
                current = None
        now = self._now()
        data = frame(seq, now, self.sealer.seal(record, seq))
        if len(data) - FRAME_HEAD > MAX_RECORD or not self._room(lane, len(data) + HEADER_LEN):
            self._lost(lane)
            return None
        while True:
            if current is not None and not (index.count
                                            and index.get(index.count - 1, FIRST) == current):
                current = None  # evicted to make room
            try:
                if current is None:
                    epoch = self.sealer.epoch
                    self.storage.append(segment_name(lane, seq), header(lane, epoch) + data)
                    index.add((seq, seq - 1, epoch, HEADER_LEN, 0, -1, 1))  # once on flash
                    current = seq
                else:
                    self.storage.append(segment_name(lane, current), data)
                break
            except OSError as exc:
                if current is not None:
                    index.set(index.count - 1, OPEN, 0)  # never append after a write that failed
                current = None
                if not _flash_full(exc):
                    raise
                if not self._evict_one(lane):
                    self._lost(lane)
                    return None
                # the flash, not the budget, was full: room made, retry
        i = index.count - 1
        index.set(i, SIZE, index.get(i, SIZE) + len(data))
        index.set(i, FRAMES, index.get(i, FRAMES) + 1)
        index.set(i, LAST, seq)
        if index.get(i, OLDEST) < 0:
            index.set(i, OLDEST, now)
        return seq

    def _now(self):
        """The terminal clock as a frame stores it: whole seconds in 0..2**32-1 (a clock that
        lost power or jumped ahead must not stop a record from being stored)."""
        now = int(self.clock()) if self.clock else 0
        return 0 if now < 0 else now if now <= 0xFFFFFFFF else 0xFFFFFFFF

    # -- forwarding ---------------------------------------------------------------------------

    def pending(self, priority):
        """Yield (seq, sealed record) not yet acknowledged in one lane, oldest first.

        A snapshot of the lane: appends and acks made while iterating show on the next call.
        """
        cursor = self.state[S_CURSORS][priority - 1]
        last = cursor
        index = self.lanes[priority]
        # a snapshot: a growing index moves to a new array, dropping rows only moves `head`
        rows, start = index.rows, index.head * WIDTH
        for i in range(start, start + index.count * WIDTH, WIDTH):
            if rows[i + LAST] <= last:
                continue
            try:
                data = self.storage.read(segment_name(priority, rows[i + FIRST]))
            except OSError as exc:
                # nothing after this segment may be sent, or an ack would pass it by: stop the
                # lane if it was evicted while the caller iterated, else say why
                if exc.args and exc.args[0] == 2:  # ENOENT
                    return
                raise
            frames, _, _ = scan(data)
            for seq, _, start, end in frames:
                if seq > last:  # also skips a record a retried write left twice
                    last = seq
                    yield seq, data[start:end]

    def ack(self, priority, through_seq):
        """The collector stored this lane's records up to `through_seq`: forget them."""
        if priority not in LANES or not self.writable:
            raise QueueError("no lane %r to acknowledge, or the queue is read-only" % (priority,))
        through_seq = min(through_seq, self.next_seq - 1)  # never past what was handed out
        cursors = self.state[S_CURSORS]
        if through_seq > cursors[priority - 1]:
            cursors[priority - 1] = through_seq
            self._save()  # the cursor is durable before any file goes
        self._drop_acked(priority)

    def _drop_acked(self, lane):
        cursor = self.state[S_CURSORS][lane - 1]
        index = self.lanes[lane]
        while index.count and index.get(0, LAST) <= cursor:  # a lane's segments are in seq order
            self.storage.remove(index.name(0))
            index.drop_oldest()

    # -- reporting ----------------------------------------------------------------------------

    def gaps(self):
        """[evicted lane 1, 2, 3, corrupt]: what the next sync reports lost (from the state,
        without reading any segment)."""
        evicted = self.state[S_EVICTED]
        return [evicted[0], evicted[1], evicted[2], self.state[S_CORRUPT]]

    def stats(self):
        """Counts for the terminal's status screen and the next sync."""
        by_priority = {}
        oldest = None
        for lane in LANES:
            count = 0
            cursor = self.state[S_CURSORS][lane - 1]
            index = self.lanes[lane]
            for i in range(index.count):
                if index.get(i, LAST) > cursor:
                    count += self._unacked(index, i)
                    first = index.get(i, OLDEST)
                    if index.get(i, FIRST) <= cursor:  # partly acknowledged: its first due record
                        first = [f[1] for f in scan(self.storage.read(index.name(i)))[0]
                                 if f[0] > cursor][0]
                    if first >= 0 and (oldest is None or first < oldest):
                        oldest = first
            by_priority[lane] = count
        total = self._total()
        now = self._now()
        gaps = self.gaps()
        return {
            "records": by_priority[1] + by_priority[2] + by_priority[3],
            "by_priority": by_priority,
            "bytes": total,
            "free_budget": max(0, self.budget - total),
            "oldest_age_s": None if oldest is None else max(0, now - oldest),
            "evicted": {1: gaps[0], 2: gaps[1], 3: gaps[2]},
            "corrupt": gaps[3],
            "torn_tails": self.torn,
            "unreadable_segments": len(self.unreadable),
            "next_seq": self.next_seq,
            "epoch": self.state[S_EPOCH],
        }
