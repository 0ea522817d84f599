"""The safety invariants of docs/RULES.md, checked over seeded decline events.

Plain asserts, so the same file runs on CPython (pytest) and on MicroPython under a 64 KiB heap
(tests/test_micropython.py runs every test_* below there); tests/test_safety.py draws the same
kinds of events through hypothesis and checks them with the same `check_*` functions, and
compares the decisions of the seeded events on both interpreters.

The events are realistic declines (docs/EVENT.md): every field optional except `response`, values
from small pools that straddle each rule's limits (a hot list one second past its maximum age, a
PAN one digit short, month 13). Each test forces the facts its invariant is about onto every
event, so all of them exercise it; the rest of the event stays random.

What is allowed is computed here from the event itself, not from the core's context, so that
the core's own reading of the facts is under test too.
"""

from lostcard.decision import decide
from lostcard.policy import DEFAULT
from lostcard.table import row

import heap

OMIT = "<omit>"  # leave the field out (unknown)

# (section, field, pool): OMIT first, so that hypothesis shrinks towards a missing field; the
# healthy value of a terminal fact is repeated so that most terminals are fit and retention
# can happen at all
POOLS = (
    ("", "time", (OMIT, 1795600000, 1767225600, 946684800, 2300000000)),
    ("response", "code", (OMIT, None, "00", "04", "05", "07", "14", "15", "33", "34", "41",
                          "43", "54", "55", "57", "58", "59", "62", "68", "75", "91", "96",
                          "Y1", "Y3", "Z1", "Z3", "42")),
    ("response", "source", (OMIT, "host", "host", "terminal", "card", "none")),
    ("response", "stan_match", (OMIT, True, True, False)),
    ("card", "pan", (OMIT, "4111111111111111", "4222222222222", "5500 0000 0000 0004",
                     "4111111111111112", "41111111111", "41111111111111111111")),
    ("card", "entry_mode", (OMIT, "chip", "contactless", "swipe", "fallback_swipe", "manual")),
    ("card", "expiry", (OMIT, "2812", "2611", "2501", "12/28", "2813", "2800", "13/28", "281",
                        "122028")),
    ("card", "service_code", (OMIT, "201", "101", "221", "601")),
    ("card", "cvv_result", (OMIT, "match", "mismatch", "not_checked")),
    ("card", "tvr", (OMIT, "0000000000", "1000000000", "0800000000", "4000000000",
                     "8000000000", "2000000000", "0040000000", "0020000000", "0000008000",
                     "0000000040", "1800000000", "9000008000", "1040000000")),
    ("card", "cid", (OMIT, "AAC", "TC", "ARQC")),
    ("terminal", "network", (OMIT, "up", "up", "down", "degraded")),
    ("terminal", "last_host_contact_s", (OMIT, 30, 900, 901, 86400)),
    ("terminal", "consecutive_timeouts", (OMIT, 0, 1, 2, 5)),
    ("terminal", "hotlist_age_s", (OMIT, 3600, 172800, 172801, 864000)),
    ("terminal", "clock_ok", (OMIT, True, True, False)),
    ("terminal", "chip_read_failures", (OMIT, 0, 1, 2, 3, 6)),
    ("terminal", "reader_ok", (OMIT, True, True, False)),
    ("terminal", "firmware", (OMIT, "2.4.1", "2.4", "2.5", "2.3.9", "3rc1", "1.0")),
    ("terminal", "min_firmware", (OMIT, "2.4.0", "2.4.1")),
    ("terminal", "tamper", (OMIT, False, False, False, True)),
    ("terminal", "config_ok", (OMIT, True, True, True, False)),
    ("operator", "id", (OMIT, "op-07")),
    ("operator", "txn_type", (OMIT, "sale", "sale", "refund", "preauth", "void", "balance")),
    ("operator", "attempts", (OMIT, 0, 1, 3, 4, 5, 9)),
    ("operator", "training_mode", (OMIT, False, False, True)),
    ("operator", "forced_fallback", (OMIT, False, False, True)),
)

