"""Evidence: what each fact of a decline says about the five causes.

Every rule adds points to one cause; weights come from the policy. Where one fact undermines another
(an answer that belongs to an earlier request, a clock that cannot be trusted, a hot list too old to
believe), the undermined evidence keeps only a share of its points and says why, so the weighing in
classify.py stays a plain sum and every decision can be explained line by line.
"""

from .cardfacts import civil_year_month, expired, luhn_ok, parse_expiry, tvr_bit, version_tuple
from .table import row


class Evidence:
    """Collects [rule, cause, points, subcause, why] items under one policy."""

    def __init__(self, policy):
        self.policy = policy
        self.items = []

    def add(self, rule, why, pct=100, entry=None):
        cause, points, subcause = entry if entry else row(self.policy["rules"], rule)
        points = int(points) * pct // 100
        if points > 0:
            self.items.append([rule, cause, points, subcause, why])


def _pct(policy, name):
    return policy["discount_pct"][name]


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


def _device_blocks_online(facts):
    """A tampered terminal (keys erased) or an invalid configuration cannot reach the host."""
    return facts["tamper"] is True or facts["config_ok"] is False


def _offline_pct(ev, facts):
    """Share kept by "could not reach the host" evidence that a device fault already explains."""
    return _pct(ev.policy, "device_explains_offline") if _device_blocks_online(facts) else 100


def _response(ev, facts, clock_trusted):
    policy = ev.policy
    code = facts["code"]
    if code is None:
        # With the link state known, link_down/link_degraded already count this outage.
        if facts["source"] in (None, "none", "terminal") and facts["network"] is None:
            ev.add("no_host_answer", "no answer from the host", _offline_pct(ev, facts))
        return
    entry = row(policy["response_codes"], code)
    if entry is None:
        return
    rule, cause, points, subcause, flags, meaning = entry
    why = "%s answered %s: %s" % (facts["source"] or "host", code, meaning)
    pct = 100
    from_host = facts["source"] in (None, "host")
    if from_host and facts["stan_match"] is False:
        pct = pct * _pct(policy, "stale_answer") // 100
        why += "; discounted, the answer is for another request"
    if from_host and facts["training_mode"] is True:
        pct = pct * _pct(policy, "training_host_code") // 100
        why += "; discounted, terminal in training mode"
    if "e" in flags and clock_trusted is False:
        pct = pct * _pct(policy, "bad_clock_expiry") // 100
        why += "; discounted, terminal clock not trusted"
    if facts["source"] == "terminal" and cause == "network_fault" and _device_blocks_online(facts):
        pct = pct * _pct(policy, "device_explains_offline") // 100
        why += "; discounted, a terminal fault keeps it offline"
    ev.add(rule, why, pct, [cause, points, subcause])
    if code in policy["wrong_txn_codes"] and facts["txn_type"] not in (None, "sale"):
        ev.add("wrong_txn_type", "%s not allowed for a %s" % (code, facts["txn_type"]))


def _answer_sync(ev, facts):
    if facts["stan_match"] is False and facts["code"] is not None:
        ev.add("stale_answer", "answer STAN/RRN does not match the request")


def _card_read(ev, facts, limits):
    mode = facts["entry_mode"]
    sc = facts["service_code"]
    chip_card = sc is not None and sc[0] in "26"
    failures = facts["chip_read_failures"]
    forced = facts["forced_fallback"] is True
    if mode == "swipe" and chip_card and facts["reader_ok"] is not False:
        if failures is not None and failures >= limits["chip_failures_fallback_min"]:
            pass  # a swipe after real chip failures is a legitimate fallback
        elif forced:
            ev.add("chip_card_swiped", "chip card (service code %s) swiped by operator choice" % sc,
                   _pct(ev.policy, "forced_fallback_swipe"))
        else:
            ev.add("chip_card_swiped",
                   "chip card (service code %s) swiped with a working chip reader" % sc)
    if mode == "fallback_swipe" and failures == 0 and not forced:
        ev.add("fallback_without_chip_failure", "fallback swipe with no chip read failure")
    if forced:
        ev.add("forced_fallback", "operator forced a swipe without a chip attempt")
    if failures is not None and failures >= limits["chip_failures_reader_suspect"] \
            and facts["reader_ok"] is not False:
        ev.add("chip_reader_suspect", "%d chip read failures in a row" % failures)
    if facts["cvv_result"] == "mismatch":
        if mode == "manual":
            ev.add("keyed_cvv_mismatch", "keyed security code does not match")
        elif mode in ("swipe", "fallback_swipe"):
            ev.add("track_cvv_mismatch", "magstripe security code does not match")


