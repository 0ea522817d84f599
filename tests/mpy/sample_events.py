"""Sample decline events shared by the core tests (CPython and MicroPython)."""

NOW = 1795600000  # 2026-11-26


def base_event(code="41", **sections):
    event = {"id": "t", "time": NOW,
             "response": {"code": code, "source": "host", "stan_match": True},
             "card": {"entry_mode": "chip", "service_code": "201", "tvr": "0000000000"},
             "terminal": {"network": "up", "clock_ok": True, "reader_ok": True},
             "operator": {"txn_type": "sale", "attempts": 1}}
    for name in sections:
        event[name].update(sections[name])
    return event


def rules_of(decision):
    return [e["rule"] for e in decision["evidence"]]
