"""Opening sealed incidents at the collector, and checking each record against docs/RECORD.md.

A record that authenticates was sealed by someone holding the device's epoch key: the device, or
whoever stole it. So every field is checked against the schema before anything reads it, and a
record that is not bound to its kid and IV is refused. Kept apart from record.py so a terminal,
which only seals, does not load it.
"""

from .. import cbor, cose, keys
from .fleet import incarnation as incarnation_of, parse_kid
from ..errors import CBORError, RecordError
from ..vocab import ACTIONS, CAUSES
from ..record import (BRANDS, ENUMS, FACTS, K_ACTION, K_CARD, K_CAUSE, K_CONFIDENCE, K_DEVICE,
                     K_ERRORS, K_EVIDENCE, K_FACTS, K_ID, K_OFFLINE, K_POLICY, K_PRIORITY, K_SEQ,
                     K_SUBCAUSE, K_TIME, K_VERSION, MAX_ERRORS, RULE_IDS, SUBCAUSES, TOKEN_LEN,
                     VERSION)

BOOL_FACTS = ("stan_match", "chip_card", "clock_ok", "reader_ok", "tamper", "config_ok",
              "training_mode", "forced_fallback")
TEXT_FACTS = ("code", "firmware", "operator_id")
MAX_EVIDENCE = 64
MAX_TEXT = 64


# catalog -> where its names start: built once, so a lookup slices instead of walking the string.
# Small ints, which a MicroPython tuple holds in place: a tuple of the names costs a heap object
# per name (7.7 KB of the 64 KiB test heap for the rule and subcause catalogs).
_starts = {}


def _name_starts(catalog):
    # the catalog format of record.number_or_name: " name name ... name "
    starts = []
    at = catalog.find(" ")
    while at >= 0:
        starts.append(at + 1)
        at = catalog.find(" ", at + 1)
    return tuple(starts)  # one past the last name's closing space too: every name has an end


def name_numbered(catalog, number):
    """The name `catalog` gives `number` (for readers of records: record.py numbers
    names, the terminal never reads them back); RecordError if none."""
    starts = _starts.get(catalog)
    if starts is None:
        starts = _starts[catalog] = _name_starts(catalog)
    if isinstance(number, int) and 0 <= number < len(starts) - 1:
        return catalog[starts[number]:starts[number + 1] - 1]
    raise RecordError("catalog number %r out of range" % (number,))


def _fail(what):
    raise RecordError("record " + what)


def _int(value, low, high, what, prefix=""):
    # the message is built only on failure: a record has dozens of fields
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(prefix + what + " missing or out of range")


def _text(value, what, prefix=""):
    # no NUL: PostgreSQL's text refuses it (one test: the 64 KiB tests' heap has no room for more)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT or "\0" in value:
        _fail(prefix + what + " missing or not text")


def stored_name(catalog, stored):
    """The name a checked record field stores: its catalog number turned into the name, or the
    name itself."""
    return name_numbered(catalog, stored) if isinstance(stored, int) else stored


def _check_stored_name(catalog, stored, what):
    if isinstance(stored, str):
        _text(stored, what)
    else:
        name_numbered(catalog, stored)  # RecordError when out of range


def _facts(values):
    if not isinstance(values, list) or len(values) > len(FACTS):
        _fail("facts are not a list of known facts")
    for name, value in zip(FACTS, values):
        if value is None:
            continue
        if name in ENUMS:
            _int(value, 0, len(ENUMS[name]) - 1, name, "fact ")
        elif name in BOOL_FACTS:
            if value is not True and value is not False:
                _fail("fact %s is not true or false" % name)
        elif name in TEXT_FACTS:
            _text(value, name, "fact ")
        elif name == "tvr":
            if not isinstance(value, bytes) or len(value) != 5:
                _fail("fact tvr is not 5 bytes")
        else:
            _int(value, 0, (1 << 40) - 1, name, "fact ")


