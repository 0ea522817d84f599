"""Evidence: what each fact of a decline says about the five causes.

Every rule adds points to one cause; weights and the words of each `why` come from the policy's
text tables, so this module holds only the logic. Where one fact undermines another (an answer
that belongs to an earlier request, a clock that cannot be trusted, a hot list too old to believe),
the undermined evidence keeps only the policy's share of its points and says why, so the weighing
in decision.py stays a plain sum and every decision can be explained line by line.
"""

from .cardfacts import civil_year_month, luhn_ok, older_version, parse_expiry, tvr_bit
from .table import row


class Evidence:
    """Collects (rule, cause, points, subcause, why, discounts) items under one policy, strongest
    first.

    Among equal points the first added stays first (the host's word is added first); keeping
    the order while adding spares a sort and its key objects in a small heap.
    """

    def __init__(self, policy):
        self.policy = policy
        self.items = []
        self.blocked = ()  # discounts for "could not reach the host" evidence (see collect)

    def add(self, rule, args=None, discounts=(), share=100, entry=None):
        """Add `rule` (or a response-code `entry`), its why filled with `args`, after discounts;
        `share`: the percentage of the rule's points it carries before them."""
        policy = self.policy
        if entry is None:
            cause, points, subcause = row(policy["rules"], rule)
        else:
            cause, points, subcause, why = entry
        points = int(points) * share // 100
        for name in discounts:
            points = points * int(row(policy["discounts"], name)[0]) // 100
        if points <= 0:
            return
        if entry is None:  # the words come from flash: only for evidence that counts
            why = row(policy["texts"], "why:" + rule)[0]
            if args is not None:
                why = why % args
        for name in discounts:
            why += "; discounted, " + row(policy["texts"], "note:" + name)[0]
        items = self.items
        i = len(items)
        while i > 0 and items[i - 1][2] < points:
            i -= 1
        items.insert(i, (rule, cause, points, subcause, why, discounts))


def _clock_trusted(facts, limits):
    """False when the terminal clock is known bad or reads an impossible date; None if unknown."""
    if facts["clock_ok"] is False:
        return False
    t = facts["time"]
    if t is not None and not limits["plausible_time_min"] <= t < limits["plausible_time_max"]:
        return False
    if facts["clock_ok"] is True or t is not None:
        return True
    return None


def answer_source(facts, policy):
    """Who declined: as the event says, else the terminal for its own ARCs, else the host."""
    if facts["source"] is not None:
        return facts["source"]
    if facts["code"] in policy["terminal_codes"]:
        return "terminal"
    return "host"


def _response(ev, facts, context):
    code = facts["code"]
    blocked = ev.blocked
    if code is None:
        # `"code": null` is no answer; with the link state known, link_down already counts it
        if facts["no_answer"] and facts["network"] is None:
            ev.add("no_host_answer", discounts=blocked)
        if facts["no_answer"] and facts["cid"] == "ARQC":  # with the link down too: no lower
            ev.add("online_request_unanswered", discounts=blocked)
        return
    entry = context["entry"]
    if entry is not None:  # an unknown code says nothing by itself
        rule, cause, points, subcause, flags, meaning = entry
        source = context["source"]
        discounts = context["unheard"]  # training mode: no issuer heard this request
        if source == "host" and facts["stan_match"] is False:
            discounts += ("stale_answer",)
        if "e" in flags:
            discounts += context["valid_expiry"]
            if context["clock_trusted"] is False:
                discounts += ("bad_clock_expiry",)
        if source == "terminal" and cause == "network_fault":
            discounts += blocked
        if cause in ("card_compromised", "card_data_error"):
            # an answer about the card is an answer about the data the terminal sent
            discounts += context["keyed_wrong"]
            if source == "terminal":  # the terminal's own judgement: only as good as the terminal
                discounts += context["unfit"]
        why = "%s answered %s: %s" % (source, code, meaning)
        ev.add(rule, discounts=discounts, entry=(cause, points, subcause, why))
    if code in ev.policy["wrong_txn_codes"] and facts["txn_type"] not in (None, "sale"):
        ev.add("wrong_txn_type", (code, facts["txn_type"]))
    if facts["stan_match"] is False:
        ev.add("stale_answer")


