"""The default policy and the terminal texts.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.decision import classify
from lostcard.messages import CARDHOLDER, OPERATOR
from lostcard.override import ACTIONS, check, rows
from lostcard.policy import CAUSES, DEFAULT
from lostcard.table import row
from sample_events import base_event


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
