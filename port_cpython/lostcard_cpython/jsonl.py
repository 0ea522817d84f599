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


def _events(data):
    """Yield (line number, event or None, error or None). A lone JSON object may span lines.

    Lines end at newline bytes only: U+2028 and friends are legal inside JSON strings.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    stripped = data.strip()
    if stripped.startswith(b"{") and b"\n" in stripped:
        whole, _ = _parse(stripped)
        if isinstance(whole, dict):
            yield 1, whole, None
            return
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            event, error = _parse(line)
            yield number, event, error


def classify_bytes(data, out, policy=None, pretty=False):
    """Write a decision (or an error object) per event line to `out`; return the bad-line count."""
    bad = 0
    for number, event, error in _events(data):
        if error is not None:
            bad += 1
            out.write(dumps({"error": error, "line": number}, pretty) + "\n")
        else:
            out.write(dumps(classify(event, policy), pretty) + "\n")
    return bad
