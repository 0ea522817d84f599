"""Read a decline event (docs/EVENT.md) into flat, validated facts.

Missing means unknown (None), never false. Anything present but malformed is reported in `errors`
and the caller refuses to decide on it: a corrupt event must not make a terminal retain a card.
Unknown keys are ignored so that newer terminals can send more than this core knows.
"""

MAX_TEXT = 64      # longest free-text value (ids) accepted; longer is junk
MAX_COUNT = 1 << 31
MAX_TIME = 1 << 40  # unix seconds; a far-future clock is a fact to classify, not junk

from .vocab import CIDS, CVV_RESULTS, ENTRY_MODES, NETWORK_STATES, SOURCES, TXN_TYPES

# section, key, kind, detail: the whole input schema as data, four items per field in one flat
# tuple (a tuple per field would cost a heap object each on MicroPython).
# kinds: text (detail = max length), enum (detail = allowed values), bool,
#        count (detail = exclusive maximum, default MAX_COUNT),
#        digits (detail = (min, max) length), hex (detail = exact length), code (2 alphanumerics),
#        pan (detail = most digits; spaces and dashes dropped), expiry (YYMM, or MM/YY turned into
#        YYMM). A keyed PAN of the wrong length or an impossible month is evidence for rules.py,
#        not bad input.
# One row per field, in docs/EVENT.md's order (a table: its rows look alike to a duplicate finder)
FIELDS = (
    "", "id", "text", MAX_TEXT,
    "", "time", "count", MAX_TIME,
    "response", "code", "code", None,
    "response", "source", "enum", SOURCES,
    "response", "stan_match", "bool", None,
    "card", "pan", "pan", 24,
    "card", "entry_mode", "enum", ENTRY_MODES,
    "card", "expiry", "expiry", None,
    "card", "service_code", "digits", (3, 3),
    "card", "cvv_result", "enum", CVV_RESULTS,
    "card", "tvr", "hex", 10,
    "card", "cid", "enum", CIDS,
    "terminal", "network", "enum", NETWORK_STATES,
    "terminal", "last_host_contact_s", "count", None,
    "terminal", "consecutive_timeouts", "count", None,
    "terminal", "hotlist_age_s", "count", None,
    "terminal", "clock_ok", "bool", None,
    "terminal", "chip_read_failures", "count", None,
    "terminal", "reader_ok", "bool", None,
    "terminal", "firmware", "text", 32,
    "terminal", "min_firmware", "text", 32,
    "terminal", "tamper", "bool", None,
    "terminal", "config_ok", "bool", None,
    "operator", "id", "text", 32,
    "operator", "txn_type", "enum", TXN_TYPES,
    "operator", "attempts", "count", None,
    "operator", "training_mode", "bool", None,
    "operator", "forced_fallback", "bool", None,
)

SECTIONS = ("response", "card", "terminal", "operator")


# every fact's name, so each decision's facts dict is allocated once at its full size.
# no_answer: the event says `"code": null` (no answer came), as against no code at all (unknown).
# Flat names are the keys; only the two ids collide, so the operator's is prefixed.
NAMES = tuple("operator_id" if FIELDS[i] == "operator" and FIELDS[i + 1] == "id" else FIELDS[i + 1]
              for i in range(0, len(FIELDS), 4)) + ("no_answer",)


def _keyed_digits(value, limit):
    """Card digits as keyed or read, spaces and dashes dropped."""
    digits = value.replace(" ", "").replace("-", "") if " " in value or "-" in value else value
    for ch in digits:
        if not "0" <= ch <= "9":
            raise ValueError("expected digits")
    if not 0 < len(digits) <= limit:
        raise ValueError("expected 1 to %d digits" % limit)
    return digits


def _expiry(value):
    """YYMM as docs/EVENT.md has it; the printed form MM/YY is turned around."""
    text = value.strip()
    if "/" not in text:
        return _keyed_digits(text, 6)
    if len(text) != 5 or text[2] != "/" or not (text[:2] + text[3:]).isdigit():
        raise ValueError("expected YYMM or MM/YY")
    return text[3:] + text[:2]


def _check(kind, detail, value):
    """The value normalised, or raise ValueError with a short reason."""
    if kind == "bool":
        if value is True or value is False:
            return value
        raise ValueError("expected true or false")
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected a whole number")
        if value < 0 or value >= (detail or MAX_COUNT):
            raise ValueError("out of range")
        return value
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if kind == "text":
        if len(value) > detail:
            raise ValueError("longer than %d characters" % detail)
        for ch in value:
            if 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate cannot be stored or printed
                raise ValueError("invalid character")
        return value
    if kind == "pan":
        return _keyed_digits(value, detail)
    if kind == "expiry":
        return _expiry(value)
    if kind == "enum":
        if value not in detail:
            raise ValueError("unknown value")
        return value
    if kind == "digits":
        if not detail[0] <= len(value) <= detail[1]:
            raise ValueError("expected %d to %d digits" % detail)
        for ch in value:
            if not "0" <= ch <= "9":
                raise ValueError("expected digits only")
        return value
    if kind == "hex":
        if len(value) != detail:
            raise ValueError("expected %d hex digits" % detail)
        for ch in value:
            if ch not in "0123456789abcdefABCDEF":
                raise ValueError("expected hex digits only")
        return value.upper()
    # kind == "code": ISO 8583 field 39 or an EMV ARC, two alphanumerics
    if len(value) != 2:
        raise ValueError("expected two letters or digits")
    for ch in value:
        if not ("0" <= ch <= "9" or "A" <= ch <= "Z" or "a" <= ch <= "z"):
            raise ValueError("expected two letters or digits")
    return value.upper()


def read_event(event):
    """(facts, errors): facts maps each field's flat name to its value or None."""
    facts = dict.fromkeys(NAMES)
    errors = []
    if not isinstance(event, dict):
        errors.append("event: expected an object")
        event = {}
    elif event.get("response") is None:
        errors.append("response: missing")
    for section in SECTIONS:
        value = event.get(section)
        if value is not None and not isinstance(value, dict):
            errors.append(section + ": expected an object")
    # indexing the flat schema allocates nothing per field, which matters in a small heap
    for i in range(0, len(FIELDS), 4):
        section, key, name = FIELDS[i], FIELDS[i + 1], NAMES[i // 4]
        holder = event.get(section) if section else event
        if not isinstance(holder, dict) or holder.get(key) is None:
            continue
        try:
            facts[name] = _check(FIELDS[i + 2], FIELDS[i + 3], holder[key])
        except ValueError as exc:
            errors.append("%s: %s" % (section + "." + key if section else key, exc.args[0]))
            if name == "tamper" and holder[key] not in (False, 0, ""):
                facts[name] = True  # a malformed tamper alarm (1, "yes") still raises the alert
    response = event.get("response")
    facts["no_answer"] = isinstance(response, dict) and "code" in response \
        and response["code"] is None
    return facts, errors