def _card(ev, facts, limits, clock_trusted, context):
    """How the card was read, and whether its data (as read or keyed) can be right."""
    mode = facts["entry_mode"]
    sc = facts["service_code"]
    failures = facts["chip_read_failures"]
    forced = facts["forced_fallback"] is True
    # a swipe after real chip failures is a legitimate fallback, not a clone
    real_fallback = failures is not None and failures >= limits["chip_failures_fallback_min"]
    if mode == "swipe" and sc is not None and sc[0] in "26" and facts["reader_ok"] is not False \
            and not real_fallback:
        discounts = []
        if forced:
            discounts.append("forced_fallback_swipe")
        if failures is None:  # unknown is not "none": the chip may have failed unrecorded
            discounts.append("chip_attempts_unknown")
        ev.add("chip_card_swiped", sc, discounts)
    if mode == "fallback_swipe" and failures == 0 and not forced:
        ev.add("fallback_without_chip_failure")
    if forced:
        ev.add("forced_fallback")
    if failures is not None and failures >= limits["chip_failures_reader_suspect"] \
            and facts["reader_ok"] is not False:
        ev.add("chip_reader_suspect", failures)
    if facts["cvv_result"] == "mismatch":
        if mode == "manual":
            ev.add("keyed_cvv_mismatch")
        elif mode in ("swipe", "fallback_swipe"):
            ev.add("track_cvv_mismatch")
        elif mode is None:  # most mismatches are mistyped security codes
            ev.add("keyed_cvv_mismatch", discounts=("entry_mode_unknown",))
    pan = facts["pan"]
    if pan is not None and context["keyed_wrong"]:  # context_of checked it once
        if not 12 <= len(pan) <= 19:
            ev.add("pan_length_invalid", len(pan))
        elif not luhn_ok(pan):
            ev.add("pan_luhn_failed")
    if facts["expiry"] is None:
        return
    expiry, now = context["expiry"]
    if expiry is None:
        ev.add("expiry_invalid", facts["expiry"])
    elif clock_trusted and now is not None and expiry < now:  # valid through its last month
        ev.add("card_expired", (expiry[1], expiry[0]))


def _tvr(ev, facts, limits, clock_trusted, context):
    tvr = facts["tvr"]
    if tvr is None:
        return
    for bit, name in ((7, "SDA"), (4, "DDA"), (3, "CDA")):
        if tvr_bit(tvr, 1, bit):
            ev.add("oda_failed", name)
            break
    else:
        # weak alone (online-only terminals skip it), telling beside other counterfeit signs
        if tvr_bit(tvr, 1, 8) and facts["entry_mode"] == "chip":
            ev.add("oda_not_performed")
    if tvr_bit(tvr, 1, 5):  # the terminal's own list: only as good as the terminal
        ev.add("exception_file", discounts=context["unheard"] + context["keyed_wrong"]
               + context["unfit"])
    if tvr_bit(tvr, 1, 6):
        ev.add("icc_data_missing")
    untrusted = ("bad_clock_expiry",) if clock_trusted is False else ()
    if tvr_bit(tvr, 2, 7):
        ev.add("tvr_expired_application", discounts=untrusted + context["valid_expiry"])
    if tvr_bit(tvr, 2, 6):
        ev.add("tvr_not_yet_effective", discounts=untrusted)
    if tvr_bit(tvr, 4, 8) and facts["network"] in ("down", "degraded"):
        ev.add("floor_limit_offline", facts["network"])
    if tvr_bit(tvr, 5, 7):
        ev.add("issuer_auth_failed")
    # Only a decline the card made itself; on a terminal decline the AAC just echoes the terminal.
    if facts["cid"] == "AAC" and facts["source"] == "card":
        ev.add("card_refused_offline")


def _terminal(ev, facts, limits, clock_trusted, context):
    """The link, the terminal's own health, and what its operator did."""
    net = facts["network"]
    if net == "down":
        ev.add("link_down", discounts=ev.blocked)
    elif net == "degraded":
        ev.add("link_degraded", discounts=ev.blocked)
    last = facts["last_host_contact_s"]
    if last is not None and last > limits["host_contact_stale_s"]:
        ev.add("host_contact_stale", last, ev.blocked)
    timeouts = facts["consecutive_timeouts"]
    if timeouts is not None and timeouts >= limits["timeouts_min"]:
        ev.add("repeated_timeouts", timeouts, ev.blocked)
    if facts["clock_ok"] is False:
        ev.add("clock_fault")
    elif clock_trusted is False:
        ev.add("clock_implausible")
    if facts["reader_ok"] is False:
        ev.add("reader_fault")
    if facts["tamper"] is True:
        # a decline the issuer itself made, to a request it answered, is not the terminal's doing
        ev.add("tamper", discounts=("issuer_pickup",) if context["issuer_pickup"] else ())
    if facts["config_ok"] is False:
        ev.add("config_error")
    if context["outdated"]:
        ev.add("outdated_firmware", (facts["firmware"], facts["min_firmware"]))
    if facts["training_mode"] is True:
        ev.add("training_mode")
    attempts = facts["attempts"]
    if attempts is not None:
        if attempts >= limits["attempts_high"]:
            ev.add("excessive_attempts", attempts)
        elif attempts >= limits["attempts_warn"]:
            ev.add("repeated_attempts", attempts)


