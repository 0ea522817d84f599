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
from safety_cases import LIMITS, row
from test_safety_monotone import check_monotone


def check_watch(event, d):
    """Invariant 9 for an event with a watchlist hit (its "watch" section) and its decision `d`:
    rule watchlist_hit carries its points in proportion to the terminals seen (full from limits
    watchlist_terminals_full), keyed_data_wrong's share of them on card data failing their
    checks (a PAN not 12 to 19 digits or failing Luhn, an expiry that is no YYMM:
    safety_cases.oracle), read off the policy, not the core; and a listed card whose data pass
    their checks is not tried again (decision._decision: no_new_attempt_on_a_watchlisted_card).
    Returns (data wrong, the points due), None for a malformed event."""
    if d["errors"]:
        return None
    # the list matched the card number: only the number failing its checks discounts the hit
    pan = (event.get("card") or {}).get("pan")
    pan = pan.replace(" ", "") if isinstance(pan, str) else pan
    wrong = pan is not None and not (12 <= len(pan) <= 19 and safety.luhn(pan))
    full = LIMITS["watchlist_terminals_full"]
    due = int(row(DEFAULT["rules"], "watchlist_hit")[1]) \
        * (min(event["watch"]["terminals"], full) * 100 // full) // 100
    if wrong:
        due = due * int(row(DEFAULT["discounts"], "keyed_data_wrong")[0]) // 100
    assert [e["points"] for e in d["evidence"] if e["rule"] == "watchlist_hit"] \
        == ([due] if due else []), ("9 watchlist points", due, event, d)
    assert wrong or d["action"] not in ("retry_online", "reenter_card", "return_card"), \
        ("9 tried again", event, d)
    return wrong, due


def watch_of(event):
    """The watchlist hit (version, terminals seen) the event's "watch" section stands for, as a
    terminal passes it to classify (safety_events.decide)."""
    w = event.get("watch")
    return None if w is None else (w["version"], w["terminals"])


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
    if "watch" in event:
        check_watch(event, d)
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


@pytest.mark.parametrize("spec,expect", [
    ("watch_any", ""),                           # all invariants, with or without a pick-up
    ("watch_alone", "action!retain_card"),       # the hit alone: no basis for retain_card
    ("watch_training", "cause=operator_error"),  # training_is_operator
    ("watch_tamper", "alert!~"),                 # tamper_alert
    ("watch_unanswered", "action!retry_online"), # no_new_attempt_on_a_watchlisted_card
])
@given(data=st.data())
def test_invariant_9_beside_a_watchlist_hit(spec, expect, data):
    """A watchlist hit (rule watchlist_hit): never the basis of retain_card, training and tamper
    as without it, no new try of a listed card with sound data, and its points exact
    (check_watch, which case() applies to every event with a hit)."""
    case(data, spec, expect)


@given(st.data())
def test_a_watchlist_hit_on_wrong_card_data_is_discounted(data):
    """The hit keeps keyed_data_wrong's share on card data failing their checks (check_watch
    asserts its exact points)."""
    event, d = case(data, "watch_wrong_data", "")
    assert "watch" in event and (d["errors"] or check_watch(event, d)[0])  # as the spec forced


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
              "for spec, n in (('none', 300), ('watch_any', 150)):\n"
              "    for _, e in s.events(s.SEED, n, spec):\n"
              "        json.dump(s.decide(e, s.DEFAULT), sys.stdout)\n"
              "        print()\n")
    proc = micropython(bundle, ["-c", script])
    assert proc.returncode == 0, proc.stderr + proc.stdout[-500:]
    mpy = [json.loads(line) for line in proc.stdout.splitlines()]
    # the watchlist hit goes beside the event, as a terminal passes it
    cpy = [classify(event, None, watch_of(event))
           for spec, n in (("none", 300), ("watch_any", 150))
           for _, event in safety.events(safety.SEED, n, spec)]
    assert len(mpy) == 450
    assert sum(any(e["rule"] == "watchlist_hit" for e in d["evidence"]) for d in cpy) >= 100
    assert {d["action"] for d in cpy} >= {"retain_card", "call_acquirer", "retry_online",
                                          "service_terminal"}
    for i, (got, want) in enumerate(zip(mpy, cpy)):
        assert got == want, i


@pytest.mark.parametrize("seed,spec", [
    (safety.SEED, "watch_any"), (safety.SEED + 11, "watch_alone"),
    (safety.SEED + 12, "watch_wrong_data"), (safety.SEED + 13, "watch_training"),
    (safety.SEED + 14, "watch_tamper"), (safety.SEED + 15, "watch_unanswered")])
def test_the_seeded_watchlist_events_carry_their_points(seed, spec):
    """Invariant 9's points on the seeded events of tests/mpy/test_safety_watchlist.py (and of
    the comparison above), which MicroPython decides as CPython does: check_watch here keeps
    that check out of MicroPython's 64 KiB heap."""
    wrong = 0
    for _, event in safety.events(seed, 150, spec):
        found = check_watch(event, decide(event, DEFAULT))
        wrong += found is not None and found[0]
    assert wrong >= 100 if spec == "watch_wrong_data" else wrong < 150


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


WATCHED = {"response": {"code": None}, "terminal": {"network": "down"},
           "card": {"pan": "4111111111111111"}, "watch": {"version": 3, "terminals": 3}}


@pytest.mark.parametrize("changes", [
    {"evidence": []},                                                # the hit weighed nothing
    {"action": "retry_online",                                       # the listed card retried
     "messages": {"operator": {"zh": "", "en": "retry"}, "cardholder": {"zh": "", "en": ""}}},
])
def test_the_check_catches_a_broken_watchlist_invariant(changes):
    d = decide(WATCHED, DEFAULT)
    assert d["subcause"] == "watchlist" and d["action"] == "call_acquirer"
    check(WATCHED, d)
    assert check_watch(WATCHED, d) == (False, 70)  # sound data, three terminals: the full points
    with pytest.raises(AssertionError, match="'9 "):
        check_watch(WATCHED, dict(d, **changes))
    # a PAN failing Luhn: a fifth of them, and re-entering it is allowed
    wrong = dict(WATCHED, card={"pan": "4111111111111112"})
    assert check_watch(wrong, decide(wrong, DEFAULT)) == (True, 14)
    assert decide(wrong, DEFAULT)["action"] == "reenter_card"


def test_monotonicity_check_can_fail(monkeypatch):
    # a mutation that removes evidence (the tamper alarm off) is caught as lowering its cause
    import test_safety_monotone as mono

    monkeypatch.setattr(mono, "MUTATIONS", (("device_fault", "terminal", "tamper", False),))
    with pytest.raises(AssertionError):
        mono.check_monotone({"response": {"code": "05"}, "terminal": {"tamper": True}})