def _keyed_data(ev, facts, clock_trusted):
    pan = facts["pan"]
    if pan is not None:
        if not 12 <= len(pan) <= 19:
            ev.add("pan_length_invalid", "card number has %d digits" % len(pan))
        elif not luhn_ok(pan):
            ev.add("pan_luhn_failed", "card number fails the Luhn check")
    if facts["expiry"] is None:
        return
    expiry = parse_expiry(facts["expiry"])
    if expiry is None:
        ev.add("expiry_invalid", "expiry %s is not a valid YYMM" % facts["expiry"])
    elif clock_trusted and facts["time"] is not None \
            and expired(expiry, civil_year_month(facts["time"])):
        ev.add("card_expired", "card expired %02d/%d" % (expiry[1], expiry[0]))


def _tvr(ev, facts, limits, clock_trusted):
    tvr = facts["tvr"]
    if tvr is None:
        return
    policy = ev.policy
    for bit, name in ((7, "SDA"), (4, "DDA"), (3, "CDA")):
        if tvr_bit(tvr, 1, bit):
            ev.add("oda_failed", "offline data authentication failed (%s)" % name)
            break
    if tvr_bit(tvr, 1, 5):
        age = facts["hotlist_age_s"]
        if age is not None and age > limits["hotlist_max_age_s"]:
            ev.add("exception_file", "card on the terminal hot list; discounted, list is stale",
                   _pct(policy, "stale_hotlist"))
            ev.add("stale_hotlist", "hot list is %d h old" % (age // 3600))
        else:
            ev.add("exception_file", "card on the terminal hot list")
    if tvr_bit(tvr, 1, 6):
        ev.add("icc_data_missing", "chip data missing")
    for bit, rule, why in ((7, "tvr_expired_application", "card application expired"),
                           (6, "tvr_not_yet_effective", "card application not yet effective")):
        if tvr_bit(tvr, 2, bit):
            if clock_trusted is False:
                ev.add(rule, why + "; discounted, terminal clock not trusted",
                       _pct(policy, "bad_clock_expiry"))
            else:
                ev.add(rule, why)
    if tvr_bit(tvr, 4, 8) and facts["network"] in ("down", "degraded"):
        ev.add("floor_limit_offline", "over the floor limit while the link is %s" % facts["network"])
    if tvr_bit(tvr, 5, 7):
        ev.add("issuer_auth_failed", "issuer authentication failed")


def _card_decision(ev, facts):
    # Only a decline the card made itself; on a terminal decline the AAC just echoes the terminal.
    if facts["cid"] == "AAC" and facts["source"] == "card":
        ev.add("card_refused_offline", "the card itself declined (AAC)")


def _network(ev, facts, limits):
    net = facts["network"]
    if net == "down":
        ev.add("link_down", "network link down")
    elif net == "degraded":
        ev.add("link_degraded", "network link degraded")
    last = facts["last_host_contact_s"]
    pct = _offline_pct(ev, facts)
    if last is not None and last > limits["host_contact_stale_s"]:
        ev.add("host_contact_stale", "no host contact for %d s" % last, pct)
    timeouts = facts["consecutive_timeouts"]
    if timeouts is not None and timeouts >= limits["timeouts_min"]:
        ev.add("repeated_timeouts", "%d host timeouts in a row" % timeouts, pct)


def _device(ev, facts, clock_trusted):
    if facts["clock_ok"] is False:
        ev.add("clock_fault", "terminal reports its clock is not set")
    elif clock_trusted is False:
        ev.add("clock_implausible", "terminal clock reads an impossible date")
    if facts["reader_ok"] is False:
        ev.add("reader_fault", "card reader reports a fault")
    if facts["tamper"] is True:
        ev.add("tamper", "tamper sensor triggered")
    if facts["config_ok"] is False:
        ev.add("config_error", "terminal configuration invalid")
    fw, least = facts["firmware"], facts["min_firmware"]
    if fw is not None and least is not None:
        have, need = version_tuple(fw), version_tuple(least)
        if have is not None and need is not None and have < need:
            ev.add("outdated_firmware", "firmware %s older than %s" % (fw, least))


def _operator(ev, facts, limits):
    if facts["training_mode"] is True:
        ev.add("training_mode", "terminal in training mode")
    attempts = facts["attempts"]
    if attempts is not None:
        if attempts >= limits["attempts_high"]:
            ev.add("excessive_attempts", "%d attempts with this card in 10 min" % attempts)
        elif attempts >= limits["attempts_warn"]:
            ev.add("repeated_attempts", "%d attempts with this card in 10 min" % attempts)


def collect(facts, policy):
    """All evidence for validated `facts`, as [rule, cause, points, subcause, why] lists."""
    ev = Evidence(policy)
    limits = policy["limits"]
    clock_trusted = _clock_trusted(facts, limits)
    _response(ev, facts, clock_trusted)
    _answer_sync(ev, facts)
    _card_read(ev, facts, limits)
    _keyed_data(ev, facts, clock_trusted)
    _tvr(ev, facts, limits, clock_trusted)
    _card_decision(ev, facts)
    _network(ev, facts, limits)
    _device(ev, facts, clock_trusted)
    _operator(ev, facts, limits)
    return ev.items
