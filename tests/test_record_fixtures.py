"""Every labelled scenario as a record: no card secrets in it, every default rule and subcause
stored by number, and the record opens to what was decided."""

import re

from lostcard import cbor, keys, record, sealing
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.decision import classify
from lostcard.collector.policy_check import rows
from lostcard.policy import DEFAULT
from lostcard_cpython import crypto, scenarios
from lostcard_cpython.incidents import describe
from lostcard.collector.fleet import device_root, first_chain

SECRET = b"\x42" * 32


def _strings(value):
    if isinstance(value, (str, bytes)):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)


def test_no_card_secrets_in_any_fixture_record():
    for n, item in enumerate(scenarios.load()):
        card = item["event"].get("card") or {}
        r = record.build(item["event"], classify(item["event"]), "T-1", n, crypto, b"t" * 32)
        plaintext = cbor.encode(r)
        for text in _strings(r):
            if isinstance(text, str):
                assert not re.search(r"\d{12}", text), (item["name"], text)
        pan = card.get("pan")
        if isinstance(pan, str) and len(pan) >= 8:
            digits = pan.replace(" ", "").replace("-", "")
            assert digits.encode() not in plaintext and digits[:8].encode() not in plaintext
        for field in ("expiry", "service_code"):
            if isinstance(card.get(field), str) and len(card[field]) >= 3:
                assert card[field] not in [t for t in _strings(r) if isinstance(t, str)], field


def test_default_rules_and_subcauses_have_catalog_numbers():
    catalog_rules = record.RULE_IDS.split()
    catalog_subcauses = record.SUBCAUSES.split()
    for r in rows(DEFAULT["rules"]):
        assert r[0] in catalog_rules and r[3] in catalog_subcauses, r[0]
    for r in rows(DEFAULT["response_codes"]):
        assert r[1] in catalog_rules and r[4] in catalog_subcauses, r[0]
    assert len(set(catalog_rules)) == len(catalog_rules)
    assert len(set(catalog_subcauses)) == len(catalog_subcauses)


def test_records_open_to_what_was_decided():
    chain = first_chain(crypto, device_root(crypto, SECRET, "T-1"))
    device = keys.DeviceKeys(crypto, "T-1", 0, chain)
    fleet = FleetKeys(crypto, SECRET)
    for n, item in enumerate(scenarios.load()):
        d = classify(item["event"])
        sealed = sealing.seal(crypto, device, record.build(item["event"], d, "T-1", n, crypto,
                                                          b"t" * 32))
        shown = describe(record_check.open_sealed(crypto, fleet, sealed))
        for name in ("cause", "subcause", "confidence", "action", "offline", "priority", "policy"):
            assert shown[name] == d[name], (item["name"], name)
        assert shown["evidence"] == [{k: e[k] for k in ("rule", "cause", "points")}
                                     for e in d["evidence"]]

