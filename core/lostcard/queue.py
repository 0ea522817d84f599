"""Store and forward: sealed incidents on flash until the collector acknowledges them.

Guarantees (tested by cutting power at every write, docs/QUEUE.md):
- `append` returns a sequence number only once the record is durable; it survives any later cut.
- Sequence numbers strictly increase for the life of the device and are never reused: a block
  of numbers is reserved in the state file before any of them is used.
- Nothing stored is rewritten: records are appended to segment files; `ack` writes a cursor.
- Each segment is sealed under its own epoch key; rotating advances the ratchet, and the state
  file keeps only the new chain key.
- Acknowledged records stay on flash (the retention window, for a collector restored from an
  older copy: `rewind`) until room is needed.
- Bounded: past the byte budget, or when the file system has less free space than a record
  needs, whole segments are evicted: acknowledged ones first, oldest first, then routine
  (priority 3) before urgent (priority 1), and every unacknowledged record evicted is counted
  in the state file for the next sync.
- Opening costs the same whatever the backlog, but once per power-on: the first open scans every
  segment; a reopen passes the checkpoint() the last queue left (`resume`) and reads only each
  lane's open segment. Each lane is a row of running figures (lane_index.py), not a list.

`storage` is the port's file store (Storage in lostcard/platform.py).
`make_sealer(epoch, chain)` gives the sealer for an epoch: seal(record, seq) -> bytes, advance(),
epoch, chain(); sealing.Sealer is the real one. Without it the queue opens read-only, or, with
writable=True, for uploading (acks but no appends).
"""

from .lane_index import BYTES, COUNT, FIRST_MASK, LANES, LAST, NEWEST, OLDEST, OPEN, \
    SIZE, WIDTH, key_of, segment_name
from .queue_state import RESERVE, S_ACK_KEY, S_CHAIN, S_CORRUPT, S_CURSORS, S_DEVICE, S_EPOCH, \
    S_EVICTED, S_LOST, S_RESERVED, S_RETIRED, QueueError, count_corrupt, load, provision, save
from .segment import FRAME_HEAD, HEADER_LEN, SegmentError, frame, header, read_header, scan

MAX_RECORD = 4096  # a sealed incident is ~200 B; this bounds a segment to rotate_bytes + 4 KiB


def _flash_full(exc):
    # ENOSPC, or LittleFS's ENAMETOOLONG: a full flash with no room left for a new file's name
    # (the queue's names are short); literals, as errno would cost a module
    return exc.args and exc.args[0] in (28, 36)


