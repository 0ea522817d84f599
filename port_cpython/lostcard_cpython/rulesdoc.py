"""docs/RULES.md, rendered from the policy so that it cannot drift (`lostcard rules-doc`).

The head, the safety invariants, is written by hand below; every table after it comes from the
policy's tables (`lostcard.policy`) and its words (core/lostcard/texts.txt). What the policy does
not say as data, which evidence each discount cuts, is written here as data (DISCOUNT_USE), read
off `lostcard.rules`; tests/test_rulesdoc.py checks that it names only rules and discounts the
policy has, and that docs/RULES.md is this module's output.
"""

from lostcard.policy import DEFAULT
from lostcard.table import row

# The safety rules of the weighing and of the action: name, where it lives, what it does.
SAFETY_RULES = (
    ("issuers_word_decides", "lostcard.decision._weigh",
     "the issuer's own pick-up (flag p from source host, STAN matching, issuer authentication "
     "not failed, card data sound, not in training): its cause wins, whatever else the terminal "
     "reports; the strongest evidence there is"),
    ("pickup_outweighs_operator", "lostcard.decision._weigh",
     "a pick-up code (flag p) or the terminal's own hot list outside training: operator_error "
     "cannot win; what the operator did never outweighs a pick-up"),
    ("training_is_operator", "lostcard.decision._weigh",
     "training mode: no issuer heard the request, only operator_error can win"),
    ("retain_only_on_the_issuers_word", "lostcard.decision._decision",
     "retain_card becomes call_acquirer unless the issuer itself answered pick up (as for "
     "issuers_word_decides) or a fit terminal's own fresh hot list holds the card (tamper, "
     "configuration, firmware, clock and list age all known and sound)"),
    ("no_retry_after_an_approval", "lostcard.decision._decision",
     "any action but call_acquirer becomes call_acquirer when the host's answer was an "
     "approval (flag a): an authorisation may stand, a second could charge twice"),
    ("no_retry_after_never_approve", "lostcard.decision._decision",
     "retry_online becomes return_card after the issuer's 'never approve' (flags p, n from the "
     "host, STAN not mismatched): a retry of the same card costs a reattempt fee"),
    ("no_new_attempt_on_a_watchlisted_card", "lostcard.decision._decision",
     "retry_online, reenter_card or return_card becomes call_acquirer when the card is on the "
     "acquirer's watchlist and its number passes its checks: another try, here or at the next "
     "counter, could get a clone approved; the acquirer, whose list it is, decides (after "
     "stop_using_a_tampered_terminal, whose service_terminal stands)"),
    ("stop_using_a_tampered_terminal", "lostcard.decision._decision",
     "retry_online or reenter_card becomes service_terminal when the terminal reports tamper: "
     "nothing more is done on a possible skimmer"),
    ("tamper_alert", "lostcard.decision._decision",
     "a tamper flag read from the event puts the stop-using alert beside the decision, "
     "whatever the decision (also for a malformed event)"),
)

# flag of RESPONSE_CODES -> what it means for the decision
FLAGS = (
    ("e", "the code says the card is expired: cut by an untrusted clock (bad_clock_expiry)"),
    ("p", "pick up the card: retain only on the issuer's word (retain_only_on_the_issuers_word), "
          "and operator evidence cannot win (pickup_outweighs_operator)"),
    ("a", "the host's approval: only call_acquirer (no_retry_after_an_approval)"),
    ("n", "the issuer will never approve (Visa category 1): no retry online "
          "(no_retry_after_never_approve)"),
)

# Response-code evidence a discount cuts, by kind (rendered with the codes the policy has):
# "rc:any" every code; "rc:host" a code from the host; "rc:e" codes flagged e;
# "rc:card" codes of card_compromised or card_data_error, whatever their source;
# "rc:terminal-card" those codes when the terminal made them; "rc:terminal-network" codes of
# network_fault when the terminal made them.
OFFLINE = ("link_down", "link_degraded", "host_contact_stale", "repeated_timeouts",
           "no_host_answer", "online_request_unanswered", "rc:terminal-network")
UNFIT = ("rc:terminal-card", "exception_file")

