"""The safety invariants of docs/RULES.md (alerts, training, pick-ups, approvals, messages) over
150 seeded decline events each; the rest of them are in test_safety.py, split for the heap.

Each test forces the facts its invariant is about onto every event (a spec of safety_specs.txt),
asserts the invariant directly, and checks all invariants (safety_cases.check). Plain asserts:
run on MicroPython under a 64 KiB heap by tests/test_micropython.py, and on CPython;
tests/test_safety_properties.py draws the same specs through hypothesis.
"""

from safety_cases import SEED, drive


def test_tamper_always_alerts():
    """A tamper flag yields the stop-using alert, also on an invalid event
    (decision._decision: alert:tamper; decide passes `tampered` for events with errors)."""
    drive(SEED + 4, "tamper", "alert!~")


def test_training_is_an_operator_matter():
    """Training mode: operator_error whatever the code and its source (decision._weigh:
    context["unheard"]; rule training_mode; discount training_no_issuer)."""
    drive(SEED + 5, "training", "cause=operator_error")


def test_pickup_is_never_outweighed_by_operator_evidence():
    """A pick-up code, even a terminal-made one from an unfit terminal, is never outweighed by
    operator evidence (decision._weigh: operator_error excluded when context["pickup"])."""
    drive(SEED + 6, "operator_vs_pickup", "cause!operator_error")


def test_no_retry_after_an_approval():
    """The approval 00 arriving as a decline never leads to retry_online (decision._guard:
    no_retry_after_an_approval, flag "a")."""
    drive(SEED + 7, "approval", "action!retry_online")


def test_messages_assert_no_contradicted_fact():
    """An invalid expiry or an untrusted clock never yields "expired", and every message says
    the final action (rule expiry_invalid, discount bad_clock_expiry, decision._decision's
    guard texts)."""
    drive(SEED + 8, "not_expired", "")
