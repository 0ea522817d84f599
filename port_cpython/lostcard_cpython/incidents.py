"""Sealed incidents for people: open one with the fleet secret and describe it as JSON."""

from lostcard import cose, record, vocab
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.collector.fleet import parse_kid

from . import crypto


def describe(incident, kid=None):
    """The record's numbers and positions turned back into names (docs/EVENT.md, DECISION.md)."""
    facts = {}
    values = incident.get(record.K_FACTS, [])
    for name, value in zip(record.FACTS, values):
        if value is None:
            continue
        if name in record.ENUMS:
            value = record.ENUMS[name][value]
        elif name == "tvr":
            value = value.hex().upper()
        facts[name] = value
    out = {
        "version": incident[record.K_VERSION],
        "device": incident[record.K_DEVICE],
        "seq": incident[record.K_SEQ],
        "time": incident.get(record.K_TIME),
        "policy": incident[record.K_POLICY],
        "cause": vocab.CAUSES[incident[record.K_CAUSE]],
        "subcause": record_check.stored_name(record.SUBCAUSES, incident[record.K_SUBCAUSE]),
        "confidence": incident[record.K_CONFIDENCE],
        "action": vocab.ACTIONS[incident[record.K_ACTION]],
        "offline": incident.get(record.K_OFFLINE),
        "priority": incident[record.K_PRIORITY],
        "evidence": [{"rule": record_check.stored_name(record.RULE_IDS, rule),
                      "cause": vocab.CAUSES[cause], "points": points}
                     for rule, cause, points in incident.get(record.K_EVIDENCE, [])],
        "facts": facts,
    }
    if kid is not None:
        out["epoch"] = parse_kid(kid)[1]
    card = incident.get(record.K_CARD)
    if card:
        out["card"] = {"last4": card[1], "brand": record_check.stored_name(record.BRANDS, card[2]),
                       "token": card[3].hex()}
    if record.K_ERRORS in incident:
        out["errors"] = incident[record.K_ERRORS]
    if record.K_ID in incident:
        out["id"] = incident[record.K_ID]
    return out


def open_incident(fleet_secret, message):
    """The described record of one sealed incident (AuthenticationError / RecordError if not)."""
    fleet = FleetKeys(crypto, fleet_secret)
    return describe(record_check.open_sealed(crypto, fleet, message), cose.parse(message)[1].get(4))
