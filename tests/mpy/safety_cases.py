"""Decline events for the safety invariants (docs/RULES.md), and the check of those invariants.

Shared by tests/mpy/test_safety*.py (plain asserts, seeded, run on MicroPython under a 64 KiB
heap and on CPython) and tests/test_safety_properties.py (hypothesis drawing from the same
pools and specs). Kept small, since on MicroPython all of it lives in the 64 KiB heap beside the
core.

The events are realistic declines (docs/EVENT.md): every field optional except `response`,
values straddling each rule's limits (a hot list one second past its maximum age, a PAN one digit
short, month 13). What the invariants allow is read here from the event itself, not from the
core's context, so that the core's own reading of the facts is under test too.

The pools of every field and the facts each test forces are specs in safety_specs.txt (whose
head says how to read one), read a row at a time.
"""

from lostcard.policy import DEFAULT
from lostcard.table import row

from safety_events import (LIMITS, SEED, SPECS, XorShift, apply, decide, events, get,  # noqa: F401
                           put, scores)

def luhn(digits):
    total = 0
    for i in range(len(digits)):
        d = (ord(digits[len(digits) - 1 - i]) - 48) * (1 + i % 2)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def expiry_valid(text):
    """Whether an expiry is a real YYMM (the printed MM/YY turned around)."""
    if "/" in text:
        text = text[3:] + text[:2]
    return len(text) == 4 and 1 <= int(text[2:]) <= 12


def older(have, need):
    return ([int(p.split("rc")[0]) for p in have.split(".")] + [0, 0])[:3] < \
        ([int(p) for p in need.split(".")] + [0, 0])[:3]


def oracle(event):
    """What the event says, read independently of the core: (training, pickup, unfit,
    clock_bad, basis, data_wrong); basis is what may justify retaining the card, "issuer" (its
    pick-up code to this request) or "list" (a fit terminal's own), else None; data_wrong: the
    card's data, keyed or read, fail their own checks."""
    t = get(event, "", "time")
    clock_bad = get(event, "terminal", "clock_ok") is False or t is not None and not (
        LIMITS["plausible_time_min"] <= t < LIMITS["plausible_time_max"])
    fw, least = get(event, "terminal", "firmware"), get(event, "terminal", "min_firmware")
    age = get(event, "terminal", "hotlist_age_s")
    unfit = get(event, "terminal", "tamper") is True or get(event, "terminal", "config_ok") \
        is False or fw is not None and least is not None and older(fw, least) or clock_bad \
        or age is not None and age > LIMITS["hotlist_max_age_s"]
    pan, expiry = get(event, "card", "pan"), get(event, "card", "expiry")
    if pan is not None:
        pan = pan.replace(" ", "")
    data_wrong = pan is not None and not (12 <= len(pan) <= 19 and luhn(pan)) \
        or expiry is not None and not expiry_valid(expiry)
    keyed_wrong = get(event, "card", "entry_mode") == "manual" and data_wrong
    training = get(event, "operator", "training_mode") is True
    code = get(event, "response", "code")
    entry = row(DEFAULT["response_codes"], code) if code is not None else None
    pickup = entry is not None and "p" in entry[4]
    source = get(event, "response", "source")
    if source is None:
        source = "terminal" if code in DEFAULT["terminal_codes"] else "host"
    tvr = get(event, "card", "tvr")
    basis = None
    if not training and not keyed_wrong:
        if pickup and source == "host" and get(event, "response", "stan_match") is not False:
            basis = "issuer"
        elif not unfit and (pickup and source == "terminal"
                            or tvr is not None and int(tvr[:2], 16) & 0x10):
            basis = "list"
    return training, pickup, unfit, clock_bad, basis, data_wrong


# the words of the operator's English text for each action (texts.txt, operator:...)
ACTION_WORDS = ("retain_card:if safe|return_card:return|reenter_card:re-enter,insert,redo|"
                "retry_online:retry|service_terminal:new pos,stop|call_acquirer:call acquirer")


