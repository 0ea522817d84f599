"""`lostcard queue status|list|inspect --dir D`: a terminal's queue as the emulator keeps it."""

from lostcard.lane_index import LANES, segment_name
from lostcard.queue import STATE, Queue
from lostcard.segment import SegmentError, read_header, scan

from .jsonl import dumps
from .storage import DirStorage


def status(path, clock):
    q = Queue(DirStorage(path), clock=clock)
    return dumps(q.stats(), pretty=True)


def listing(path):
    """One line per record not yet acknowledged: lane, sequence number, time, size."""
    q = Queue(DirStorage(path))
    lines = ["lane  seq               time        bytes"]
    for lane in LANES:
        for seq, sealed in q.pending(lane):
            lines.append("%-5d %-17d %-11s %d" % (lane, seq, _time_of(q, lane, seq), len(sealed)))
    return "\n".join(lines)


def _time_of(q, lane, seq):
    for first in q.segments(lane):
        if first <= seq:
            for found, time, _, _ in scan(q.storage.read(segment_name(lane, first)))[0]:
                if found == seq:
                    return str(time)
    return "-"


def inspect(path):
    """Every file of the queue: the state, and each segment's header, frames and damage."""
    storage = DirStorage(path)
    out = []
    for name in sorted(storage.list()):
        data = storage.read(name)
        if name == STATE:
            out.append("%s: %d bytes" % (name, len(data)))
            continue
        try:
            lane, epoch = read_header(data)
        except SegmentError as exc:
            out.append("%s: %d bytes, unreadable: %s" % (name, len(data), exc))
            continue
        frames, corrupt, torn = scan(data)
        seqs = "%d..%d" % (frames[0][0], frames[-1][0]) if frames else "-"
        out.append("%s: lane %d, epoch %d, %d bytes, %d records (seq %s), %d corrupt%s"
                   % (name, lane, epoch, len(data), len(frames), seqs, corrupt,
                      ", torn tail" if torn else ""))
    return "\n".join(out)
