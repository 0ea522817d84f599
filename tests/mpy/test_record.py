"""Incident records as a terminal builds them: the fields, the catalogs, no card secrets.

On MicroPython the platform crypto is lostcard_mpy.crypto, under pytest lostcard_cpython.crypto.
Decisions are written out here so this module does not need the classifier in the heap.
"""

from lostcard import cbor, keys, record, sealing, vocab
from lostcard.keys import DeviceKeys

import heap
from lostcard_tools.recorded import recorded_part
from lostcard.collector.fleet import device_root, first_chain

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython: no cryptolib
    from lostcard_cpython import crypto

SECRET = b"\x11" * 32
TOKEN_KEY = b"\x33" * 32
PAN = "4111111111111111"
EVENT = {"id": "t-0001", "time": 1795600000,
         "response": {"code": "41", "source": "host", "stan_match": True},
         "card": {"pan": PAN, "entry_mode": "swipe", "expiry": "2812", "service_code": "201",
                  "cvv_result": "match", "tvr": "4000000000", "cid": "ARQC"},
         "terminal": {"network": "up", "firmware": "2.4.1", "min_firmware": "2.4.0",
                      "tamper": False},
         "operator": {"id": "op-07", "txn_type": "sale", "attempts": 1}}
DECISION = {"id": "t-0001", "cause": "card_compromised", "subcause": "reported_lost",
            "confidence": 90, "action": "retain_card", "offline": False,
            "evidence": [{"rule": "rc_lost", "cause": "card_compromised", "points": 90, "why": "."},
                         {"rule": "acq_rule", "cause": "network_fault", "points": 5, "why": "."}],
            "remedies": [], "risk": {}, "messages": {}, "priority": 1, "policy": "2026.11.1",
            "errors": []}


def _device(device_id="T-0001"):
    chain = first_chain(crypto, device_root(crypto, SECRET, device_id))
    return DeviceKeys(crypto, device_id, 0, chain)


def _record(seq=5, device_id="T-0001", event=EVENT, decision=DECISION):
    return record.build(event, decision, device_id, seq, crypto, TOKEN_KEY)


def test_record_carries_decision_facts_and_card_reference():
    r = _record()
    assert r[record.K_VERSION] == 1 and r[record.K_DEVICE] == "T-0001" and r[record.K_SEQ] == 5
    assert sealing.K_SEQ == record.K_SEQ  # sealing keeps its own copy of the key
    assert r[record.K_TIME] == 1795600000 and r[record.K_POLICY] == "2026.11.1"
    assert record.SUBCAUSES.split()[r[record.K_SUBCAUSE]] == "reported_lost"
    assert r[record.K_CAUSE] == vocab.CAUSES.index("card_compromised")
    assert r[record.K_ACTION] == vocab.ACTIONS.index("retain_card")
    assert r[record.K_EVIDENCE] == [[record.RULE_IDS.split().index("rc_lost"), 1, 90],
                                    ["acq_rule", 2, 5]]  # unknown rules keep their name
    facts = r[record.K_FACTS]
    assert facts[record.FACTS.index("code")] == "41"
    assert facts[record.FACTS.index("chip_card")] is True
    assert facts[record.FACTS.index("tvr")] == b"\x40\x00\x00\x00\x00"
    assert facts[record.FACTS.index("entry_mode")] == 2  # swipe
    assert facts[-1] == 1  # trailing unknowns (training_mode, forced_fallback) left out
    card = r[record.K_CARD]
    assert card[1] == "1111" and record.BRANDS.split()[card[2]] == "visa"
    assert card[3] == crypto.hmac_sha256(TOKEN_KEY, PAN.encode())[:16]
    assert r[record.K_ID] == "t-0001"


def test_no_card_secrets_in_the_record():
    plaintext = cbor.encode(_record())
    for secret in (PAN, PAN[:12], "2812", "201"):
        assert secret.encode() not in plaintext, secret
    assert bytes.fromhex(PAN) not in plaintext  # nor as packed BCD


def test_free_text_that_could_be_a_card_number_is_not_stored():
    for text in ("pay-4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111"):
        heap.tidy()  # each round's records are garbage by the next: keep a small heap tidy
        decision = dict(DECISION)
        decision["id"] = text
        event = dict(EVENT)
        event["operator"] = {"id": text[-19:], "txn_type": "sale"}
        event["terminal"] = {"firmware": text[:19]}
        r = _record(event=event, decision=decision)
        assert record.K_ID not in r, text
        facts = r[record.K_FACTS]
        assert facts[record.FACTS.index("operator_id")] is None
        assert facts[record.FACTS.index("firmware")] is None
    assert record.no_card_number("op-07") == "op-07" and record.no_card_number(None) is None


def test_brands():
    for pan, name in (("4000", "visa"), ("5500", "mastercard"), ("2221", "mastercard"),
                      ("3400", "amex"), ("6200", "unionpay"), ("3530", "jcb"),
                      ("6011", "discover"), ("6500", "discover"), ("3600", "diners"),
                      ("1234", "other"), ("9", "other")):
        assert record.brand(pan) == name, pan


def test_the_recorded_part_of_a_decision_builds_the_same_record():
    assert _record(decision=recorded_part(DECISION)) == _record()


def test_sealing_is_cose_encrypt0_of_the_cbor_record_under_the_epoch_key():
    from lostcard import cose

    device = _device()
    r = _record(seq=7)
    expected = cose.seal(crypto.aead(device.key), cbor.encode(r), keys.iv(crypto, "T-0001", 7),
                         kid=device.kid())
    assert sealing.seal(crypto, device, r) == expected
    sealer = sealing.Sealer(crypto, "T-0001", 0, first_chain(
        crypto, device_root(crypto, SECRET, "T-0001")))
    assert sealer.seal(_record(seq=0), 7) == expected  # the queue's sealer numbers the record
