"""The safety invariants of docs/RULES.md over 150 seeded decline events each.

Each test forces the facts its invariant is about onto every event (a spec of safety_specs.txt),
asserts the invariant directly, and checks all invariants (safety_cases.check). Plain asserts:
run on MicroPython under a 64 KiB heap by tests/test_micropython.py, and on CPython;
tests/test_safety_properties.py draws the same specs through hypothesis.
"""

from safety_cases import DEFAULT, SEED, check, decide, drive


def test_no_retention_from_an_unfit_terminal():
    """A terminal-made pick-up on an unfit terminal never retains (rules.context_of: unfit,
    fit_list_hit; discounts unfit_*, stale_hotlist; decision._guard:
    retain_only_on_the_issuers_word)."""
    drive(SEED + 1, "unfit_pickup", "action!retain_card")


def test_no_retention_in_training_or_on_wrong_keyed_data():
    """Training mode, or keyed data failing Luhn, length or YYMM, never retains, even on the
    host's pick-up (rules.context_of: unheard, keyed_wrong; discounts training_no_issuer,
    keyed_data_wrong; decision._guard)."""
    drive(SEED + 2, "wrong_data", "action!retain_card")


def test_retention_only_on_a_sound_basis():
    """Unforced events and pick-ups: retain_card only on the issuer's word or a fit terminal's
    list (decision._guard, rules.context_of), and it does happen (the check is not vacuous)."""
    assert "retain_card" in drive(SEED + 3, "maybe_pickup", "")
    assert "retain_card" in drive(SEED + 10, "none", "")


def test_known_counterexamples():
    """Minimal events that broke an invariant (found by hypothesis, see
    tests/test_safety_properties.py): a chip's expiry month 13 beside the host's 54."""
    event = {"response": {"code": "54"}, "card": {"expiry": "2813"}}
    check(event, decide(event, DEFAULT))
