"""`lostcard queue status|list|export|inspect --dir D`: a terminal's queue as the emulator keeps
it. Read only: nothing here writes to the queue."""

import json
import os

from lostcard import update
from lostcard.errors import LostcardError
from lostcard.lane_index import LANES, segment_name
from lostcard.protocol import POLICY, WATCHLIST
from lostcard.queue import Queue
from lostcard.queue_state import STATE
from lostcard.segment import SegmentError, read_header, scan
from lostcard.terminal import DEFAULT_BUDGET, config_number

from .jsonl import dumps
from .storage import DirStorage

CONFIG = "lostcard.json"  # the emulator's layout: DIR/lostcard.json beside DIR/queue


def _config(path, config):
    """(the terminal's config, its file) for the queue in `path`: the given file, else the
    lostcard.json beside the queue if its queue_dir is this one; ({}, None) if none."""
    if config is None:
        beside = os.path.join(os.path.dirname(os.path.abspath(path)), CONFIG)
        if not os.path.isfile(beside):
            return {}, None
        config = beside
    try:
        with open(config, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as exc:
        raise LostcardError("%s is not a terminal's JSON config: %s" % (config, exc)) from None
    if not isinstance(data, dict):
        raise LostcardError("%s is not a terminal's JSON config (not an object)" % config)
    same = os.path.abspath(str(data.get("queue_dir", ""))) == os.path.abspath(path)
    return (data, config) if same else ({}, None)


def status(path, clock, config=None):
    """The queue's counts, under the budget of the terminal's config (or the default), and the
    versions of the updates installed beside it (0: none)."""
    data, source = _config(path, config)
    budget = config_number(data, "budget_bytes", DEFAULT_BUDGET)
    storage = DirStorage(path)
    stats = Queue(storage, budget_bytes=budget, clock=clock).stats()
    stats["budget_bytes"] = budget
    stats["budget_from"] = source or "the default (no terminal config beside the queue)"
    stats["policy_version"] = update.installed(storage, POLICY)
    stats["watchlist_version"] = update.installed(storage, WATCHLIST)
    return dumps(stats, pretty=True)


def listing(path, fmt="table"):
    """One line per record not yet acknowledged: lane, sequence number, time, size."""
    q = Queue(DirStorage(path))
    lines = ["lane  seq               time        bytes"] if fmt == "table" else []
    for lane in LANES:
        for seq, sealed in q.pending(lane):
            time = _time_of(q, lane, seq)
            if fmt == "table":
                lines.append("%-5d %-17d %-11s %d" % (lane, seq, time, len(sealed)))
            else:
                lines.append(dumps({"lane": lane, "seq": seq,
                                    "time": int(time) if time != "-" else None,
                                    "bytes": len(sealed)}))
    return "\n".join(lines)


def export(path, seq=None):
    """One pending sealed record as hex: `seq`'s, or the oldest of the most urgent lane."""
    q = Queue(DirStorage(path))
    for lane in LANES:
        for found, sealed in q.pending(lane):
            if seq is None or found == seq:
                return sealed.hex()
    raise LostcardError("no pending record %sin %s" % ("" if seq is None else "%d " % seq, path))


def _time_of(q, lane, seq):
    for first in q.segments(lane):
        if first <= seq:
            for found, time, _, _ in scan(q.storage.read(segment_name(lane, first)))[0]:
                if found == seq:
                    return str(time)
    return "-"


def _update_kind(name):
    for kind, stem in update.NAMES.items():
        if name in (stem + ".lcu", stem + ".new"):
            return kind
    return None


def inspect(path):
    """Every file of the queue: the state, and each segment's header, frames and damage."""
    storage = DirStorage(path)
    out = []
    for name in sorted(storage.list()):
        data = storage.read(name)
        if name == STATE:
            out.append("%s: %d bytes" % (name, len(data)))
            continue
        kind = _update_kind(name)
        if kind:  # a policy or watchlist beside the queue, installed (.lcu) or in part (.new)
            version = update.partial(storage, kind)[0] if name.endswith(".new") \
                else update.installed(storage, kind)
            out.append("%s: update object, version %d, %d bytes" % (name, version, len(data)))
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
