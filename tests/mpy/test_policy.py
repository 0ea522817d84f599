"""The default policy, per-acquirer overrides and the terminal texts.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.decision import classify
from lostcard.errors import LostcardError, PolicyError
from lostcard.messages import CARDHOLDER, OPERATOR
from lostcard.override import ACTIONS, check, rows, with_overrides
from lostcard.policy import CAUSES, DEFAULT
from lostcard.table import row
from sample_events import base_event


def test_acquirer_override_maps_42_to_stolen():
    policy = with_overrides(DEFAULT, {"name": "acq-x", "response_codes": {
        "42": ["rc_stolen", "card_compromised", 95, "reported_stolen", "", "stolen (acq-x)"],
        "05": None}})
    d = classify(base_event("42"), policy)
    assert d["cause"] == "card_compromised" and d["action"] == "retain_card"
    assert d["policy"] == DEFAULT["version"] + "+acq-x"
    assert row(policy["response_codes"], "05") is None
    assert row(DEFAULT["response_codes"], "05") is not None
    assert classify(base_event("05"), policy)["cause"] == "undetermined"


def test_malformed_overrides_are_refused():
    bad = ({"name": "x", "response_codes": {"42": ["r", "nonsense", 5, "s", "", "m"]}},
           {"name": "x", "response_codes": {"42": ["r", "card_compromised", 500, "s", "", "m"]}},
           {"name": "x", "response_codes": {"420": ["r", "card_compromised", 5, "s", "", "m"]}},
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


def test_default_policy_is_consistent():
    assert check(DEFAULT) is DEFAULT
    for r in rows(DEFAULT["rules"]):
        assert r[1] in CAUSES
    for r in rows(DEFAULT["actions"]):
        assert r[1] in ACTIONS
    for t in ("rules", "response_codes", "actions", "remedies", "risk"):
        seen = set()
        for r in rows(DEFAULT[t]):
            assert r[0] not in seen, t  # a duplicate row would be silently shadowed
            seen.add(r[0])
        assert seen, t


def test_messages_fit_a_small_display():
    count = 0
    for key, zh, en, cardholder in rows(OPERATOR):
        assert 0 < len(zh) <= 16 and 0 < len(en) <= 32, key
        assert row(CARDHOLDER, cardholder) is not None, key
        count += 1
    assert count > 30
    for key, zh, en in rows(CARDHOLDER):
        assert 0 < len(zh) <= 16 and 0 < len(en) <= 32, key


def test_every_cause_has_texts_and_subcauses_use_their_own():
    for cause in CAUSES + ("undetermined",):
        assert row(OPERATOR, cause) is not None
    d = classify(base_event("41"))
    assert d["messages"]["operator"]["en"] == row(OPERATOR, "reported_lost")[1]
    d = classify(base_event("96"))  # no host_malfunction row: the cause's texts apply
    assert d["messages"]["operator"]["en"] == row(OPERATOR, "network_fault")[1]
