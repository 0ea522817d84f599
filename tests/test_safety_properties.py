"""The safety invariants of docs/RULES.md as hypothesis properties (CPython).

The events come from the pools and specs of tests/mpy/safety_specs.txt, whose seeded events run
the same checks on MicroPython (tests/mpy/test_safety*.py); here hypothesis picks every value
and alternative, and shrinks a failure to its fewest facts (each pool starts with "leave the field
out"). The last tests run the seeded events on MicroPython and ask for the very decisions CPython
makes, and show that the check catches each broken invariant.
"""

import json

import pytest
from hypothesis import given, strategies as st

import safety_cases as safety
from lostcard.decision import classify
from lostcard.table import CHUNK, here
from micropython_process import micropython
from safety_cases import DEFAULT, apply, check, decide, oracle
from test_safety_monotone import check_monotone


def draw_event(data, spec="none"):
    """An event of the pools with `spec` forced on it, every choice drawn by hypothesis."""
    def pick(seq):
        return data.draw(st.sampled_from(seq))
    return apply(apply({"id": "s", "response": {}}, "pools", pick), spec, pick)


def case(data, spec, expect):
    """Like safety_cases.drive for one drawn event: `expect` holds and so does every invariant."""
    event = draw_event(data, spec)
    d = decide(event, DEFAULT)
    field, value = expect.replace("!", "=").split("=") if expect else ("", "")
    if field:
        assert (d[field] == (None if value == "~" else value)) == ("=" in expect), (event, d)
    check(event, d)
    return event, d


@given(st.data())
def test_no_retention_from_an_unfit_terminal(data):
    """A terminal-made pick-up on an unfit terminal never retains the card (rules.context_of:
    unfit, fit_list_hit; discounts unfit_*, stale_hotlist; decision._guard:
    retain_only_on_the_issuers_word)."""
    event, _ = case(data, "unfit_pickup", "action!retain_card")
    assert oracle(event)[2] and oracle(event)[4] is None  # the spec forced what it says


@given(st.data())
def test_no_retention_in_training_or_on_wrong_keyed_data(data):
    """Training mode, or keyed data failing Luhn, length or YYMM, never retains, even on the
    host's pick-up (rules.context_of: unheard, keyed_wrong; discounts training_no_issuer,
    keyed_data_wrong; decision._guard)."""
    event, _ = case(data, "wrong_data", "action!retain_card")
    assert oracle(event)[4] is None


@given(st.data())
def test_every_invariant_on_any_event(data):
    """All invariants at once (safety_cases.check names the rules of each) on unforced events;
    hypothesis finds the counterexample of test_safety.test_known_counterexamples here."""
    case(data, "none", "")


@given(st.data())
def test_every_invariant_on_pickups(data):
    case(data, "maybe_pickup", "")


@given(st.data())
def test_tamper_always_alerts(data):
    """A tamper flag yields the stop-using alert, also on an invalid event
    (decision._decision: alert:tamper; decide passes `tampered` for events with errors)."""
    case(data, "tamper", "alert!~")


@given(st.data())
def test_training_is_an_operator_matter(data):
    """Training mode: operator_error whatever the code and its source (decision._weigh:
    context["unheard"]; rule training_mode; discount training_no_issuer)."""
    case(data, "training", "cause=operator_error")


@given(st.data())
def test_pickup_is_never_outweighed_by_operator_evidence(data):
    """A pick-up code, even a terminal-made one from an unfit terminal, is never outweighed by
    operator evidence (decision._weigh: operator_error excluded when context["pickup"])."""
    case(data, "operator_vs_pickup", "cause!operator_error")


@given(st.data())
def test_no_retry_after_an_approval(data):
    """The approval 00 arriving as a decline never leads to retry_online (decision._guard:
    no_retry_after_an_approval, flag "a")."""
    case(data, "approval", "action!retry_online")


@given(st.data())
def test_messages_assert_no_contradicted_fact(data):
    """An invalid expiry or an untrusted clock never yields "expired"; every message says the
    final action (rule expiry_invalid, discount bad_clock_expiry, decision._decision's guard
    texts)."""
    case(data, "not_expired", "")


@given(st.data())
def test_more_evidence_never_lowers_its_cause(data):
    """Adding one fact for a cause never lowers that cause's points (rules.collect and its
    discounts, decision._weigh's per-cause sums; the mutations: test_safety_monotone.py)."""
    check_monotone(draw_event(data))


@given(st.data())
def test_more_evidence_never_lowers_its_cause_without_an_answer(data):
    """The same for requests no answer came to, the link state unknown: where the "no answer"
    and link rules meet (rules._response, rules._terminal); hypothesis finds the counterexample
    of test_safety_monotone.test_known_counterexample here."""
    check_monotone(draw_event(data, "unanswered"))


