"""`lostcard classify`: JSON Lines of events in, one decision per line out, in order."""

import json

from lostcard.decision import classify


def dumps(obj, pretty=False):
    # CPython keeps insertion order, docs/DECISION.md's field order, so output is byte-stable.
    if pretty:
        return json.dumps(obj, ensure_ascii=False, indent=2)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _parse(raw):
    """(event, None) or (None, why) for the bytes of one line or one whole input."""
    try:
        return json.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        return None, "not UTF-8: %s" % exc.reason
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return None, "invalid JSON: %s" % (exc if isinstance(exc, ValueError) else "too deep")


MAX_LINE = 1 << 20  # bytes; a longer line is an error, and memory stays bounded


def _lines(stream):
    """(line number, bytes) of each line of a binary stream, as it arrives; a line longer than
    MAX_LINE comes as None (its rest read and dropped)."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while True:  # skip to the end of the line
                rest = stream.readline(MAX_LINE)
                if not rest or rest.endswith(b"\n"):
                    break
            line = None
        yield number, line


def _one(number, line):
    if line is None:
        return number, None, "line longer than %d bytes" % MAX_LINE
    event, error = _parse(line)
    return number, event, error


def _events(stream):
    """Yield (line number, event or None, error or None) for each non-blank line of a binary
    stream, each as soon as its line arrived. A JSON object at the start may span lines (an
    indented event): its lines are held until it parses, up to MAX_LINE bytes.

    Lines end at newline bytes only: U+2028 and friends are legal inside JSON strings.
    """
    held = []  # the lines of an object spanning lines, at the start of the input
    size = 0
    first = True
    for number, line in _lines(stream):
        if number == 1 and line is not None and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if held:
            held.append((number, line))
            size += len(line or b"")
            if line is not None and line.rstrip().endswith(b"}") and size <= MAX_LINE:
                whole, _ = _parse(b"".join(part for _, part in held))
                if isinstance(whole, dict):
                    yield held[0][0], whole, None
                    held = []
            elif line is None or size > MAX_LINE:
                yield from _release(held)
                held = []
            continue
        if line is None or not line.strip():
            if line is None:
                yield _one(number, line)
            continue
        was_first, first = first, False
        event, error = _parse(line)
        if error is not None and was_first and line.lstrip().startswith(b"{"):
            held, size = [(number, line)], len(line)
            continue
        yield number, event, error
    yield from _release(held)


def _release(held):
    """An object that never closed: each of its lines on its own."""
    for number, line in held:
        if line is None or line.strip():
            yield _one(number, line)


class Tally:
    """The lines a filter answered and the bad ones among them, for its summary line."""

    def __init__(self):
        self.lines, self.bad, self.first = 0, 0, None

    def count(self, number, error):
        self.lines += 1
        if error is not None:
            self.bad += 1
            self.first = self.first or number

    def summary(self):
        """One line on the bad lines (None if there were none): the output holds each one's why."""
        if self.bad:
            return "%d of %d lines were not valid JSON (first: line %d)" % (
                self.bad, self.lines, self.first)
        return None


TABLE = "%-5s %-17s %-22s %-17s %4s  %-32s %s"  # the id last: its length varies most
TABLE_HEAD = TABLE % ("line", "cause", "subcause", "action", "conf", "operator", "id")


def _row(number, decision):
    return TABLE % (number, decision["cause"], decision["subcause"], decision["action"],
                    decision["confidence"], decision["messages"]["operator"]["en"],
                    "-" if decision["id"] is None else decision["id"])


def classify_stream(stream, out, policy=None, pretty=False, table=False, tally=None, watch=None):
    """Write a decision (or an error object) per event line of the binary `stream` to `out`, each
    flushed as it is decided (a filter in a pipe); return the bad-line count. `tally`, if given,
    counts the lines; `watch`, as for classify, goes with every event."""
    tally = tally or Tally()
    if table:
        out.write(TABLE_HEAD + "\n")
    for number, event, error in _events(stream):
        tally.count(number, error)
        if error is not None:
            text = (TABLE % (number, "error", error, "", "", "", "")).rstrip() if table \
                else dumps({"error": error, "line": number}, pretty)
        else:
            decision = classify(event, policy, watch)
            text = _row(number, decision) if table else dumps(decision, pretty)
        out.write(text + "\n")
        out.flush()
    return tally.bad
