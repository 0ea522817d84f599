"""Per-acquirer overrides of the response-code map, and their validation.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only. Kept apart
from test_policy so that a MicroPython run loads only what overriding needs.
"""

from lostcard.decision import classify
from lostcard.errors import LostcardError, PolicyError
from lostcard.override import with_overrides
from lostcard.policy import DEFAULT
from lostcard.table import row
from sample_events import base_event


def test_acquirer_override_maps_42_to_stolen():
    policy = with_overrides(DEFAULT, {"name": "acq-x", "response_codes": {
        "42": ["rc_stolen", "card_compromised", 95, "reported_stolen", "p", "stolen (acq-x)"],
        "05": None}})
    d = classify(base_event("42"), policy)
    assert d["cause"] == "card_compromised" and d["action"] == "retain_card"
    # a code not flagged "pick up" never makes a cashier retain a card (docs/RULES.md)
    unflagged = with_overrides(DEFAULT, {"name": "acq-y", "response_codes": {
        "42": ["rc_stolen", "card_compromised", 95, "reported_stolen", "", "stolen (acq-y)"]}})
    assert classify(base_event("42"), unflagged)["action"] == "call_acquirer"
    assert d["policy"] == DEFAULT["version"] + "+acq-x"
    assert row(policy["response_codes"], "05") is None
    assert row(DEFAULT["response_codes"], "05") is not None
    assert classify(base_event("05"), policy)["cause"] == "undetermined"


def test_malformed_overrides_are_refused():
    bad = ({"name": "x", "response_codes": {"42": ["r", "nonsense", 5, "s", "", "m"]}},
           {"name": "x", "response_codes": {"42": ["r", "card_compromised", 500, "s", "", "m"]}},
           {"name": "x", "response_codes": {"420": ["r", "card_compromised", 5, "s", "", "m"]}},
           {"name": "x", "response_codes": {"4|": ["r", "card_compromised", 5, "s", "", "m"]}},
           {"name": "x", "response_codes": {"\n4": ["r", "card_compromised", 5, "s", "", "m"]}},
           {"name": "x", "response_codes": {"4a": ["r", "card_compromised", 5, "s", "", "m"]}},
           {"name": "x", "response_codes": {"42": ["r|x", "card_compromised", 5, "s", "", "m"]}},
           {"name": "", "response_codes": {}},
           {"name": "x", "min_points": 0},
           "junk")
    for overrides in bad:
        try:
            with_overrides(DEFAULT, overrides)
        except PolicyError as exc:
            assert isinstance(exc, LostcardError)
        else:
            raise AssertionError("accepted %r" % (overrides,))