# field values that make an otherwise good event invalid (docs/EVENT.md: an error, not evidence)
BREAKS = (("operator", "attempts", -1), ("card", "entry_mode", "floppy"),
          ("terminal", "network", 3), ("card", "tvr", "12345"), ("", "card", "chip"))


class XorShift:
    """xorshift32: the same numbers on every interpreter (as in test_fuzz)."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF or 1

    def below(self, n):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x % n

    def pick(self, seq):
        return seq[self.below(len(seq))]


def put(event, section, key, value):
    """Set a field (OMIT removes it), creating its section."""
    holder = event
    if section:
        holder = event.get(section)
        if holder is None:
            holder = event[section] = {}
    if value == OMIT:
        if key in holder:
            del holder[key]
    else:
        holder[key] = value


def build(choices):
    """The event for one value per POOLS entry; `response` is always there (EVENT.md)."""
    event = {"id": "s", "response": {}}
    for i in range(len(POOLS)):
        section, key, _ = POOLS[i]
        put(event, section, key, choices[i])
    return event


def random_event(rng):
    choices = []
    for _, _, pool in POOLS:
        choices.append(rng.pick(pool))
    return build(choices)


def get(event, section, key):
    """The field's value, None if missing (unknown)."""
    holder = event.get(section) if section else event
    if not isinstance(holder, dict):
        return None
    return holder.get(key)


# ---- an independent reading of the facts (docs/EVENT.md, docs/RULES.md) ----

LIMITS = DEFAULT["limits"]


def _flags(code):
    entry = row(DEFAULT["response_codes"], code) if code is not None else None
    return entry[4] if entry is not None else ""


PICKUPS = ("04", "07", "33", "34", "41", "43")


def luhn(digits):
    total = 0
    for i in range(len(digits)):
        d = ord(digits[len(digits) - 1 - i]) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def pan_ok(pan):
    digits = pan.replace(" ", "").replace("-", "")
    return 12 <= len(digits) <= 19 and luhn(digits)


def expiry_valid(text):
    """Whether a card's expiry is a real YYMM (the printed MM/YY turned around)."""
    if "/" in text:
        text = text[3:] + text[:2]
    return len(text) == 4 and 1 <= int(text[2:]) <= 12


def keyed_wrong(event):
    """Manual entry whose PAN or expiry fails its own checks: not the card in the hand."""
    if get(event, "card", "entry_mode") != "manual":
        return False
    pan, expiry = get(event, "card", "pan"), get(event, "card", "expiry")
    return pan is not None and not pan_ok(pan) or expiry is not None and not expiry_valid(expiry)


def _older(have, need):
    a = [int(p.split("rc")[0]) for p in have.split(".")]
    b = [int(p) for p in need.split(".")]
    while len(a) < len(b):
        a.append(0)
    while len(b) < len(a):
        b.append(0)
    return a < b


def clock_untrusted(event):
    t = get(event, "", "time")
    return get(event, "terminal", "clock_ok") is False or t is not None and not (
        LIMITS["plausible_time_min"] <= t < LIMITS["plausible_time_max"])


def unfit(event):
    """Why the terminal cannot judge a card by itself (empty: fit)."""
    why = []
    if get(event, "terminal", "tamper") is True:
        why.append("tampered")
    if get(event, "terminal", "config_ok") is False:
        why.append("config")
    fw, least = get(event, "terminal", "firmware"), get(event, "terminal", "min_firmware")
    if fw is not None and least is not None and _older(fw, least):
        why.append("firmware")
    if clock_untrusted(event):
        why.append("clock")
    age = get(event, "terminal", "hotlist_age_s")
    if age is not None and age > LIMITS["hotlist_max_age_s"]:
        why.append("hotlist")
    return why


def source(event):
    given = get(event, "response", "source")
    if given is not None:
        return given
    return "terminal" if get(event, "response", "code") in DEFAULT["terminal_codes"] else "host"


