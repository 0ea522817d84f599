"""The default policy and the terminal texts.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.decision import classify
from lostcard.collector.policy_check import check, rows
from lostcard.policy import DEFAULT
from lostcard.table import row
from lostcard.vocab import ACTIONS, CAUSES, RULE_CAUSES
from sample_events import base_event


def test_default_policy_is_consistent():
    assert check(DEFAULT) is DEFAULT
    for r in rows(DEFAULT["rules"]):
        assert r[1] in RULE_CAUSES
    for r in rows(DEFAULT["actions"]):
        assert r[1] in ACTIONS
    # a duplicate row would be silently shadowed; texts are checked a kind at a time, which keeps
    # the set small enough for a 64 KiB heap
    for t, kind in (("rules", ""), ("response_codes", ""), ("actions", ""), ("risk", ""),
                    ("texts", "why:"), ("texts", "note:"), ("texts", "remedies:"),
                    ("texts", "operator:"), ("texts", "cardholder:")):
        seen = set()
        for r in rows(DEFAULT[t]):
            if r[0].startswith(kind):
                assert r[0] not in seen, r[0]
                seen.add(r[0])
        assert seen, (t, kind)
        seen = None


def test_messages_fit_a_small_display():
    operator = cardholder = 0
    for r in rows(DEFAULT["texts"]):
        if r[0].startswith("operator:") or r[0].startswith("cardholder:"):
            zh, en = r[1], r[2]
            assert 0 < len(zh) <= 16 and 0 < len(en) <= 32, r[0]
            if r[0].startswith("operator:"):
                assert row(DEFAULT["texts"], "cardholder:" + r[3]) is not None, r[0]
                operator += 1
            else:
                cardholder += 1
    assert operator > 30 and cardholder > 10


def test_every_cause_has_texts_and_subcauses_use_their_own():
    texts = DEFAULT["texts"]
    for cause in CAUSES:
        assert row(texts, "operator:" + cause) is not None
    d = classify(base_event("41"))
    assert d["messages"]["operator"]["en"] == row(texts, "operator:reported_lost")[1]
    d = classify(base_event("96"))  # no host_malfunction row: the cause's texts apply
    assert d["messages"]["operator"]["en"] == row(texts, "operator:network_fault")[1]


def test_every_rule_is_explained_and_every_explanation_fills_in():
    texts = DEFAULT["texts"]
    for r in rows(DEFAULT["rules"]):
        assert row(texts, "why:" + r[0]) is not None, r[0]


def test_a_retain_code_without_the_pick_up_flag_is_refused():
    from lostcard.errors import PolicyError
    from lostcard.override import with_overrides

    entry = ["rc_stolen", "card_compromised", 95, "reported_stolen", "", "stolen (acq-z)"]
    unflagged = with_overrides(DEFAULT, {"name": "acq-z", "response_codes": {"42": entry}})
    try:
        check(unflagged)
        raise AssertionError("a retain code without the p flag passed the check")
    except PolicyError as exc:
        assert "42" in str(exc) and "flagged p" in str(exc), exc
    entry[4] = "p"
    check(with_overrides(DEFAULT, {"name": "acq-z", "response_codes": {"42": entry}}))

