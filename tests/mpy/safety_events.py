"""Seeded decline events for the safety invariants (docs/RULES.md), read from the specs in
safety_specs.txt: the generator alone, without the invariants' check (safety_cases.py), so that a
test needing only events keeps the 64 KiB heap for the decisions.
"""

from lostcard.decision import decide as core_decide
from lostcard.policy import DEFAULT
from lostcard.table import here, load, row

import heap
from xorshift import XorShift

SPECS = load(here(__file__, "safety_specs.txt"))  # on flash for MicroPython
LIMITS = DEFAULT["limits"]


def put(event, section, key, value):
    """Set a field ("-" removes it), making its section if need be."""
    holder = event
    if section:
        holder = event.get(section)
        if holder is None:
            holder = event[section] = {}
    if value != "-":
        holder[key] = value
    elif key in holder:
        del holder[key]


def get(event, section, key):
    holder = event.get(section) if section else event
    return holder.get(key) if isinstance(holder, dict) else None


def apply(event, name, pick):
    """Set the fields of the spec `name` (safety_specs.txt) on `event`, `pick(sequence)`
    choosing among alternatives and values."""
    for group in row(SPECS, name):
        alternative = pick(group.split(";"))
        if alternative[:1] == "@":
            apply(event, alternative[1:], pick)
            continue
        for setting in alternative.split("&"):
            if setting:
                field, kind, values = setting.split(":")
                section, key = field.split(".")
                v = pick(values.split(","))
                if v != "-":
                    v = None if v == "~" else int(v) if kind == "i" else v == "T" if kind == "b" \
                        else v
                put(event, section, key, v)
    return event


def decide(event, policy):
    """The core's decision on `event`, with the watchlist hit (version, terminals seen) its
    "watch" section stands for: a terminal's own fact, passed beside the event (the core ignores
    the section)."""
    w = event.get("watch")
    return core_decide(event, policy, None, w and (w["version"], w["terminals"]))


def scores(d):
    """{cause: points} of decision `d`: the sums its evidence shows (None for an invalid event)."""
    if d["errors"]:
        return None
    out = {}
    for e in d["evidence"]:
        out[e["cause"]] = out.get(e["cause"], 0) + e["points"]
    return out


SEED = 20261212


def events(seed, count, spec="none"):
    """(rng, event) for `count` seeded events, `spec` forced on each, on a tidy heap."""
    rng = XorShift(seed)
    for _ in range(count):
        event = None
        heap.tidy()
        event = apply(apply({"id": "s", "response": {}}, "pools", rng.pick), spec, rng.pick)
        heap.tidy()  # the pieces of the specs, before the decision
        yield rng, event