def training(event):
    return get(event, "operator", "training_mode") is True


def pickup_code(event):
    return "p" in _flags(get(event, "response", "code"))


def terminal_pickup(event):
    """The terminal itself said pick up: its own code, or its own hot list (TVR byte 1 bit 5)."""
    tvr = get(event, "card", "tvr")
    return pickup_code(event) and source(event) == "terminal" or \
        tvr is not None and int(tvr[:2], 16) & 0x10 != 0


def retain_basis(event):
    """What may justify retaining the card: the issuer's own pick-up code to this request, or a
    fit terminal's own fresh list; None when nothing may."""
    if training(event) or keyed_wrong(event):
        return None
    if pickup_code(event) and source(event) == "host" \
            and get(event, "response", "stan_match") is not False:
        return "issuer"
    if terminal_pickup(event) and not unfit(event):
        return "fit_list"
    return None


def run(event):
    """(decision, trace) of the core for `event` under the default policy."""
    trace = {}
    return decide(event, DEFAULT, trace), trace


# ---- the invariants: each check names the rule(s) that keep it ----

def check_retain(event, d):
    """retain_card only on the issuer's word or a fit terminal's fresh list (rules.context_of:
    issuer_pickup, fit_list_hit; decision._guard: retain_only_on_the_issuers_word)."""
    if d["action"] == "retain_card":
        assert not d["errors"], d
        assert not training(event), ("retained in training mode", event, d)
        assert not keyed_wrong(event), ("retained on keyed data that fails its checks", event, d)
        assert retain_basis(event) is not None, ("retained without the issuer's word or a fit "
                                                 "terminal's list", unfit(event), event, d)


def check_tamper(event, d):
    """tamper => the stop-using alert, errors or not (decision._decision: alert:tamper)."""
    if get(event, "terminal", "tamper") is True:
        assert d["alert"] is not None, ("tamper without the stop-using alert", event, d)
        assert d["alert"]["en"] and d["alert"]["zh"], d
    elif get(event, "terminal", "tamper") is False:
        assert d["alert"] is None, ("tamper alert on a terminal that says no tamper", event, d)


def check_training(event, d):
    """training mode => operator_error (decision._weigh: training_no_issuer leaves only the
    operator as candidate; rules training_mode, discount training_no_issuer)."""
    if training(event) and not d["errors"]:
        assert d["cause"] == "operator_error", ("training mode not an operator matter", event, d)


def check_pickup_not_operator(event, d):
    """a pick-up code outside training => not operator_error (decision._weigh excludes
    operator_error when context["pickup"])."""
    if pickup_code(event) and not training(event) and not d["errors"]:
        assert d["cause"] != "operator_error", ("operator evidence outweighed a pick-up code",
                                                event, d)


def check_approval(event, d):
    """the approval 00 outside training => never retry_online (decision._guard:
    no_retry_after_an_approval; flag "a" in policy.RESPONSE_CODES)."""
    if get(event, "response", "code") == "00" and not training(event) and not d["errors"]:
        assert d["action"] != "retry_online", ("retry after an approval", event, d)


# what the operator's English text says for each action (texts.txt, operator:...)
ACTION_WORDS = (("retain_card", ("if safe",)), ("return_card", ("return",)),
                ("reenter_card", ("re-enter", "insert", "redo")),
                ("retry_online", ("retry",)), ("service_terminal", ("new pos", "stop")),
                ("call_acquirer", ("call acquirer",)))


