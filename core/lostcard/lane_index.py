"""The queue's segment index: each lane's segments, oldest first, as rows of one array.

A segment file is named `<lane>-<first seq, 16 hex digits>.seg` (docs/QUEUE.md, "Files").
"""

from array import array

LANES = (1, 2, 3)  # priority 1 urgent .. 3 routine: a lane of segments each
FIRST_MASK = (1 << 60) - 1  # a first seq fits beside its lane in one key, lane << 60 | first

# a segment's row in its lane's index
FIRST, LAST, EPOCH, SIZE, FRAMES, OLDEST, OPEN = range(7)
WIDTH = 7


def segment_name(lane, first_seq):
    return "%d-%016x.seg" % (lane, first_seq)


def key_of(name):
    """lane << 60 | first seq of a segment file's name; None if not a name the queue writes."""
    try:
        lane, first = int(name[0]), int(name[2:18], 16)
    except ValueError:
        return None
    if lane not in LANES or first > FIRST_MASK or segment_name(lane, first) != name:
        return None
    return lane << 60 | first


class LaneIndex:
    """One lane's segments, oldest first: a row of WIDTH integers each, all in one array.

    On a terminal the index lives as long as the backlog: an object per segment costs ~270 bytes
    of MicroPython heap, a row 56. Rows from `head` on are live: dropping the oldest segment
    moves `head` and allocates nothing (it follows a file's removal, so it must not fail); the
    array is only reallocated, into a new one, when an added row finds it full.
    """

    def __init__(self, lane, capacity=4):
        self.lane = lane
        self.head = 0
        self.count = 0
        self.rows = array("q", bytes(8 * WIDTH * max(capacity, 1)))

    def get(self, i, field):
        return self.rows[(self.head + i) * WIDTH + field]

    def set(self, i, field, value):
        self.rows[(self.head + i) * WIDTH + field] = value

    def add(self, row):
        """Index a segment: `row` is (FIRST, LAST, ..., OPEN); OLDEST -1 while it has none."""
        start, end = self.head * WIDTH, (self.head + self.count) * WIDTH
        if end + WIDTH > len(self.rows):  # full: the live rows into a new array, twice their room
            grown = array("q", bytes(16 * WIDTH * (self.count + 1)))
            grown[:end - start] = self.rows[start:end]
            self.rows, self.head, end = grown, 0, end - start
        self.rows[end:end + WIDTH] = array("q", row)
        self.count += 1

    def drop_oldest(self):
        self.head += 1
        self.count -= 1

    def name(self, i):
        return segment_name(self.lane, self.get(i, FIRST))
