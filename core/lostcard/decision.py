"""The decision: weigh the evidence for the five causes and say what to do (docs/DECISION.md).

Evidence from rules.py is summed per cause; the best cause wins if it reaches the policy's
`min_points`, else the decline is `undetermined`. Ties go to the cause named first in TIE_ORDER
(the one whose wrong dismissal costs most). Integer arithmetic throughout, so CPython and
MicroPython decide identically.
"""

import gc

from .event import read_event
from .messages import texts
from .policy import DEFAULT
from .rules import answer_source, collect
from .table import row

# On a tie, the cause whose wrong dismissal costs most is preferred.
TIE_ORDER = ("card_compromised", "device_fault", "network_fault", "operator_error",
             "card_data_error")
MAX_CONFIDENCE = 99   # the core never claims certainty about a remote party's reasons


def _lookup(table, kind, subcause, cause):
    """A policy table's fields for `subcause` if it has a row, else for `cause`."""
    found = row(table, kind + subcause)
    return found if found is not None else row(table, kind + cause)


def _decision(event_id, cause, subcause, confidence, offline, evidence, policy, errors):
    funds, operational, legal = _lookup(policy["risk"], "", subcause, cause)
    # urgent when money is at stake; then any high risk or money possibly at stake; else routine
    priority = 1 if funds == "high" else 2 if "high" in (operational, legal) or funds == "medium" \
        else 3
    return {
        "id": event_id,
        "cause": cause,
        "subcause": subcause,
        "confidence": confidence,
        "action": _lookup(policy["actions"], "", subcause, cause)[0],
        "offline": offline,
        "evidence": evidence,
        "remedies": _lookup(policy["texts"], "remedies:", subcause, cause)[0].split(","),
        "risk": {"funds": funds, "operational": operational, "legal": legal},
        "messages": texts(policy["texts"], cause, subcause),
        "priority": priority,
        "policy": policy["version"],
        "errors": errors,
    }


def _weigh(facts, policy):
    items = collect(facts, policy)
    scores = {}
    for rule, cause, points, subcause, why in items:
        scores[cause] = scores.get(cause, 0) + points
    best = None
    for cause in TIE_ORDER:
        if cause in scores and (best is None or scores[cause] > scores[best]):
            best = cause
    evidence = []
    for i in items:
        evidence.append({"rule": i[0], "cause": i[1], "points": i[2], "why": i[4]})
    if best is None or scores[best] < policy["min_points"]:
        return "undetermined", "no_signal", 0, evidence
    top = scores[best]
    total = 0
    for cause in scores:
        total += scores[cause]
    full = policy["confidence_full_at"]
    confidence = top * 100 // total * (top if top < full else full) // full
    # the strongest single piece of evidence for the winner names the subcause
    subcause = None
    for item in items:
        if item[1] == best:
            subcause = item[3]
            break
    return best, subcause, min(confidence, MAX_CONFIDENCE), evidence


def classify(event, policy=None):
    """Decision dict (docs/DECISION.md) for a decline `event` (docs/EVENT.md); never raises.

    `policy` defaults to policy.DEFAULT; pass override.with_overrides(...) for an acquirer's map.
    """
    if policy is None:
        policy = DEFAULT
    try:
        return _classify(event, policy)
    except MemoryError:  # a fragmented device heap: collect its garbage and try once more
        gc.collect()
    try:
        return _classify(event, policy)
    except Exception as exc:  # the last line of defence: a decline must always get a decision
        return _decision(None, "undetermined", "invalid_event", 0, True, [], DEFAULT,
                         ["internal: %s" % type(exc).__name__])


def _classify(event, policy):
    facts, errors = read_event(event)
    offline = facts["code"] is None or answer_source(facts, policy) != "host"
    if errors:
        return _decision(facts["id"], "undetermined", "invalid_event", 0, offline, [], policy,
                         errors)
    cause, subcause, confidence, evidence = _weigh(facts, policy)
    return _decision(facts["id"], cause, subcause, confidence, offline, evidence, policy, [])