def check_messages(event, d):
    """No message asserts a contradicted fact, and the messages say the final action
    (decision._decision: a guard's text replaces the cause's; discount bad_clock_expiry,
    rule expiry_invalid)."""
    op, ch = d["messages"]["operator"], d["messages"]["cardholder"]
    expiry = get(event, "card", "expiry")
    if expiry is not None and not expiry_valid(expiry) or clock_untrusted(event):
        assert d["subcause"] not in ("expired_card", "expired_pickup"), \
            ("says expired against an invalid expiry or an untrusted clock", event, d)
        # "黑名单过期" is a stale hot list, not an expired card
        for said in (op["en"], ch["en"], op["zh"], ch["zh"]):
            assert "xpired" not in said and "卡片过期" not in said and "过期卡" not in said \
                and "已过期" not in said, ("says expired", event, d)
    for action, words in ACTION_WORDS:
        if d["action"] == action:
            assert [w for w in words if w in op["en"].lower()], ("message does not say the action",
                                                         event, d)
    retained = d["action"] == "retain_card"
    # the retain instruction always comes with "if safe" (issue 12, 7); nothing else says retain
    assert retained == ("安全时" in op["zh"]), d
    assert retained == ("if safe" in op["en"]), d
    assert retained == ("Card held" in ch["en"]) and retained == ("暂扣" in ch["zh"]), d
    if d["action"] != "retry_online":
        assert "retry" not in op["en"].replace("not retry", ""), d
    if "TAMPER" in op["en"]:
        assert get(event, "terminal", "tamper") is True, d


def check_all(event, d):
    check_retain(event, d)
    check_tamper(event, d)
    check_training(event, d)
    check_pickup_not_operator(event, d)
    check_approval(event, d)
    check_messages(event, d)


# ---- monotonicity: one more fact for a cause never lowers its points ----

def _mutations(event):
    """(cause, section, field, value): each sets one fact that only adds evidence for `cause`
    and, for that cause, removes or undermines none. Only those that change the event."""
    out = []
    attempts = get(event, "operator", "attempts")
    if attempts is None or attempts < LIMITS["attempts_high"]:
        # more attempts: repeated (35) becomes excessive (55); attempts feed no other rule
        out.append(("operator_error", "operator", "attempts", LIMITS["attempts_high"]))
    if get(event, "operator", "forced_fallback") is not True:
        # forced fallback adds forced_fallback (65); what else it touches is card_compromised
        out.append(("operator_error", "operator", "forced_fallback", True))
    if get(event, "terminal", "network") is None:
        # a link known down: link_down (55, or its blocked share) and floor_limit_offline; it
        # replaces the no_host_answer (40) of a null code with the same discount
        out.append(("network_fault", "terminal", "network", "down"))
    if get(event, "response", "stan_match") is not False:
        # an answer to another request: stale_answer (80) added; the host's network-fault code
        # keeps 20% of at most 85, so the sum grows
        out.append(("network_fault", "response", "stan_match", False))
    if get(event, "terminal", "reader_ok") is not False:
        # reader_fault (70) added; it drops chip_reader_suspect (30) and, for card_compromised
        # only, chip_card_swiped
        out.append(("device_fault", "terminal", "reader_ok", False))
    if get(event, "terminal", "tamper") is not True:
        # tamper (85, or 25 beside the issuer's pick-up); it blocks only network evidence
        out.append(("device_fault", "terminal", "tamper", True))
    if get(event, "terminal", "config_ok") is not False:
        # config_error (60); like tamper it blocks only network evidence
        out.append(("device_fault", "terminal", "config_ok", False))
    if get(event, "terminal", "clock_ok") is not False:
        # clock_fault (70) in place of clock_implausible (70); the clock undermines only
        # card_data_error's expiry evidence and card_compromised's terminal evidence
        out.append(("device_fault", "terminal", "clock_ok", False))
    if get(event, "card", "entry_mode") == "manual" and get(event, "card", "cvv_result") \
            != "mismatch":
        # a keyed security code that does not match: keyed_cvv_mismatch (60), nothing else
        out.append(("card_data_error", "card", "cvv_result", "mismatch"))
    tvr = get(event, "card", "tvr") or "0000000000"
    if int(tvr[:2], 16) & 0x48 == 0:
        # DDA failed (byte 1 bit 4): oda_failed (75) replaces oda_not_performed (10) at most
        out.append(("card_compromised", "card", "tvr", "%02X%s" % (int(tvr[:2], 16) | 8,
                                                                   tvr[2:])))
    return out


