"""Incident records: one decline as a small CBOR map, sealed as COSE_Encrypt0 (docs/RECORD.md).

The record carries the decision, the non-sensitive facts of the event, the device, its sequence
number, the time and the policy version. Of the card it keeps only the last four digits, the brand
and a keyed token (HMAC-SHA256 of the PAN under the platform's token key, first 16 bytes) so one
card's incidents join across terminals. Never the PAN, expiry, service code, track data, CVV or
PIN: those facts enter `build` and stop there. Texts, remedies and risk are not stored: they follow
from the policy version, cause and subcause. Devices seal records with sealing.py, collectors
open and check them with record_check.open_sealed.
"""

from .vocab import (ACTIONS, CAUSES, CIDS, CVV_RESULTS, ENTRY_MODES, NETWORK_STATES, SOURCES,
                    TXN_TYPES)

VERSION = 1
# map keys (docs/RECORD.md)
K_VERSION, K_DEVICE, K_SEQ, K_TIME, K_POLICY, K_CAUSE, K_SUBCAUSE, K_CONFIDENCE, K_ACTION, \
    K_OFFLINE, K_EVIDENCE, K_PRIORITY, K_FACTS, K_CARD, K_ERRORS, K_ID = range(16)
# the facts array, by position; trailing unknowns are left out
FACTS = ("code", "source", "stan_match", "entry_mode", "chip_card", "cvv_result", "tvr", "cid",
         "network", "last_host_contact_s", "consecutive_timeouts", "hotlist_age_s", "clock_ok",
         "chip_read_failures", "reader_ok", "firmware", "tamper", "config_ok", "operator_id",
         "txn_type", "attempts", "training_mode", "forced_fallback")
ENUMS = {"source": SOURCES, "entry_mode": ENTRY_MODES, "cvv_result": CVV_RESULTS, "cid": CIDS,
         "network": NETWORK_STATES, "txn_type": TXN_TYPES}
# evidence rules by number (append only: numbers are stored); others are stored by name
RULE_IDS = (
    " "
    "chip_card_swiped fallback_without_chip_failure track_cvv_mismatch oda_failed "
    "oda_not_performed exception_file issuer_auth_failed card_refused_offline pan_luhn_failed "
    "pan_length_invalid expiry_invalid card_expired tvr_expired_application "
    "tvr_not_yet_effective keyed_cvv_mismatch icc_data_missing stale_answer link_down "
    "link_degraded host_contact_stale repeated_timeouts stale_hotlist no_host_answer "
    "floor_limit_offline clock_fault clock_implausible reader_fault chip_reader_suspect "
    "outdated_firmware tamper config_error training_mode forced_fallback repeated_attempts "
    "excessive_attempts wrong_txn_type rc_approved rc_pickup rc_do_not_honour rc_fraud_pickup "
    "rc_invalid_card_number rc_no_such_issuer rc_expired_pickup rc_lost rc_stolen rc_expired "
    "rc_incorrect_pin rc_not_permitted_cardholder rc_not_permitted_terminal rc_suspected_fraud "
    "rc_restricted rc_late_response rc_pin_tries_exceeded rc_issuer_unavailable "
    "rc_system_malfunction rc_offline_declined rc_host_unreachable online_request_unanswered "
    "hotlist_not_updated watchlist_hit "
)

# subcauses by number (append only); others are stored by name
SUBCAUSES = (
    " "
    "cloned_stripe counterfeit_chip terminal_hotlist issuer_auth_failed card_refused "
    "invalid_pan invalid_expiry expired_card not_yet_effective cvv_mismatch card_read_error "
    "late_answer link_down link_unstable stale_hotlist host_unreachable clock_fault "
    "reader_fault outdated_firmware tamper_detected config_error training_mode forced_fallback "
    "repeated_attempts wrong_txn_type answer_mismatch pickup_requested issuer_decline "
    "fraud_pickup unknown_issuer expired_pickup reported_lost reported_stolen wrong_pin "
    "txn_not_permitted suspected_fraud restricted_card pin_tries_exceeded issuer_unavailable "
    "host_malfunction no_signal invalid_event hotlist_not_updated watchlist "
)

