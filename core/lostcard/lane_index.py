"""The queue's lane index: a row of running figures per lane, and the segments' names.

A segment file is named `<lane>-<first seq, 16 hex digits>.seg` (docs/QUEUE.md, "Files").

A row is what the queue keeps of a lane whatever its backlog: eight integers (a row per segment
made a 5,000-incident backlog cost ~67 KiB of MicroPython heap). The segments between a lane's
oldest and newest are found by listing the directory, only when an upload or an eviction goes
past the oldest, one at a time (Queue._after); older segments never change, so nothing else
needs them.
"""

LANES = (1, 2, 3)  # priority 1 urgent .. 3 routine: a lane of segments each
FIRST_MASK = (1 << 60) - 1  # a first seq fits beside its lane in one key, lane << 60 | first

# a lane's row: the first seq of its OLDEST and NEWEST segment (0: none), the newest's SIZE and
# whether it takes appends (OPEN), the lane's BYTES and COUNT of frames on flash, and the LAST
# seq stored in it (0: none)
OLDEST, NEWEST, SIZE, OPEN, BYTES, COUNT, LAST = range(7)
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

