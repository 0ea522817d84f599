"""Decisions: the weighing of conflicting signals that docs/DECISION.md names, and its guarantees.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.decision import classify
from lostcard.policy import DEFAULT
from sample_events import base_event, rules_of


def test_reported_lost_card_is_retained():
    d = classify(base_event("41"))
    assert d["cause"] == "card_compromised"
    assert d["subcause"] == "reported_lost"
    assert d["action"] == "retain_card"
    assert d["offline"] is False
    assert d["priority"] == 1
    assert d["risk"]["funds"] == "high"
    assert rules_of(d) == ["rc_lost"]
    assert d["errors"] == []


def test_lost_code_on_a_mismatched_answer_is_a_network_fault():
    d = classify(base_event("41", response={"stan_match": False}))
    assert d["cause"] == "network_fault", d
    assert d["subcause"] == "late_answer"
    assert d["action"] == "retry_online"
    assert "stale_answer" in rules_of(d) and "rc_lost" in rules_of(d)


def test_expired_code_with_a_bad_clock_is_a_device_fault():
    assert classify(base_event("54"))["cause"] == "card_data_error"
    d = classify(base_event("54", terminal={"clock_ok": False}))
    assert d["cause"] == "device_fault", d
    assert d["subcause"] == "clock_fault"
    assert d["action"] == "service_terminal"


def test_clock_reading_2000_is_a_device_fault_and_not_an_expired_card():
    d = classify(base_event("Z1", response={"source": "terminal"}, terminal={"clock_ok": None},
                            card={"expiry": "2410", "tvr": "0040000000"}))
    d_time = classify(dict(base_event("Z1"), time=946684800))
    assert d_time["cause"] == "device_fault", d_time
    assert d["cause"] == "card_data_error"  # clock plausible: the application really expired
    # but not when the card's own expiry, under that clock, says it is valid (docs/RULES.md)
    valid = classify(base_event("Z1", response={"source": "terminal"}, terminal={"clock_ok": None},
                                card={"expiry": "2812", "tvr": "0040000000"}))
    assert valid["subcause"] not in ("expired_card", "expired_pickup"), valid


def test_swipe_after_chip_failures_is_a_legitimate_fallback():
    swiped = {"entry_mode": "swipe", "service_code": "201"}
    clone = classify(base_event("05", card=swiped, terminal={"chip_read_failures": 0}))
    assert clone["cause"] == "card_compromised" and clone["subcause"] == "cloned_stripe", clone
    fallback = classify(base_event("05", card=swiped, terminal={"chip_read_failures": 2}))
    assert "chip_card_swiped" not in rules_of(fallback)
    assert fallback["cause"] == "undetermined"


def test_magstripe_only_card_swipe_is_not_suspicious():
    d = classify(base_event("05", card={"entry_mode": "swipe", "service_code": "101"}))
    assert "chip_card_swiped" not in rules_of(d)


def test_keyed_data_checks():
    keyed = {"entry_mode": "manual", "pan": "4111111111111112", "expiry": "2812"}
    d = classify(base_event("14", card=keyed))
    assert d["cause"] == "card_data_error" and d["action"] == "reenter_card"
    assert "pan_luhn_failed" in rules_of(d)
    d = classify(base_event("05", card={"entry_mode": "manual", "expiry": "2813"}))
    assert d["subcause"] == "invalid_expiry"
    d = classify(base_event("05", card={"entry_mode": "manual", "pan": "41111"}))
    assert "pan_length_invalid" in rules_of(d)


def test_no_answer_with_the_link_down_is_a_network_fault():
    d = classify(base_event(None, response={"source": "none", "stan_match": None},
                            terminal={"network": "down", "consecutive_timeouts": 3}))
    assert d["cause"] == "network_fault" and d["offline"] is True
    assert d["action"] == "retry_online"


def test_stale_hot_list_hit_weighs_toward_the_network():
    hit = {"tvr": "1000000000"}
    offline = {"network": "down", "hotlist_age_s": 9 * 86400}
    # retention on the terminal's own list needs every fact of its fitness known (docs/RULES.md)
    fit = {"hotlist_age_s": 3600, "tamper": False, "config_ok": True, "firmware": "2.4.1",
           "min_firmware": "2.4.0"}
    fresh = classify(base_event("Z1", response={"source": "terminal"}, card=hit, terminal=fit))
    assert fresh["cause"] == "card_compromised" and fresh["action"] == "retain_card", fresh
    unknown = classify(base_event("Z1", response={"source": "terminal"}, card=hit))
    assert unknown["action"] != "retain_card", unknown
    stale = classify(base_event("Z1", response={"source": "terminal"}, card=hit,
                                terminal=offline))
    assert stale["cause"] == "network_fault" and stale["subcause"] == "stale_hotlist", stale


def test_tamper_is_urgent():
    d = classify(base_event("05", terminal={"tamper": True}))
    assert d["cause"] == "device_fault" and d["subcause"] == "tamper_detected"
    assert d["priority"] == 1


def test_training_mode_outweighs_a_host_code():
    d = classify(base_event("41", operator={"training_mode": True}))
    assert d["cause"] == "operator_error" and d["subcause"] == "training_mode", d


def test_unknown_code_is_undetermined_without_errors():
    d = classify(base_event("42"))
    assert d["cause"] == "undetermined" and d["subcause"] == "no_signal"
    assert d["errors"] == []


def test_named_causes_carry_their_evidence():
    table = DEFAULT["response_codes"]  # "\ncode|...\n" rows: walked in place, no copy
    start = 1
    while start < len(table):
        code = table[start:table.find("|", start)]
        start = table.find("\n", start) + 1
        d = classify(base_event(code))
        if d["cause"] != "undetermined":
            causes = [e["cause"] for e in d["evidence"]]
            assert d["cause"] in causes, code
            assert 0 < d["confidence"] <= 99


def test_decisions_are_deterministic():
    event = base_event("59", card={"entry_mode": "swipe", "tvr": "4000008000"},
                       terminal={"network": "degraded", "consecutive_timeouts": 2})
    assert classify(event) == classify(event)


def test_chip_read_without_offline_authentication_is_weak_alone():
    alone = classify(base_event("Z1", response={"source": "terminal"}, card={"tvr": "8000000000"}))
    assert "oda_not_performed" in rules_of(alone)
    assert alone["cause"] == "undetermined"
    tapped = classify(base_event("Z1", response={"source": "terminal"},
                                 card={"tvr": "8000000000", "entry_mode": "contactless"}))
    assert "oda_not_performed" not in rules_of(tapped)