# card brands by number (append only)
BRANDS = (
    " "
    "other visa mastercard amex unionpay jcb discover diners "
)
MAX_ERRORS = 8
TOKEN_LEN = 16


def number_or_name(catalog, name):
    """`name`'s number in an append-only catalog, or the name itself if the catalog lacks it.

    A catalog is one string of space-separated names, opening and closing with a space: one heap
    block on MicroPython, where a tuple of names costs a block per name.
    """
    at = catalog.find(" " + name + " ")
    return name if at < 0 else catalog.count(" ", 0, at)


def brand(pan):
    """Card brand from the leading digits (issuer identification number)."""
    two = int(pan[:2]) if len(pan) >= 2 else -1
    four = int(pan[:4]) if len(pan) >= 4 else -1
    if pan[:1] == "4":
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if two in (62, 81):
        return "unionpay"
    if 3528 <= four <= 3589:
        return "jcb"
    if four == 6011 or two == 65 or 644 <= four // 10 <= 649:
        return "discover"
    if two in (36, 38, 39) or 300 <= four // 10 <= 305:
        return "diners"
    return "other"


def no_card_number(value):
    """`value`, unless it holds 12 or more digits in all (a card number, maybe with separators)."""
    if value is None:
        return None
    digits = 0
    for ch in value:
        if "0" <= ch <= "9":
            digits += 1
    return None if digits >= 12 else value


def _facts(facts):
    out = []
    for name in FACTS:
        if name == "chip_card":
            sc = facts["service_code"]
            value = None if sc is None else sc[0] in "26"
        else:
            value = facts[name]
            if value is not None and name in ENUMS:
                value = ENUMS[name].index(value)
            elif value is not None and name == "tvr":
                value = bytes.fromhex(value)
            elif name in ("firmware", "operator_id"):  # free text: no card number in it
                value = no_card_number(value)
        out.append(value)
    while out and out[-1] is None:
        out.pop()
    return out


def token(crypto, token_key, pan):
    """The card's keyed token: it joins one card's incidents across terminals, and finds the card
    on the acquirer's watchlist (lostcard.watchlist)."""
    return crypto.hmac_sha256(token_key, pan.encode())[:TOKEN_LEN]


def build(event, decision, device_id, seq, crypto, token_key):
    """The record (a dict with integer keys) for `event` and the `decision` made on it."""
    from .event import read_event  # here, so that readers of records need not load the schema

    facts, _ = read_event(event)
    evidence = []
    for e in decision["evidence"]:
        evidence.append([number_or_name(RULE_IDS, e["rule"]), CAUSES.index(e["cause"]),
                         e["points"]])
    record = {
        K_VERSION: VERSION,
        K_DEVICE: device_id,
        K_SEQ: seq,
        K_TIME: facts["time"],
        K_POLICY: decision["policy"],
        K_CAUSE: CAUSES.index(decision["cause"]),
        K_SUBCAUSE: number_or_name(SUBCAUSES, decision["subcause"]),
        K_CONFIDENCE: decision["confidence"],
        K_ACTION: ACTIONS.index(decision["action"]),
        K_OFFLINE: decision["offline"],
        K_EVIDENCE: evidence,
        K_PRIORITY: decision["priority"],
        K_FACTS: _facts(facts),
    }
    pan = facts["pan"]
    if pan is not None:
        record[K_CARD] = {1: pan[-4:], 2: number_or_name(BRANDS, brand(pan)),
                          3: token(crypto, token_key, pan)}
    if decision["errors"]:
        record[K_ERRORS] = decision["errors"][:MAX_ERRORS]
    if no_card_number(decision["id"]) is not None:
        record[K_ID] = decision["id"]
    return record
