"""Monotonicity (docs/RULES.md): one more fact for a cause never lowers that cause's points.

For seeded events (safety_cases.py), each mutation below sets one fact that only adds evidence
for its cause; the cause's points (the sum of its evidence in the decision) must not fall. Plain
asserts: runs on MicroPython under 64 KiB and on CPython; tests/test_safety_properties.py runs
check_monotone under hypothesis.
"""

from lostcard.policy import DEFAULT
from safety_events import SEED, decide, events, get, put, scores

import heap

# (cause, section, field, value): each only adds evidence for its cause, and for that cause
# removes or undermines none:
# - forced_fallback (65); what else it touches (chip_card_swiped, fallback_without_chip_failure)
#   is card_compromised's
# - an answer to another request: stale_answer (80); a host's network-fault code keeps 20% of at
#   most 85
# - reader_fault (70) in place of chip_reader_suspect (30) at most; the chip_card_swiped it
#   removes is card_compromised's
# - tamper (85, 25 beside the issuer's pick-up), config_error (60): what they undermine is
#   network and terminal-made card evidence
# - clock_fault (70) in place of clock_implausible (70) at most; the clock undermines expiry and
#   terminal-made card evidence only
# - a CVV mismatch: keyed_cvv_mismatch (60, 36 with the entry mode unknown) or, for a swipe,
#   card_compromised's track_cvv_mismatch
MUTATIONS = (("operator_error", "operator", "forced_fallback", True),
             ("network_fault", "response", "stan_match", False),
             ("device_fault", "terminal", "reader_ok", False),
             ("device_fault", "terminal", "tamper", True),
             ("device_fault", "terminal", "config_ok", False),
             ("device_fault", "terminal", "clock_ok", False),
             ("card_data_error", "card", "cvv_result", "mismatch"))


def _copy(event):
    out = {}
    for k in event:
        out[k] = dict(event[k]) if isinstance(event[k], dict) else event[k]
    return out


def _more(event, cause, section, key, value):
    more = _copy(event)
    put(more, section, key, value)
    return cause, more


def _mutants(event):
    """(cause, event with one more fact) for each mutation."""
    for m in MUTATIONS:
        yield _more(event, *m)
    # more attempts: repeated_attempts (35) becomes excessive_attempts (55); nothing else reads
    # them
    yield _more(event, "operator_error", "operator", "attempts",
                max(get(event, "operator", "attempts") or 0, 5))
    if get(event, "terminal", "network") is None:
        # a link known down: link_down (55) and floor_limit_offline (25), under the discounts
        # the "no answer" evidence of a null code had
        yield _more(event, "network_fault", "terminal", "network", "down")
    # the card on the watchlist, or seen at one more terminal, or at the most: watchlist_hit
    # (card_compromised) appears or grows, and undermines nothing
    terminals = get(event, "watch", "terminals") or 0
    for more in (min(terminals + 1, 255), 255):
        yield _more(event, "card_compromised", "", "watch",
                    {"version": get(event, "watch", "version") or 1, "terminals": more})
    tvr = get(event, "card", "tvr") or "0000000000"
    # DDA failed (byte 1 bit 4): oda_failed (75) in place of oda_not_performed (10) at most
    yield _more(event, "card_compromised", "card", "tvr",
                "%02X" % (int(tvr[:2], 16) | 8) + tvr[2:])


def check_monotone(event):
    """Asserts that no mutation lowers its cause's points; returns how many were compared."""
    before = scores(decide(event, DEFAULT))
    if before is None:  # an invalid event: nothing weighed
        return 0
    n = 0
    for cause, more in _mutants(event):
        heap.tidy()
        was, now = before.get(cause, 0), scores(decide(more, DEFAULT)).get(cause, 0)
        assert now >= was, ("more evidence lowered its cause", cause, was, now, event, more)
        n += 1
        more = None
    return n


def test_more_evidence_never_lowers_its_cause():
    """Adding one fact for a cause never lowers its points (rules.collect with the discounts of
    policy.DISCOUNTS; decision._weigh sums the points per cause)."""
    compared = 0
    for _, event in events(SEED + 9, 100):
        compared += check_monotone(event)
    assert compared >= 800, compared


def test_known_counterexample():
    """Found by hypothesis: a null code to an ARQC counts no_host_answer (40) and
    online_request_unanswered (25) for network_fault; the link known down gives link_down (55)
    in place of both."""
    check_monotone({"response": {"code": None}, "card": {"cid": "ARQC"}})