def _copy(event):
    out = {}
    for key in event:
        value = event[key]
        out[key] = dict(value) if isinstance(value, dict) else value
    return out


def check_monotone(event):
    """For each mutation: the cause's points with one more fact >= without (rules.collect,
    Evidence.add, discounts in policy.DISCOUNTS; decision._weigh sums them). Returns how many
    mutations were compared."""
    _, before = run(event)
    if "scores" not in before:  # an invalid event: no evidence to compare
        return 0
    n = 0
    for cause, section, key, value in _mutations(event):
        more = _copy(event)
        put(more, section, key, value)
        _, after = run(more)
        was, now = before["scores"].get(cause, 0), after["scores"].get(cause, 0)
        assert now >= was, ("more evidence lowered its cause", cause, key, value, was, now,
                            event)
        n += 1
    return n


# ---- the tests, 150 seeded events each ----

SEED = 20261212
ROUNDS = 150


def _events(seed, count=ROUNDS):
    rng = XorShift(seed)
    for _ in range(count):
        heap.tidy()
        yield rng, random_event(rng)


UNFIT = (("terminal", "tamper", True), ("terminal", "config_ok", False),
         ("terminal", "min_firmware", "9.0"), ("terminal", "clock_ok", False),
         ("", "time", 946684800), ("terminal", "hotlist_age_s", 172801))


def test_no_retention_from_an_unfit_terminal():
    """A terminal-made pick-up (its own code or its hot list, TVR byte 1 bit 5) on an unfit
    terminal never retains the card (rules.context_of: unfit, fit_list_hit; discounts
    unfit_*, stale_hotlist; decision._guard: retain_only_on_the_issuers_word)."""
    for rng, event in _events(SEED + 1):
        if rng.below(2):
            put(event, "response", "code", rng.pick(PICKUPS))
            put(event, "response", "source", "terminal")
        else:
            put(event, "card", "tvr", rng.pick(("1000000000", "1800000000", "9000008000")))
            if pickup_code(event) and source(event) == "host":
                put(event, "response", "code", "05")
        section, key, value = rng.pick(UNFIT)
        put(event, section, key, value)
        if key == "min_firmware":
            put(event, "terminal", "firmware", "2.4.1")
        d, _ = run(event)
        assert unfit(event) and retain_basis(event) is None, event  # the forcing worked
        assert d["action"] != "retain_card", ("unfit terminal retained", event, d)
        check_all(event, d)


def test_no_retention_in_training_or_on_wrong_keyed_data():
    """Training mode or keyed data failing Luhn, length or YYMM never retains, even on the
    host's pick-up (rules.context_of: unheard, keyed_wrong; discounts training_no_issuer,
    keyed_data_wrong; decision._guard)."""
    for rng, event in _events(SEED + 2):
        put(event, "response", "code", rng.pick(PICKUPS))
        put(event, "response", "source", rng.pick(("host", "terminal", OMIT)))
        put(event, "response", "stan_match", True)
        kind = rng.below(3)
        if kind == 0:
            put(event, "operator", "training_mode", True)
        else:
            put(event, "card", "entry_mode", "manual")
            if kind == 1:
                put(event, "card", "pan", rng.pick(("4111111111111112", "41111111111",
                                                    "41111111111111111111")))
            else:
                put(event, "card", "expiry", rng.pick(("2813", "2800", "13/28", "00/27")))
        d, _ = run(event)
        assert retain_basis(event) is None, event
        assert d["action"] != "retain_card", ("retained", event, d)
        check_all(event, d)