def check(event, d):
    """Every safety invariant for `event` and its decision `d`, each with the rules that keep
    it (docs/RULES.md)."""
    training, pickup, unfit, clock_bad, basis, _ = oracle(event)
    action, cause, ok = d["action"], d["cause"], not d["errors"]
    # 1. retain only on the issuer's word or a fit terminal's list: never in training, on keyed
    # data failing its own checks, from an unfit terminal's pick-up (rules.context_of:
    # issuer_pickup, fit_list_hit; decision._guard: retain_only_on_the_issuers_word)
    assert action != "retain_card" or ok and basis, ("1 retained", event, d)
    # 2. tamper => the stop-using alert, errors or not (decision._decision: alert:tamper)
    tamper = get(event, "terminal", "tamper")
    assert tamper is None or (d["alert"] is not None) == tamper, ("2 alert", event, d)
    # 3. training => operator_error (decision._weigh: context["unheard"]; rule training_mode)
    assert not (ok and training) or cause == "operator_error", ("3 training", event, d)
    # 4. a pick-up code outside training => not operator_error (decision._weigh: excluded)
    assert not (ok and pickup and not training) or cause != "operator_error", ("4", event, d)
    # 5. the approval 00 outside training => no retry (decision._guard:
    # no_retry_after_an_approval; flag "a")
    assert not (ok and not training and get(event, "response", "code") == "00") \
        or action != "retry_online", ("5 retry", event, d)
    # 9. a watchlist hit (the event's "watch" section) is never a basis to retain: 1 holds,
    # `basis` ignores it; the rest of 9 is test_safety_properties.check_watch (CPython)
    # 6. no message asserts a contradicted fact (rule expiry_invalid, discount
    # bad_clock_expiry), and the messages say the final action (decision._decision: the text
    # of the guard that changed the action)
    op, ch = d["messages"]["operator"], d["messages"]["cardholder"]
    expiry = get(event, "card", "expiry")
    if expiry is not None and not expiry_valid(expiry) or clock_bad:
        said = op["en"] + ch["en"] + op["zh"] + ch["zh"]  # 黑名单过期 is a stale list: allowed
        assert d["subcause"] not in ("expired_card", "expired_pickup") and "xpired" not in said \
            and "卡片过期" not in said and "过期卡" not in said and "已过期" not in said, \
            ("6 says expired", event, d)
    en = op["en"].lower()
    words = ACTION_WORDS[ACTION_WORDS.index(action) + len(action) + 1:].split("|")[0]
    assert [w for w in words.split(",") if w in en], ("6 action unsaid", event, d)
    # 7. every retain says "if safe" (安全时), and the cardholder is never told the card is held:
    # the cashier keeps it only if that is safe (a wording reviewer's finding)
    held = action == "retain_card"
    assert held == ("安全时" in op["zh"]) == ("if safe" in en) and "暂扣" not in ch["zh"] \
        and "held" not in ch["en"], ("7 retain words", event, d)
    assert action == "retry_online" or "retry" not in en.replace("not retry", ""), \
        ("6 retry words", event, d)
    assert tamper is True or "tamper" not in en, ("6 tamper words", event, d)


def drive(seed, spec, expect, count=150):
    """Check `count` seeded events with the spec `spec` forced on each; `expect` ("field!value" or
    "field=value", value "~" for null) must hold for all. Returns the actions seen."""
    field, value = expect.replace("!", "=").split("=") if expect else ("", "")
    value = None if value == "~" else value
    actions = []
    for _, event in events(seed, count, spec):
        d = decide(event, DEFAULT)
        if field:
            assert (d[field] == value) == ("=" in expect), (expect, event, d)
        check(event, d)
        if d["action"] not in actions:
            actions.append(d["action"])
        event = d = None  # one decision at a time in the heap
    return actions