def context_of(facts, policy, watch=None):
    """The facts that decide how far other evidence can be believed: who answered, whether an
    issuer can have heard the request, whether the keyed data can be the card's, and what makes
    the terminal unfit to judge a card by itself (docs/RULES.md). `watch`: the card on the
    acquirer's watchlist, (version, terminals seen), or None."""
    limits = policy["limits"]
    clock_trusted = _clock_trusted(facts, limits)
    fw, least = facts["firmware"], facts["min_firmware"]
    outdated = fw is not None and least is not None and older_version(fw, least)
    # tampered, misconfigured, outdated or with a clock it cannot trust: unfit to judge a card
    unfit = ("unfit_terminal",) if facts["tamper"] is True or facts["config_ok"] is False \
        or outdated or clock_trusted is False else ()
    age = facts["hotlist_age_s"]
    if age is not None and age > limits["hotlist_max_age_s"]:
        unfit += ("stale_hotlist",)
    pan, expiry = facts["pan"], facts["expiry"]
    when = parse_expiry(expiry) if expiry is not None else None
    # card data that fails its own checks, keyed or read, is not the card in the cashier's hand
    pan_wrong = ("keyed_data_wrong",) if pan is not None and not (
        12 <= len(pan) <= 19 and luhn_ok(pan)) else ()
    keyed_wrong = pan_wrong or (("keyed_data_wrong",) if expiry is not None and when is None
                                else ())
    now = civil_year_month(facts["time"]) if when is not None and facts["time"] is not None \
        else None
    # the card's own expiry, read under a trusted clock, says it has not expired
    valid_expiry = ("expiry_says_valid",) if now is not None and clock_trusted is True \
        and when >= now else ()
    code = facts["code"]
    source = entry = None
    flags = ""  # of the response code: e p a n (policy.py)
    if code is not None:
        source = answer_source(facts, policy)
        entry = row(policy["response_codes"], code)
        if entry is not None:
            flags = entry[4]
    training = facts["training_mode"] is True
    # flags count only outside training mode: no issuer heard a training request
    pickup_code = "p" in flags and not training
    tvr = facts["tvr"]
    # the terminal said "pick up" itself: its own hot list (the TVR bit) or a code of its making
    list_hit = not training and (tvr is not None and tvr_bit(tvr, 1, 5)
                                 or pickup_code and source == "terminal")
    return {"source": source, "entry": entry, "clock_trusted": clock_trusted, "unfit": unfit,
            "outdated": outdated, "valid_expiry": valid_expiry, "expiry": (when, now),
            "keyed_wrong": keyed_wrong, "watch": watch,
            # the watchlist matched the card number: only the number failing its checks says
            # the card in hand may not be the listed one (a mistyped expiry does not)
            "pan_wrong": pan_wrong,
            "unheard": ("training_no_issuer",) if training else (),
            # a pick-up code or the terminal's own list: what the operator did never outweighs it
            "pickup": list_hit or pickup_code,
            "list_hit": list_hit,
            # the two bases for retaining a card (docs/RULES.md): a fit terminal's fresh list,
            # every fact of its fitness known...
            "fit_list_hit": list_hit and not unfit and not keyed_wrong and facts["tamper"] is False
            and facts["config_ok"] is True and clock_trusted is True and age is not None
            and fw is not None and least is not None and outdated is False,
            # ...and the issuer's own word: from the host, to this request, authenticated
            "issuer_pickup": pickup_code
            and facts["source"] == "host" and facts["stan_match"] is True and not keyed_wrong
            and not (tvr is not None and tvr_bit(tvr, 5, 7)),
            "approval": "a" in flags and not training,
            # the issuer will never approve this card: retrying it costs the acquirer a fee
            "never_retry": (pickup_code or "n" in flags and not training)
            and source == "host" and facts["stan_match"] is not False
            and not keyed_wrong}


def collect(facts, policy, context):
    """All evidence for validated `facts` read in `context` (context_of): (rule, cause, points,
    subcause, why, discounts), strongest first."""
    ev = Evidence(policy)
    # a tampered terminal (keys erased) or an invalid configuration cannot reach the host, which
    # explains "host unreachable" evidence away; so does a hit on a fit terminal's own fresh hot
    # list, which declines whether the link is up or not
    if facts["tamper"] is True or facts["config_ok"] is False:
        ev.blocked = ("device_explains_offline",)
    elif context["fit_list_hit"]:
        ev.blocked = ("own_list_explains_offline",)
    limits = policy["limits"]
    clock_trusted = context["clock_trusted"]
    _response(ev, facts, context)
    _card(ev, facts, limits, clock_trusted, context)
    _tvr(ev, facts, limits, clock_trusted, context)
    _terminal(ev, facts, limits, clock_trusted, context)
    if context["list_hit"] and "stale_hotlist" in context["unfit"]:
        # the list's fault, not the card's: with the link down it could not update (a network
        # fault); with the link up it should have (the terminal's)
        ev.add("hotlist_not_updated" if facts["network"] == "up" else "stale_hotlist",
               facts["hotlist_age_s"] // 3600)
    watch = context["watch"]
    if watch is not None:
        # other terminals saw this card compromised: evidence about the card whose data found it
        # here, so only as good as that data (not the hot list, no issuer's word); its share of
        # the points in proportion to those terminals, full from watchlist_terminals_full on
        # (as lostcard_cpython.rulesdoc.watch_points says). Added last: of equal points, the
        # issuer's and the terminal's own words name the subcause
        full = limits["watchlist_terminals_full"]
        ev.add("watchlist_hit", watch, context["pan_wrong"], min(watch[1], full) * 100 // full)
    return ev.items