def test_retention_only_on_a_sound_basis():
    """Over unforced events, and over host pick-ups: retain_card only with the issuer's word or
    a fit terminal's fresh list, and it does happen (so the check is not vacuous)
    (decision._guard, rules.context_of)."""
    retained = 0
    for rng, event in _events(SEED + 3):
        if rng.below(2):
            put(event, "response", "code", rng.pick(PICKUPS))
        d, _ = run(event)
        check_all(event, d)
        retained += d["action"] == "retain_card"
    assert retained >= 5, retained


def test_tamper_always_alerts():
    """A tamper flag yields the stop-using alert, also on an invalid event
    (decision._decision: alert:tamper; decide passes `tampered` for events with errors)."""
    for rng, event in _events(SEED + 4):
        put(event, "terminal", "tamper", True)
        if rng.below(3) == 0:
            section, key, value = rng.pick(BREAKS)
            put(event, section, key, value)
        d, _ = run(event)
        assert d["alert"] is not None, ("no alert", event, d)
        check_all(event, d)


def test_training_is_an_operator_matter():
    """Training mode: operator_error whatever the code and its source (decision._weigh:
    context["unheard"]; rule training_mode; discount training_no_issuer)."""
    for rng, event in _events(SEED + 5):
        put(event, "operator", "training_mode", True)
        d, _ = run(event)
        assert not d["errors"], d
        assert d["cause"] == "operator_error", ("training", event, d)
        check_all(event, d)


def test_pickup_is_never_outweighed_by_operator_evidence():
    """A pick-up code, even a terminal-made one from an unfit terminal, is never outweighed by
    operator evidence (decision._weigh: excluded operator_error when context["pickup"])."""
    for rng, event in _events(SEED + 6):
        put(event, "response", "code", rng.pick(PICKUPS))
        put(event, "operator", "training_mode", rng.pick((OMIT, False)))
        put(event, "operator", "attempts", rng.pick((5, 9, 20)))
        put(event, "operator", "forced_fallback", rng.pick((True, False, OMIT)))
        put(event, "operator", "txn_type", rng.pick(("refund", "void", "sale")))
        if rng.below(2):
            section, key, value = rng.pick(UNFIT)
            put(event, section, key, value)
        d, _ = run(event)
        assert d["cause"] != "operator_error", ("operator outweighed a pick-up", event, d)
        check_all(event, d)


def test_no_retry_after_an_approval():
    """The approval 00 arriving as a decline never leads to retry_online (decision._guard:
    no_retry_after_an_approval, flag "a")."""
    for rng, event in _events(SEED + 7):
        put(event, "response", "code", "00")
        put(event, "operator", "training_mode", rng.pick((OMIT, False)))
        d, _ = run(event)
        assert d["action"] != "retry_online", ("retry after approval", event, d)
        check_all(event, d)


def test_messages_assert_no_contradicted_fact():
    """An invalid expiry or an untrusted clock never yields "expired"; every message says the
    final action (rule expiry_invalid, discount bad_clock_expiry, decision._decision's guard
    texts)."""
    for rng, event in _events(SEED + 8):
        kind = rng.below(3)
        if kind == 0:
            put(event, "card", "expiry", rng.pick(("2813", "2800", "13/28", "281", "122028")))
        elif kind == 1:
            put(event, "terminal", "clock_ok", False)
        else:
            put(event, "", "time", rng.pick((946684800, 2300000000)))
        if rng.below(2):
            put(event, "response", "code", rng.pick(("54", "33")))
        d, _ = run(event)
        check_messages(event, d)
        check_all(event, d)


def test_more_evidence_never_lowers_its_cause():
    """Adding one fact for a cause never lowers that cause's points (rules.collect and its
    discounts, decision._weigh's per-cause sums)."""
    compared = 0
    for rng, event in _events(SEED + 9, 100):
        compared += check_monotone(event)
    assert compared >= 300, compared


def print_decisions(count):
    """One decision per line for the first `count` seeded events (compared with CPython's)."""
    import json
    import sys

    for _, event in _events(SEED, count):
        json.dump(decide(event, DEFAULT), sys.stdout)
        print()