def check(record):
    """Raise RecordError unless `record` matches the version 1 schema; return it."""
    if not isinstance(record, dict):
        _fail("is not a map")
    for key in record:
        if isinstance(key, bool) or not isinstance(key, int) or not K_VERSION <= key <= K_ID:
            _fail("key %r missing or out of range" % (key,))
    _int(record.get(K_VERSION), VERSION, VERSION, "version")
    _text(record.get(K_DEVICE), "device id")
    try:
        keys.check_device_id(record[K_DEVICE])
    except keys.KeyScheduleError:
        _fail("device id malformed")
    _int(record.get(K_SEQ), 0, (1 << 64) - 1, "sequence number")
    if record.get(K_TIME) is not None:
        _int(record[K_TIME], 0, (1 << 40) - 1, "time")
    _text(record.get(K_POLICY), "policy version")
    _int(record.get(K_CAUSE), 0, len(CAUSES) - 1, "cause")
    _check_stored_name(SUBCAUSES, record.get(K_SUBCAUSE), "subcause")
    _int(record.get(K_CONFIDENCE), 0, 99, "confidence")
    _int(record.get(K_ACTION), 0, len(ACTIONS) - 1, "action")
    if record.get(K_OFFLINE) is not True and record.get(K_OFFLINE) is not False:
        _fail("offline flag missing")
    evidence = record.get(K_EVIDENCE)
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE:
        _fail("evidence is not a list")
    for item in evidence:
        if not isinstance(item, list) or len(item) != 3:
            _fail("evidence item is not [rule, cause, points]")
        _check_stored_name(RULE_IDS, item[0], "evidence rule")
        _int(item[1], 0, len(CAUSES) - 1, "evidence cause")
        _int(item[2], 1, 100, "evidence points")
    _int(record.get(K_PRIORITY), 1, 3, "priority")
    _facts(record.get(K_FACTS))
    if K_CARD in record:
        card = record[K_CARD]
        if not isinstance(card, dict) or len(card) != 3 or 1 not in card or 2 not in card \
                or 3 not in card:
            _fail("card is not {1: last 4, 2: brand, 3: token}")
        if not isinstance(card[1], str) or not 0 < len(card[1]) <= 4 or not card[1].isdigit():
            _fail("card last digits malformed")
        name_numbered(BRANDS, card[2])  # brands are always numbered
        if not isinstance(card[3], bytes) or len(card[3]) != TOKEN_LEN:
            _fail("card token malformed")
    if K_ERRORS in record:
        errors = record[K_ERRORS]
        if not isinstance(errors, list) or not 0 < len(errors) <= MAX_ERRORS:
            _fail("errors are not a list of 1..%d texts" % MAX_ERRORS)
        for error in errors:
            if not isinstance(error, str) or len(error) > 200:
                _fail("error is not text")
    if K_ID in record:
        _text(record[K_ID], "id")
    return record


def open_sealed(crypto, fleet_keys, message, decode=cbor.decode, device=None, incarnation=None):
    """The checked record in a sealed incident.

    AuthenticationError if it does not open; RecordError if it opens but is not a version 1 record
    bound to the kid and IV it came with; KeyScheduleError if its kid names no key we would derive.
    `decode(data, canonical=...)` is the CBOR decoder: the core's, or a port's native one that
    keeps the same rules (the collector's, on cbor2). With `device` and `incarnation` (those of
    an authenticated batch), a record naming another device or incarnation is refused before any
    key is derived: only the holder of a (device, incarnation)'s keys makes the collector work.
    """
    parsed = cose.parse(message, decode)
    unprotected = parsed[1]
    kid = unprotected.get(4)
    if kid is None:
        raise RecordError("sealed incident has no kid")
    device_id, epoch = parse_kid(kid)
    if device is not None and device_id != device:
        raise RecordError("sealed by another device")
    # the IV ends with the sequence number, whose high bits name the incarnation (keys.py); the
    # IV is the CCM nonce, so a changed one opens nothing
    named = incarnation_of(int.from_bytes(unprotected[5][-8:], "big"))
    if incarnation is not None and named != incarnation:
        raise RecordError("sequence number outside its terminal's incarnation (past its 2**24 "
                          "records? provision the terminal again)")
    plaintext = cose.open(crypto.aead(fleet_keys.record_key(device_id, named, epoch)), message,
                          parsed=parsed)
    try:
        record = check(decode(plaintext, canonical=True))
    except CBORError as exc:
        raise RecordError("record is not deterministic CBOR: %s" % exc.args[0])
    if record[K_DEVICE] != device_id:
        raise RecordError("record device does not match its kid")
    if keys.iv(crypto, device_id, record[K_SEQ]) != unprotected[5]:
        raise RecordError("record sequence number does not match its IV")
    return record