# discount -> (when it applies, the evidence it cuts), read off lostcard.rules (context_of,
# collect and the functions it calls)
DISCOUNT_USE = {
    "stale_answer": ("the host answered with `response.stan_match` false: the answer is for "
                     "another request", ("rc:host",)),
    "training_no_issuer": ("`operator.training_mode` is true", ("rc:any", "exception_file")),
    "bad_clock_expiry": ("the clock is not trusted: `terminal.clock_ok` false, or `time` outside "
                         "limits plausible_time_min..plausible_time_max",
                         ("rc:e", "tvr_expired_application", "tvr_not_yet_effective")),
    "stale_hotlist": ("`terminal.hotlist_age_s` above limits hotlist_max_age_s", UNFIT),
    "unfit_terminal": ("`terminal.tamper` true, `terminal.config_ok` false, `terminal.firmware` "
                       "older than `terminal.min_firmware`, or the clock not trusted (as for "
                       "bad_clock_expiry)", UNFIT),
    "keyed_data_wrong": ("the card's PAN, keyed or read, is not 12 to 19 digits or fails Luhn, "
                         "or its expiry is not a valid YYMM",
                         ("rc:card", "exception_file", "watchlist_hit")),
    "issuer_pickup": ("the issuer's own pick-up: a code flagged p from the host, STAN "
                      "matching, issuer authentication not failed, not in training, card data "
                      "sound", ("tamper",)),
    "expiry_says_valid": ("`card.expiry` is a valid date not yet past under a trusted clock and a "
                          "known `time`", ("rc:e", "tvr_expired_application")),
    "forced_fallback_swipe": ("`operator.forced_fallback` is true", ("chip_card_swiped",)),
    "device_explains_offline": ("`terminal.tamper` true or `terminal.config_ok` false: the "
                                "terminal cannot reach the host", OFFLINE),
    "own_list_explains_offline": ("a fit terminal's own fresh hot list holds the card (TVR "
                                  "byte 1 bit 5, or a pick-up code the terminal made; not "
                                  "tampered, configured, firmware current, clock trusted, list "
                                  "fresh, not in training, keyed data sound), and "
                                  "device_explains_offline does not apply", OFFLINE),
    "chip_attempts_unknown": ("`terminal.chip_read_failures` absent", ("chip_card_swiped",)),
    "entry_mode_unknown": ("`card.entry_mode` absent", ("keyed_cvv_mismatch",)),
}

# Where the undermining fact is itself evidence for the cause it cuts, the rules it adds: the
# invariant "adding evidence for a cause never lowers that cause's points" needs each of them to
# outweigh the most the discount can cut from that cause (checked in the table and the tests).
SAME_CAUSE = {
    "stale_answer": ("stale_answer",),
    "training_no_issuer": ("training_mode",),
    "keyed_data_wrong": ("pan_luhn_failed", "pan_length_invalid", "expiry_invalid"),
}

HEAD = """\
# Decision rules and safety invariants

<!-- Generated by `lostcard rules-doc` from the default policy (lostcard.policy, \
core/lostcard/texts.txt) and port_cpython/lostcard_cpython/rulesdoc.py; do not edit by hand: \
tests/test_rulesdoc.py fails when this file is stale. -->

Policy version **%(version)s**. How a decline is decided (docs/DECISION.md): every rule that fires
adds its points to one cause (`lostcard.rules`); where another fact undermines a piece of evidence,
that evidence keeps only the discount's share of its points (each discount in turn, rounded down;
evidence left with 0 points is dropped). The points are summed per cause, the strongest cause that
may win takes the decision if it reaches %(min_points)d points, else the decline is
`undetermined`; ties go to the cause first in card_compromised, device_fault, network_fault,
operator_error, card_data_error. The action comes from the subcause (else the cause), then the
safety rules below may change it. `lostcard explain` shows all of this for any event.

Retaining a valid customer's card is a legal risk (DOMAIN.md): retention needs the issuer's word,
or a fit terminal's fresh hot list, and nothing that contradicts the card's own data.

## Safety invariants

Each holds for every event; tests/test_safety_properties.py checks them as properties over generated events
(hypothesis on CPython, the same seeded events on MicroPython deciding identically).

1. **No retain_card without the issuer's word or a fit terminal's fresh list.** The issuer's word
   is a pick-up code (flag p) from source host, STAN matching, issuer authentication not failed,
   not in training, the card data sound. A fit terminal's fresh list: its own hot list (TVR byte 1
   bit 5, or a pick-up code of source terminal) with tamper false, configuration valid, firmware
   at or above its minimum, clock trusted and list age under the limit, each of them known. So never
   from an unfit terminal, in training mode, or with a PAN that fails Luhn or its length, or an
   expiry that is not a date. Kept by: discounts unfit_terminal, stale_hotlist,
   training_no_issuer, keyed_data_wrong; safety rule retain_only_on_the_issuers_word.
2. **A tamper flag always yields the stop-using alert** (the decision's `alert`), whatever the
   decision, beside what to do with the card; and nothing more is done on that terminal (no
   retry, no re-entry). Kept by: tamper_alert, stop_using_a_tampered_terminal.
3. **Training mode: the cause is always operator_error** (for a well-formed event): no real
   authorisation happens. Kept by: training_is_operator; discount training_no_issuer.
4. **What the operator did never outweighs a pick-up** (repeated attempts, forced fallback,
   wrong transaction type), even a terminal-made one from an unfit terminal; and the issuer's own
   pick-up outweighs everything. Kept by: pickup_outweighs_operator, issuers_word_decides.
5. **Nothing but call_acquirer after the host's approval** (flag a): the first authorisation may
   stand. Kept by: no_retry_after_an_approval.
6. **No retry_online after the issuer's "never approve"** (flags p, n: Visa category 1).
   Kept by: no_retry_after_never_approve, issuers_word_decides.
7. **No message asserts a fact the evidence contradicts.** "Card expired" never with an expiry
   that is not a valid date (the message says the expiry is wrong) or an untrusted clock
   (rule card_expired needs a trusted clock; discounts bad_clock_expiry, keyed_data_wrong); when a
   safety rule changes the action, the messages are that rule's, not the overruled action's.
   Kept by: discounts bad_clock_expiry, keyed_data_wrong; the guards' messages
   (`lostcard.decision._decision`).
8. **Adding evidence for a cause never lowers that cause's points.** Every rule's points are
   >= 0, and a discount cuts only the evidence it undermines; where the undermining fact is itself
   evidence for the same cause, the rule it adds outweighs the most it can cut (table "Discounts
   against their own cause" below). Kept by: the weights of `lostcard.policy`.
9. **The acquirer's watchlist warns; it never retains.** A card whose keyed token is on the
   watchlist (seen compromised at other terminals; the terminal passes the version and the
   terminals seen) adds rule watchlist_hit for card_compromised, so the others hold with it: it
   is neither the issuer's word nor the terminal's hot list, so never the basis of retain_card
   (1); it is evidence of the card number that found it, so a number failing its checks (length,
   Luhn; not the expiry, which the list did not match) keeps only keyed_data_wrong's share of it; training mode stays operator_error (3); a tampered
   terminal still gets the alert (2); the hit, and more terminals seen, never lower
   card_compromised's points (8). A listed card whose number passes its checks is not tried again
   (no retry_online, no reenter_card, no return_card): the acquirer decides. Kept by: rule watchlist_hit
   (subcause watchlist, no action of its own: its cause's); discount keyed_data_wrong; safety
   rules retain_only_on_the_issuers_word, no_new_attempt_on_a_watchlisted_card.

## Safety rules

| safety rule | where | what it does | operator message |
|---|---|---|---|
"""


