"""Reading decline events: unknown is not false, and malformed input is named field by field.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.decision import classify
from lostcard.event import read_event


def test_missing_fields_are_unknown_not_false():
    facts, errors = read_event({"response": {"code": "41"}})
    assert errors == []
    assert facts["code"] == "41"
    assert facts["clock_ok"] is None and facts["tamper"] is None and facts["pan"] is None


def test_malformed_events_are_reported_field_by_field():
    facts, errors = read_event({"response": {"code": 41, "source": "satellite"},
                                "card": "junk", "terminal": {"clock_ok": "yes", "attempts": -1},
                                "operator": {"attempts": True, "id": "x" * 500}})
    assert "response.code: expected a string" in errors
    assert "response.source: unknown value" in errors
    assert "card: expected an object" in errors
    assert "terminal.clock_ok: expected true or false" in errors
    assert "operator.attempts: expected a whole number" in errors
    assert "operator.id: longer than 32 characters" in errors
    assert read_event([1, 2])[1] == ["event: expected an object"]
    assert read_event({})[1] == ["response: missing"]


def test_codes_and_tvr_are_normalised_to_upper_case():
    facts, errors = read_event({"response": {"code": "z3"}, "card": {"tvr": "00000000ff"}})
    assert errors == []
    assert facts["code"] == "Z3" and facts["tvr"] == "00000000FF"


def test_bad_input_gives_undetermined_with_errors():
    for event in (None, 7, "41", [], {}, {"response": "41"}, {"response": {"code": "4"}},
                  {"response": {"code": "41"}, "card": {"tvr": "zz"}},
                  {"response": {"code": "41"}, "time": 10 ** 30}):
        d = classify(event)
        assert d["cause"] == "undetermined", event
        assert d["action"] == "call_acquirer"
        assert d["errors"], event
        assert d["evidence"] == []
