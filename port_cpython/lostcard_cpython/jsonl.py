"""`lostcard classify`: JSON Lines of events in, one decision per line out, in order."""

import json

from lostcard.decision import classify


def dumps(obj, pretty=False):
    # Insertion order is the SPEC's field order and is deterministic, so output is byte-stable.
    if pretty:
        return json.dumps(obj, ensure_ascii=False, indent=2)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _events(text):
    """Yield (line number, event or None, error or None). A lone JSON object may span lines."""
    stripped = text.strip()
    if stripped.startswith("{") and "\n" in stripped:
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            yield 1, whole, None
            return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except ValueError as exc:
            yield number, None, "invalid JSON: %s" % exc


def classify_text(text, out, policy=None, pretty=False):
    """Write a decision (or an error object) per event line to `out`; return the bad-line count."""
    bad = 0
    for number, event, error in _events(text):
        if error is not None:
            bad += 1
            out.write(dumps({"error": error, "line": number}, pretty) + "\n")
        else:
            out.write(dumps(classify(event, policy), pretty) + "\n")
    return bad