def watch_points(policy, terminals):
    """Rule watchlist_hit's points before discounts for a card seen compromised at `terminals`
    terminals, as lostcard.rules.collect weighs them: their share of the rule's points, full
    from limits watchlist_terminals_full on (tests/test_explain.py holds the two together)."""
    full = policy["limits"]["watchlist_terminals_full"]
    return int(row(policy["rules"], "watchlist_hit")[1]) * (min(terminals, full) * 100 // full) \
        // 100


def _cell(text):
    return str(text).replace("|", "\\|")


def _codes(policy, spec):
    """(code, rule, cause, points, subcause, flags, meaning) rows that `spec` selects."""
    table = policy["response_codes"]
    codes = [line.split("|")[0] for line in table.split("\n") if "|" in line]
    rows = [[code] + row(table, code) for code in codes]
    card = ("card_compromised", "card_data_error")
    if spec == "rc:any" or spec == "rc:host":
        return rows
    if spec == "rc:e":
        return [r for r in rows if "e" in r[5]]
    if spec == "rc:card" or spec == "rc:terminal-card":
        return [r for r in rows if r[2] in card]
    if spec == "rc:terminal-network":
        return [r for r in rows if r[2] == "network_fault"]
    raise ValueError(spec)


def _cuts(policy, spec):
    """How the evidence `spec` names reads in the discount table."""
    if not spec.startswith("rc:"):
        return spec
    listed = ", ".join(r[0] for r in _codes(policy, spec))
    terminal = ", ".join(policy["terminal_codes"])
    return {
        "rc:any": "every response code (%s)",
        "rc:host": "a response code from the host (%s)",
        "rc:e": "response codes flagged e (%s)",
        "rc:card": "response codes of card_compromised or card_data_error, from any source (%s)",
        "rc:terminal-card": "response codes of card_compromised or card_data_error that the "
                            "terminal made (source terminal; with no source, its own ARCs "
                            + terminal + ") (%s)",
        "rc:terminal-network": "response codes of network_fault that the terminal made (%s)",
    }[spec] % listed


def same_cause(policy=DEFAULT):
    """(discount, cause, least points the fact adds, most points the discount cuts) for each
    discount whose undermining fact is evidence for the cause it cuts."""
    out = []
    for name, adds in SAME_CAUSE.items():
        cause = row(policy["rules"], adds[0])[0]
        least = min(int(row(policy["rules"], rule)[1]) for rule in adds)
        kept = int(row(policy["discounts"], name)[0])
        cut = 0
        for spec in DISCOUNT_USE[name][1]:
            if spec.startswith("rc:"):
                points = [int(r[3]) for r in _codes(policy, spec) if r[2] == cause]
            else:
                found = row(policy["rules"], spec)
                points = [int(found[1])] if found[0] == cause else []
            for p in points:
                cut = max(cut, p - p * kept // 100)
        out.append((name, cause, least, cut))
    return out


def _table_rows(table):
    return [[line.split("|")[0]] + row(table, line.split("|")[0])
            for line in table.split("\n") if "|" in line]


def render(policy=DEFAULT):
    """The text of docs/RULES.md for `policy`."""
    texts = policy["texts"]
    out = [HEAD % {"version": policy["version"], "min_points": policy["min_points"]}]
    for name, where, what in SAFETY_RULES:
        op = row(texts, "alert:tamper" if name == "tamper_alert" else "operator:" + name)
        words = "%s / %s" % (op[0], op[1]) if op else ""
        out.append("| %s | `%s` | %s | %s |\n" % (name, where, _cell(what), _cell(words)))

    out.append("\n## Rules\n\nEach rule adds its points to one cause; `%s` and `%d` in a why are "
               "filled from the event.\n\n"
               "| rule | cause | points | subcause | why |\n|---|---|---|---|---|\n")
    for rule, cause, points, subcause in _table_rows(policy["rules"]):
        why = row(texts, "why:" + rule)[0]
        out.append("| %s | %s | %s | %s | %s |\n" % (rule, cause, points, subcause, _cell(why)))

    full = policy["limits"]["watchlist_terminals_full"]
    out.append("\nwatchlist_hit carries its points when the watchlist saw the card compromised at "
               "watchlist_terminals_full (%d) terminals or more, and that share at fewer (%s), "
               "before discounts.\n" % (full, ", ".join(
                   "%d at %d" % (watch_points(policy, n), n) for n in range(1, full))))

    out.append("\n## Response codes\n\nISO 8583 field 39 or the terminal's own ARC (the "
               "terminal's own: %s). An answer's evidence reads \"<source> answered <code>: "
               "<meaning>\".\n\n" % ", ".join(policy["terminal_codes"]))
    for flag, what in FLAGS:
        out.append("- flag **%s**: %s\n" % (flag, what))
    out.append("\n| code | rule | cause | points | subcause | flags | meaning |\n"
               "|---|---|---|---|---|---|---|\n")
    for r in _codes(policy, "rc:any"):
        out.append("| %s |\n" % " | ".join(_cell(c) for c in r))
    out.append("\nCodes that mean \"this kind of transaction is not allowed\" (%s) add rule "
               "wrong_txn_type when `operator.txn_type` is not a sale.\n"
               % ", ".join(policy["wrong_txn_codes"]))

    out.append("\n## Discounts\n\nWhat undermines what: the evidence keeps this share of its "
               "points, and its why gains the note.\n\n"
               "| discount | share kept | note | applies when | cuts |\n|---|---|---|---|---|\n")
    for name, kept in _table_rows(policy["discounts"]):
        when, cuts = DISCOUNT_USE[name]
        out.append("| %s | %s%% | %s | %s | %s |\n" % (
            name, kept, _cell(row(texts, "note:" + name)[0]), _cell(when),
            _cell("; ".join(_cuts(policy, spec) for spec in cuts))))

    out.append("\n## Discounts against their own cause\n\nWhere the undermining fact is itself "
               "evidence for the cause whose evidence it cuts, the rule it adds must outweigh "
               "the most the discount cuts (invariant 8).\n\n"
               "| discount | cause | least the fact adds | most the discount cuts |\n"
               "|---|---|---|---|\n")
    for name, cause, least, cut in same_cause(policy):
        out.append("| %s | %s | %d | %d |\n" % (name, cause, least, cut))

    out.append("\n## Actions\n\nBy subcause, else by cause; then the safety rules.\n\n"
               "| subcause or cause | action |\n|---|---|\n")
    for key, action in _table_rows(policy["actions"]):
        out.append("| %s | %s |\n" % (key, action))

    out.append("\n## Risk\n\nBy subcause, else by cause.\n\n"
               "| subcause or cause | funds | operational | legal |\n|---|---|---|---|\n")
    for key, funds, operational, legal in _table_rows(policy["risk"]):
        out.append("| %s | %s | %s | %s |\n" % (key, funds, operational, legal))

    out.append("\n## Limits\n\n| limit | value |\n|---|---|\n")
    for key in sorted(policy["limits"]):
        out.append("| %s | %d |\n" % (key, policy["limits"][key]))
    return "".join(out)
