"""Invariant 9 of docs/RULES.md, the acquirer's watchlist, over 150 seeded decline events each:
a hit alone never retains, training stays operator_error and tamper still alerts beside a hit,
a listed card whose data pass their checks is not tried again where the issuer never answered,
and one whose data fail them may be re-entered.

Each test forces a watchlist hit (the spec "watched" of safety_specs.txt: the event's "watch"
section, which safety_events.decide passes beside the event as a terminal would) and the facts
of its case, asserts the case directly, and checks invariants 1 to 8 (safety_cases.check).
Plain asserts: run on MicroPython under a 64 KiB heap by tests/test_micropython.py, and on
CPython. The points the hit carries are checked on CPython (test_safety_properties.check_watch:
hypothesis over the same specs, and these seeded events, which MicroPython decides identically),
keeping that check out of the 64 KiB heap.
"""

from safety_cases import SEED, drive


def test_a_watchlist_hit_alone_never_retains():
    """No pick-up code, no hot-list bit: the hit is no basis for retain_card (rule watchlist_hit,
    subcause watchlist, its cause's action; decision._decision:
    retain_only_on_the_issuers_word)."""
    drive(SEED + 11, "watch_alone", "action!retain_card")


def test_a_listed_card_with_wrong_data_may_be_reentered():
    """A PAN failing Luhn or length, or an expiry that is no date: the card in hand may not be
    the listed one; re-entering it is the next step (discount keyed_data_wrong; no guard)."""
    assert "reenter_card" in drive(SEED + 12, "watch_wrong_data", "")


def test_training_beside_a_hit_is_an_operator_matter():
    """Training mode still decides operator_error (decision._weigh: training_is_operator)."""
    drive(SEED + 13, "watch_training", "cause=operator_error")


def test_tamper_beside_a_hit_still_alerts():
    """A tamper flag still raises the stop-using alert (decision._decision: tamper_alert)."""
    drive(SEED + 14, "watch_tamper", "alert!~")


def test_no_new_try_of_a_listed_card_the_issuer_never_saw():
    """No answer (null, Z3, 68, 91, 96) or a crossed approval (00), the card's data sound: never
    retry_online nor reenter_card, and the guard did act (decision._decision:
    no_new_attempt_on_a_watchlisted_card)."""
    actions = drive(SEED + 15, "watch_unanswered", "action!retry_online")
    assert "call_acquirer" in actions and "reenter_card" not in actions