def test_the_oracle_and_the_specs():
    # the test's own Luhn, YYMM and version checks against values whose answer is known
    assert [safety.luhn(p) for p in ("4111111111111111", "4222222222222", "5500000000000004",
                                     "4111111111111112")] == [True, True, True, False]
    assert safety.expiry_valid("2812") and safety.expiry_valid("12/28")
    assert not any(safety.expiry_valid(x) for x in ("2813", "2800", "13/28", "281", "122028"))
    assert safety.older("2.3.9", "2.4.0") and not safety.older("2.4", "2.4.0")
    assert not safety.older("3rc1", "2.4.1") and safety.older("1.0", "2.4.1")
    # the pick-up codes of the specs are those the policy flags "p", and 00 its only approval
    codes = safety.row(safety.SPECS, "pools_response")[1].split(":")[2].split(",")[2:]
    flags = {c: (safety.row(DEFAULT["response_codes"], c) or [""] * 5)[4] for c in codes}
    pickups = safety.row(safety.SPECS, "pickups")[0].split(":")[2].split(",")
    assert sorted(c for c in codes if "p" in flags[c]) == sorted(pickups)
    assert [c for c in codes if "a" in flags[c]] == ["00"]
    # every row fits the chunk MicroPython reads it in
    for line in open(here(safety.__file__, "safety_specs.txt"), "rb"):
        assert len(line) < CHUNK - 16, line[:40]


def test_seeded_decisions_match_cpython(bundle):
    """The seeded safety events decide identically on MicroPython and CPython."""
    script = ("import json, sys, safety_cases as s\n"
              "for _, e in s.events(s.SEED, 300):\n"
              "    json.dump(s.decide(e, s.DEFAULT), sys.stdout)\n"
              "    print()\n")
    proc = micropython(bundle, ["-c", script])
    assert proc.returncode == 0, proc.stderr + proc.stdout[-500:]
    mpy = [json.loads(line) for line in proc.stdout.splitlines()]
    cpy = [classify(event) for _, event in safety.events(safety.SEED, 300)]
    assert len(mpy) == 300
    assert {d["action"] for d in cpy} >= {"retain_card", "call_acquirer", "retry_online",
                                          "service_terminal"}
    for i, (got, want) in enumerate(zip(mpy, cpy)):
        assert got == want, i


GOOD = {"response": {"code": "41", "source": "host", "stan_match": True},
        "terminal": {"tamper": False}, "operator": {"training_mode": False}}


@pytest.mark.parametrize("facts,changes", [
    # 1: a retention in training, on wrong keyed data, from an unfit terminal's own code
    ({"operator": {"training_mode": True}}, {}),
    ({"card": {"entry_mode": "manual", "pan": "4111111111111112"}}, {}),
    ({"response": {"code": "41", "source": "terminal"}, "terminal": {"config_ok": False}}, {}),
    ({}, {"alert": {"zh": "x", "en": "x"}}),                               # 2: alert, no tamper
    ({"terminal": {"tamper": True}}, {"alert": None}),                     # 2: tamper, no alert
    ({"operator": {"training_mode": True}}, {"action": "call_acquirer"}),  # 3: training, 41
    ({}, {"cause": "operator_error"}),                                     # 4
    ({"response": {"code": "00"}}, {"action": "retry_online",              # 5
                                    "messages": {"operator": {"zh": "", "en": "retry"},
                                                 "cardholder": {"zh": "", "en": ""}}}),
    ({"card": {"expiry": "2813"}}, {"subcause": "expired_card"}),          # 6: expired, no date
    ({}, {"action": "return_card"}),                                       # 6: text not action
])
def test_the_check_catches_each_broken_invariant(facts, changes):
    # the real decision for GOOD (41 from the host: retain) passes; each row breaks one thing
    d = decide(GOOD, DEFAULT)
    assert d["action"] == "retain_card"
    check(GOOD, d)
    event = {k: dict(v) for k, v in GOOD.items()}
    for section, fields in facts.items():
        event.setdefault(section, {}).update(fields)
    with pytest.raises(AssertionError):
        check(event, dict(d, **changes))


def test_monotonicity_check_can_fail(monkeypatch):
    # a mutation that removes evidence (the tamper alarm off) is caught as lowering its cause
    import test_safety_monotone as mono

    monkeypatch.setattr(mono, "MUTATIONS", (("device_fault", "terminal", "tamper", False),))
    with pytest.raises(AssertionError):
        mono.check_monotone({"response": {"code": "05"}, "terminal": {"tamper": True}})
