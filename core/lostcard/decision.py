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
from .rules import answer_source, collect, context_of
from .table import row

# On a tie, the cause whose wrong dismissal costs most is preferred.
TIE_ORDER = ("card_compromised", "device_fault", "network_fault", "operator_error",
             "card_data_error")
MAX_CONFIDENCE = 99   # the core never claims certainty about a remote party's reasons


def lookup(table, kind, subcause, cause):
    """A policy table's fields for `subcause` if it has a row, else for `cause`."""
    found = row(table, kind + subcause)
    return found if found is not None else row(table, kind + cause)


def _decision(event_id, cause, subcause, confidence, offline, evidence, policy, errors,
              tampered=False, context=None, applied=None):
    funds, operational, legal = lookup(policy["risk"], "", subcause, cause)
    # urgent when money is at stake; then any high risk or money possibly at stake; else routine
    priority = 1 if funds == "high" else 2 if "high" in (operational, legal) or funds == "medium" \
        else 3
    action = lookup(policy["actions"], "", subcause, cause)[0]
    # the safety rules that act on the action (docs/RULES.md); `applied` names those that did
    if context is not None:
        if action == "retain_card" and not (context["issuer_pickup"] or context["fit_list_hit"]):
            applied.append("retain_only_on_the_issuers_word")
            action = "call_acquirer"
        if action != "call_acquirer" and context["approval"]:
            applied.append("no_retry_after_an_approval")  # nor anything else: reverse first
            action = "call_acquirer"
        if action == "retry_online" and context["never_retry"]:
            applied.append("no_retry_after_never_approve")
            action = "return_card"
        if tampered and action in ("retry_online", "reenter_card"):
            applied.append("stop_using_a_tampered_terminal")  # first: it ends any new attempt
            action = "service_terminal"
        if action in ("retry_online", "reenter_card", "return_card") \
                and context["watch"] is not None and not context["pan_wrong"]:
            # another go with a card other terminals saw compromised, here or at the next
            # counter, could get a clone approved: the acquirer, whose watchlist it is, decides
            applied.append("no_new_attempt_on_a_watchlisted_card")
            action = "call_acquirer"
    alert = None
    if tampered:  # a possible skimmer: whatever happens to the card, staff stop using it
        alert = row(policy["texts"], "alert:tamper")
        alert = {"zh": alert[0], "en": alert[1]}
    return {
        "id": event_id,
        "cause": cause,
        "subcause": subcause,
        "confidence": confidence,
        "action": action,
        "offline": offline,
        "evidence": evidence,
        "remedies": lookup(policy["texts"], "remedies:", subcause, cause)[0].split(","),
        "risk": {"funds": funds, "operational": operational, "legal": legal},
        # when a safety rule changed the action, its own words: the cause's would contradict it
        "messages": texts(policy["texts"], applied[-1], applied[-1]) if applied
        else texts(policy["texts"], cause, subcause),
        "alert": alert,
        "priority": priority,
        "policy": policy["version"],
        "errors": errors,
    }


def _weigh(items, policy, context):
    """(cause, subcause, confidence, scores, excluded) for the evidence `items`."""
    scores = {}
    for item in items:
        scores[item[1]] = scores.get(item[1], 0) + item[2]
    # safety rules on the winner (docs/RULES.md): no issuer hears a training transaction; what
    # the operator did never outweighs a pick-up code
    excluded = ()
    if context["unheard"]:
        candidates = ("operator_error",)
    elif context["issuer_pickup"]:  # the strongest evidence there is (docs/RULES.md)
        candidates = (context["entry"][1],)
        excluded = tuple(cause for cause in scores if cause != candidates[0])
    else:
        candidates = TIE_ORDER
        if context["pickup"]:
            excluded = ("operator_error",)
    best = None
    for cause in candidates:
        if cause in scores and cause not in excluded \
                and (best is None or scores[cause] > scores[best]):
            best = cause
    if best is None or scores[best] < policy["min_points"]:
        return "undetermined", "no_signal", 0, scores, excluded
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
    return best, subcause, min(confidence, MAX_CONFIDENCE), scores, excluded


def classify(event, policy=None, watch=None):
    """Decision dict (docs/DECISION.md) for a decline `event` (docs/EVENT.md); never raises.

    `policy` defaults to policy.DEFAULT; pass override.with_overrides(...) for an acquirer's map.
    `watch`: the card's token on the acquirer's watchlist, (watchlist version, terminals seen),
    or None (no watchlist, not on it, no card number).
    """
    if policy is None:
        policy = DEFAULT
    try:
        return decide(event, policy, None, watch)
    except MemoryError:  # a fragmented device heap: collect its garbage and try once more
        gc.collect()
    try:
        return decide(event, policy, None, watch)
    except Exception as exc:  # the last line of defence: a decline must always get a decision
        return _decision(None, "undetermined", "invalid_event", 0, True, [], DEFAULT,
                         ["internal: %s" % type(exc).__name__])


def decide(event, policy, trace=None, watch=None):
    """classify without its last line of defence; with a dict `trace`, also what `lostcard
    explain` shows: the facts, the evidence with its discounts, the points per cause, what the
    safety rules excluded or changed."""
    facts, errors = read_event(event)
    offline = facts["code"] is None or answer_source(facts, policy) != "host"
    tampered = facts["tamper"] is True  # read_event keeps a malformed alarm too
    if errors:
        return _decision(facts["id"], "undetermined", "invalid_event", 0, offline, [], policy,
                         errors, tampered)
    context = context_of(facts, policy, watch)
    items = collect(facts, policy, context)
    cause, subcause, confidence, scores, excluded = _weigh(items, policy, context)
    evidence = []
    for i in items:
        evidence.append({"rule": i[0], "cause": i[1], "points": i[2], "why": i[4]})
    applied = []
    decision = _decision(facts["id"], cause, subcause, confidence, offline, evidence, policy, [],
                         tampered, context, applied)
    if trace is not None:
        trace.update(facts=facts, items=items, scores=scores, excluded=excluded,
                     context=context, guards=applied)
    return decision