class Queue:
    def __init__(self, storage, make_sealer=None, rotate_bytes=2048, budget_bytes=65536,
                 clock=None, writable=None, resume=None):
        self.storage = storage
        self.rotate_bytes = rotate_bytes
        self.budget = budget_bytes
        self.clock = clock
        # without a sealer the queue only looks (writes and deletes nothing) unless told it may
        # acknowledge: an uploader needs acks, not keys
        self.writable = make_sealer is not None if writable is None else writable
        self._recover(resume)
        # after the segments are read: on a small heap, the scans leave no holes between the
        # sealing code (CBOR, COSE, CCM, keys) that the sealer loads
        self.sealer = make_sealer and make_sealer(self.state[S_EPOCH], self.state[S_CHAIN])

    provision = staticmethod(provision)  # queue_state.provision: a new queue's state file

    # -- recovery -----------------------------------------------------------------------------

    def _recover(self, resume):
        try:
            self.state = state = load(self.storage)
        except OSError as exc:
            if exc.args[0] != 2:  # ENOENT
                raise
            raise QueueError("no queue state: provision the queue first")
        self._written = state[S_RESERVED], state[S_EPOCH]  # what _save expects to find on flash
        self.device_id = state.get(S_DEVICE)
        self.ack_key = state.get(S_ACK_KEY)
        self.unreadable = []
        self.torn = 0
        # writes and removes under way or failed: what they left on flash only a scan can tell (a
        # failed write of the state needs no mark: the checkpoint's marks no longer match it)
        self.suspect = 0
        self.next_seq = state[S_RESERVED]  # numbers below may have been used before the cut
        if self.writable and self._resume(resume):
            return
        self._scan_all()
        self.next_seq = max(self.next_seq, self._used() + 1)

    def checkpoint(self):
        """What a reopen in this power-on needs to skip the full scan (`Queue(resume=)`): the
        state it matches, the next number and the lanes' rows; a few dozen integers. None (the
        next open scans everything) after a write failed, or on a full heap."""
        try:
            # copies, made now: lists the scan made early would stay pinned amid its freed garbage
            return None if self.suspect else self._marks() + [
                self.next_seq, [list(self.rows[lane]) for lane in LANES]]
        except MemoryError:
            return None

    def _marks(self):
        """The reservation, the epoch, and [the cursors, gaps and retired records]: what every
        write of the state changes."""
        state = self.state
        return [state[S_RESERVED], state[S_EPOCH],
                state[S_CURSORS] + self.gaps() + (state.get(S_RETIRED) or [])]

    def _resume(self, resume):
        """Take the rows of `resume` (checkpoint() of this queue, closed earlier in this power-on)
        if they still describe the flash: the state as it left it, each lane's open segment as
        long as it says. False: the caller scans everything."""
        state = self.state
        try:
            if resume[:3] != self._marks():
                return False
            next_seq, rows = resume[3:]
            for lane in LANES:
                row = rows[lane - 1]
                if len(row) != WIDTH:
                    return False
                if row[OPEN]:
                    data = self.storage.read(segment_name(lane, row[NEWEST]))
                    if len(data) != row[SIZE] or data[:HEADER_LEN] != header(lane, state[S_EPOCH]):
                        return False
        except (TypeError, ValueError, IndexError, OSError):
            return False
        self.rows = {1: rows[0], 2: rows[1], 3: rows[2]}  # taken, not copied: the caller's no more
        # go on from the caller's next number, inside the reservation already on flash,
        # instead of burning a new block
        if self._used() < next_seq <= state[S_RESERVED]:
            self.next_seq = next_seq
        return True

    def _scan_all(self):
        """Index every segment: at the first open of a power-on, or when `resume` did not fit.

        Two passes over the listing and no list of names: the first finds each lane's newest
        segment (the only one that may have a torn tail), the second reads them all."""
        storage = self.storage
        newest = {1: 0, 2: 0, 3: 0}
        for name in storage.list():
            key = key_of(name) if name.endswith(".seg") else 0
            if key is None:
                self.unreadable.append((name, "not a segment name"))  # kept, reported
            elif key:
                newest[key >> 60] = max(newest[key >> 60], key & FIRST_MASK)
        self.rows = {1: [0] * WIDTH, 2: [0] * WIDTH, 3: [0] * WIDTH}
        corrupt_found = {}
        repairs = []  # made once the listing is read to its end
        for name in storage.list():
            key = key_of(name) if name.endswith(".seg") else None
            if key is not None:
                lane, first = key >> 60, key & FIRST_MASK
                got = self._load(lane, first, corrupt_found, first == newest[lane], repairs)
                if got is not None:
                    row = self.rows[lane]
                    row[OLDEST] = min(row[OLDEST] or first, first)
                    if first > row[NEWEST]:
                        row[NEWEST:BYTES] = [first, got[0], got[2]]
                    row[LAST] = max(row[LAST], got[3])
                    row[BYTES] += got[0]
                    row[COUNT] += got[1]
        for name, data in repairs if self.writable else ():  # a read-only queue changes nothing
            if data:  # set the torn append aside for good: atomically, the good frames
                storage.replace(name, data)
            else:  # the cut interrupted its creation: that append never returned
                storage.remove(name)
        if count_corrupt(self.state, corrupt_found) and self.writable:
            self._save()

    def _load(self, lane, first, corrupt_found, newest, repairs):
        """(size, frames, open, last seq) of a segment; None if it is not a usable one. What
        to change on flash goes to `repairs`: (name, the good bytes, or None to remove it)."""
        name = segment_name(lane, first)
        data = self.storage.read(name)
        if len(data) < HEADER_LEN:
            repairs.append((name, None))
            return None
        try:
            header_lane, epoch = read_header(data)
            if header_lane != lane:
                raise SegmentError("lane %d does not match its name" % header_lane)
        except SegmentError as exc:
            self.unreadable.append((name, str(exc)))  # kept on flash, reported, never deleted
            return None
        frames, corrupt, torn = scan(data, newest)
        if corrupt:
            corrupt_found[name] = corrupt
        if torn:
            self.torn += 1
            data = data[:frames[-1][3] if frames else HEADER_LEN]
            repairs.append((name, data))
        open_ = newest and not torn and not corrupt and epoch == self.state[S_EPOCH]
        return len(data), len(frames), 1 if open_ else 0, frames[-1][0] if frames else first - 1

    def _after(self, lane, first):
        """The first seq of the lane's segment after `first`, 0 if none: one listing of the
        directory, keeping no name but the best (segment names are fixed-width hex, so they sort
        as their numbers do). Passes over a file with the name but not the header of this lane's
        segments (a later format version): the scan did not index it, nothing may send or
        delete it."""
        end = segment_name(lane + 1, 0)  # sorts after every name of the lane
        while first != self.rows[lane][NEWEST]:
            start, found = segment_name(lane, first), end
            for name in self.storage.list():
                if start < name < found and key_of(name) is not None:
                    found = name
            if found == end:
                return 0
            first = key_of(found) & FIRST_MASK
            if self.storage.read(found)[:4] == header(lane, 0)[:4]:
                return first
        return 0

    def segments(self, lane):
        """Yield the first seqs of the lane's segments, oldest first."""
        first = self.rows[lane][OLDEST]
        while first:
            yield first
            first = self._after(lane, first)

    def _oldest(self, lane):
        """(name, size, frames) of the lane's oldest segment."""
        name = segment_name(lane, self.rows[lane][OLDEST])
        data = self.storage.read(name)
        return name, len(data), scan(data)[0]

    def _remove_oldest(self, lane, name, size, frames):
        """Delete the lane's oldest segment, `name`, and take it out of the lane's row."""
        row = self.rows[lane]
        after = self._after(lane, row[OLDEST])  # first: a failed listing leaves the row as it was
        self.suspect += 1
        self.storage.remove(name)
        self.suspect -= 1
        row[BYTES] -= size
        row[COUNT] -= len(frames)
        if after:
            row[OLDEST] = after
        else:  # empty: no figure a failed write left behind outlives it
            row[OLDEST:LAST] = [0] * 6

    # -- state --------------------------------------------------------------------------------

    def _used(self):
        """The highest sequence number on flash or acknowledged."""
        return max(self.state[S_CURSORS] + [self.rows[lane][LAST] for lane in LANES])

    def _save(self):
        self._written = save(self.storage, self.state, self._written)

    def _take_seq(self):
        seq = self.next_seq
        if not (seq + 1) & 0xFFFFFF:  # the next number would name another incarnation (keys.py)
            raise QueueError("sequence numbers of this provisioning used up: provision again")
        reserved = self.state[S_RESERVED]
        if seq >= reserved:
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
            self.rows[lane][OPEN] = 0

    # -- appending ----------------------------------------------------------------------------

    def _total(self, lanes=LANES):
        return sum(self.rows[lane][BYTES] for lane in lanes)

    def _evict_one(self, lane_from):
        """Remove the oldest segment whose records are all acknowledged (the retention window's
        oldest, of any lane), else the oldest of the most routine lane no more urgent than
        `lane_from` (a routine record never pushes out an urgent one; 4: acknowledged ones
        only); False if there is none."""
        state = self.state
        cursors = state[S_CURSORS]
        for first, lane in sorted((self.rows[i][OLDEST], i) for i in LANES if self.rows[i][OLDEST]):
            victim = (lane,) + self._oldest(lane)
            if (victim[3][-1][0] if victim[3] else first - 1) <= cursors[lane - 1]:
                break
        else:
            for lane in (3, 2, 1):
                if lane >= lane_from and self.rows[lane][OLDEST]:
                    victim = (lane,) + self._oldest(lane)
                    break
            else:
                return False
        lane, name, size, frames = victim
        cursor = cursors[lane - 1]
        acked = [f[0] for f in frames if f[0] <= cursor]
        state[S_EVICTED][lane - 1] += len(frames) - len(acked)
        if acked:  # not lost: the collector holds them, unless restored from an older copy
            retired = state[S_RETIRED] = state.get(S_RETIRED) or [0] * 6
            retired[lane * 2 - 2] += len(acked)
            retired[lane * 2 - 1] = max(retired[lane * 2 - 1], acked[-1])
        try:
            self._save()  # count first: a cut may then overcount, never hide a loss
            saved = True
        except OSError as exc:
            if not _flash_full(exc):
                raise
            saved = False  # the flash is too full to rewrite the state: free it first
        self._remove_oldest(lane, name, size, frames)
        if not saved:  # (a cut just before this hides that segment's loss)
            self._evicting_if_full(lane_from, self._save)
        return True

    def _room(self, lane, need):
        """Evict until `need` more bytes fit in the budget and on the file system; False
        (evicting no unacknowledged record) if even dropping every segment no more urgent than
        `lane` could not make room in the budget."""
        limit = self.budget
        try:  # asked once: evicting frees at least what the segments held
            limit = min(limit, self._total() + self.storage.free())
        except (AttributeError, OSError):
            # no free() on this port, or it failed (LittleFS's statvfs walks every file and
            # fails on one corrupt block): unknown, a write that does not fit raises ENOSPC
            pass
        while self._total() + need > limit:
            # past what the lanes more urgent than `lane` leave, only acknowledged ones may go
            if not self._evict_one(4 if self._total(range(1, lane)) + need > self.budget
                                   else lane):
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
        row = self.rows[lane]
        if row[OPEN] and row[SIZE] >= self.rotate_bytes:
            self._rotate(lane)
        data = frame(seq, self._now(), self.sealer.seal(record, seq))
        if len(data) - FRAME_HEAD > MAX_RECORD or not self._room(lane, len(data) + HEADER_LEN):
            self._lost(lane)
            return None
        while True:
            # to the lane's open segment (eviction may have closed it), else a new one
            good = row[OPEN] and row[SIZE]  # bytes of the segment before this write
            name = segment_name(lane, row[NEWEST] if good else seq)
            try:
                written = data if good else header(lane, self.sealer.epoch) + data
                self.storage.append(name, written)
                if not good:
                    row[OLDEST] = row[OLDEST] or seq  # once on flash: the lane's newest
                    row[NEWEST:BYTES] = [seq, 0, 1]
                break
            except OSError as exc:
                row[OPEN] = 0  # never append after a write that failed
                self.suspect = 1  # for good: the next open scans what it left
                if not _flash_full(exc):
                    raise
                if not self._evict_one(lane):
                    self._lost(lane)
                    return None
                # the flash, not the budget, was full: room made. Set the failed write's bytes
                # aside before a newer segment follows (a scan would count them corrupt), retry
                try:
                    self.storage.replace(name, self.storage.read(name)[:good])
                except OSError:
                    pass  # evicted, or never made
        row[SIZE] += len(written)
        row[BYTES] += len(written)
        row[COUNT] += 1
        row[LAST] = seq
        return seq

    def _now(self):
        """The terminal clock as a frame stores it: whole seconds in 0..2**32-1 (a clock that
        lost power or jumped ahead must not stop a record from being stored)."""
        return min(max(0, int(self.clock()) if self.clock else 0), 0xFFFFFFFF)

    # -- forwarding ---------------------------------------------------------------------------

    def pending(self, priority):
        """Yield (seq, sealed record) not yet acknowledged in one lane, oldest first.

        A snapshot of the lane: appends and acks made while iterating show on the next call.
        """
        last = self.state[S_CURSORS][priority - 1]
        top = self.rows[priority][LAST]
        first = self.rows[priority][OLDEST]
        while first and last < top:  # done: no listing for a segment past the last
            after = self._after(priority, first)
            if after and after <= last + 1:  # acknowledged through its end: not read
                first = after
                continue
            try:
                data = self.storage.read(segment_name(priority, first))
            except OSError as exc:
                # nothing after this segment may be sent, or an ack would pass it by: stop the
                # lane if it was evicted while the caller iterated, else say why
                if exc.args[0] == 2:  # ENOENT (the storage's errors carry their errno)
                    return
                raise
            first = after
            for seq, _, start, end in scan(data)[0]:
                if last < seq <= top:  # also skips a record a retried write left twice
                    last = seq
                    yield seq, data[start:end]

    def ack(self, priority, through_seq):
        """The collector stored this lane's records up to `through_seq`: they stay on flash, in
        the retention window, until room is needed (docs/QUEUE.md)."""
        if priority not in LANES or not self.writable:
            raise QueueError("no lane %r to acknowledge, or a read-only queue" % (priority,))
        through_seq = min(through_seq, self.next_seq - 1)  # never past what was handed out
        cursors = self.state[S_CURSORS]
        if through_seq > cursors[priority - 1]:
            cursors[priority - 1] = through_seq
            self._save()
        row = self.rows[priority]
        if through_seq >= row[LAST]:
            # appends go to a new segment: this one, acknowledged whole, may go without them
            row[OPEN] = 0

    def rewind(self, lane, high):
        """The collector holds `lane` only through `high`, below what it acknowledged (restored
        from an older copy): send again what is still here above it, and count as lost to the
        restore the acknowledged records evicted above it (at most; docs/SYNC.md). True if the
        cursor went back."""
        state = self.state
        cursors = state[S_CURSORS]
        if lane in LANES and self.writable and 0 <= high < cursors[lane - 1]:
            retired = state[S_RETIRED] = state.get(S_RETIRED) or [0] * 6
            count, top = retired[lane * 2 - 2:lane * 2]
            lost = min(count, max(0, top - high))
            retired[lane * 2 - 2:lane * 2] = [count - lost, min(top, high)]
            state[S_LOST] = state.get(S_LOST, 0) + lost
            cursors[lane - 1] = high
            self._save()
            return True
        return False

    # -- reporting ----------------------------------------------------------------------------

    def gaps(self):
        """[evicted lane 1, 2, 3, corrupt, lost to a restore]: what the next sync reports lost
        (from the state, without reading any segment)."""
        return self.state[S_EVICTED] + [self.state[S_CORRUPT], self.state.get(S_LOST, 0)]

    def stats(self):
        """Counts for the terminal's status screen and the next sync."""
        by_priority = {}
        oldest = None
        for lane in LANES:
            row = self.rows[lane]
            cursor = self.state[S_CURSORS][lane - 1]
            count = row[COUNT] if row[LAST] > cursor else 0
            if count:
                # the acknowledged records still on flash (the retention window), and the
                # first one due, are in the oldest segments
                for first in self.segments(lane):
                    frames = scan(self.storage.read(segment_name(lane, first)))[0]
                    due = [f[1] for f in frames if f[0] > cursor]
                    count -= len(frames) - len(due)
                    if due:
                        if oldest is None or due[0] < oldest:
                            oldest = due[0]
                        break
            by_priority[lane] = count
        total = self._total()
        gaps = self.gaps()
        return {
            "records": by_priority[1] + by_priority[2] + by_priority[3],
            "by_priority": by_priority,
            "bytes": total,
            "free_budget": max(0, self.budget - total),
            "oldest_age_s": None if oldest is None else max(0, self._now() - oldest),
            "evicted": {1: gaps[0], 2: gaps[1], 3: gaps[2]},
            "corrupt": gaps[3],
            "lost_to_restore": gaps[4],
            "retained": sum(self.rows[lane][COUNT] for lane in LANES) - sum(by_priority.values()),
            "torn_tails": self.torn,
            "unreadable_segments": len(self.unreadable),
            "next_seq": self.next_seq,
            "epoch": self.state[S_EPOCH],
        }
