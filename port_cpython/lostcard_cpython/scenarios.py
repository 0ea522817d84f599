"""The labelled decline scenarios in fixtures/ (JSON Lines: name, note, event, expect)."""

import json

from .paths import SAFETY_SCENARIOS as SAFETY, SCENARIOS


def load(path=SCENARIOS):
    scenarios = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                scenarios.append(json.loads(line))
            except ValueError as exc:
                raise SystemExit("%s:%d: not valid JSON (%s)" % (path, number, exc))
    return scenarios
