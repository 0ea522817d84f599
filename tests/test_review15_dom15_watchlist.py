"""Review of issue 15 (dom15, payments domain): the acquirer's watchlist in decisions.

Each test calls lostcard.decision.classify(event, None, (watchlist version, terminals seen)) as
the terminal does (terminal.Terminal: the token is HMAC(token_key, PAN) only, so a hit is a hit on
the card number itself, whatever the expiry says).
"""

from lostcard.decision import classify

PAN = "4111111111111111"  # passes Luhn, 16 digits: the number is sound


def _event(**sections):
    event = {"id": "r15-dom", "response": {"code": None}, "terminal": {"network": "down"},
             "card": {"pan": PAN}}
    for name, fields in sections.items():
        event.setdefault(name, {}).update(fields)
    return event


def test_review15_dom15_mistyped_expiry_does_not_unlock_a_new_try_of_a_listed_pan():
    """The watchlist token is computed from the PAN alone. A keyed expiry typo (month 13) beside a
    sound, Luhn-valid PAN that is on the list at 3 terminals makes context keyed_wrong, which
    (a) discounts watchlist_hit to 14 points and (b) skips no_new_attempt_on_a_watchlisted_card:
    the decision is reenter_card, i.e. the cashier retypes the expiry and sends the listed card
    to the issuer again -- exactly the clone-approval try RULES.md invariant 9 forbids. The data
    that found the hit (the PAN) passed its checks; only the expiry did not."""
    event = _event(card={"entry_mode": "manual", "expiry": "2813"})
    d = classify(event, None, (3, 3))
    assert d["action"] not in ("retry_online", "reenter_card"), d
    hit = [e["points"] for e in d["evidence"] if e["rule"] == "watchlist_hit"]
    assert hit == [70], ("a sound PAN on the list keeps its full points", d["evidence"])


def test_review15_dom15_same_for_a_chip_read_card_with_an_unreadable_expiry():
    """Same defect with the host's 14 on a swiped card whose expiry reads 00: reenter_card."""
    event = _event(card={"entry_mode": "swipe", "expiry": "2800"},
                   response={"code": "14", "source": "host"}, terminal={"network": "up"})
    d = classify(event, None, (3, 5))
    assert d["action"] not in ("retry_online", "reenter_card"), d


def test_review15_dom15_watchlist_guard_does_not_hide_the_tamper_guard():
    """On a tampered terminal, a decision whose action would be a new try becomes service_terminal
    ("Tamper: card back, stop, report") -- which is also no new try of the card. With a watchlist
    hit the watchlist guard runs first (if/elif in decision._decision) and the tamper guard is
    skipped: the action becomes call_acquirer and the operator line no longer says to stop using
    the terminal (a possible skimmer), only the separate alert does. Both guards are satisfied
    by service_terminal; only one by call_acquirer."""
    event = _event(operator={"training_mode": True}, terminal={"tamper": True})
    without = classify(event, None, None)
    assert without["action"] == "service_terminal"  # as today, with no watchlist
    d = classify(event, None, (3, 3))
    assert d["alert"] is not None
    assert d["action"] == "service_terminal", (d["action"], d["messages"]["operator"])


def test_review15_dom15_the_watchlist_does_not_feed_itself():
    """A card listed at 2 terminals (46 points) declined "05 do not honour" by its issuer at a
    third terminal is decided card_compromised / watchlist on the watchlist's word alone (25 + 46
    points). The collector's watchlist (publish.watchlist -> report_analysis.compromised_cards)
    counts every card_compromised incident, so that echo becomes a third "sighting": the next
    version lists the card at 3 terminals, full points, and every later decline anywhere adds
    another. A false positive (or a card the issuer has since re-cleared) only ever grows, and
    nothing ages it out (no time window). Independent sightings only must count."""
    from lostcard_cpython import publish

    token = bytes(range(16))
    d = classify(_event(response={"code": "05", "source": "host", "stan_match": True},
                        terminal={"network": "up"}), None, (1, 2))
    assert (d["cause"], d["subcause"]) == ("card_compromised", "watchlist")  # the echo

    def incident(device, time, cause, subcause):
        return {"device": device, "time": time, "cause": cause, "subcause": subcause,
                "token": token, "last4": "1111", "brand": "visa", "opened": True}

    incidents = [incident("t-a", 1790000000, "card_compromised", "cloned_stripe"),
                 incident("t-b", 1790003600, "card_compromised", "cloned_stripe"),
                 incident("t-c", 1790007200, d["cause"], d["subcause"])]
    cards = publish.watchlist(incidents, 2)
    assert [c[3] for c in cards] == [2], ("terminals seen counted the watchlist's own echo",
                                          cards)


def test_review15_dom15_a_listed_card_tried_five_times_is_not_handed_back():
    """Five tries of a card listed at 2 terminals, declined offline by the terminal (Z1): the
    decision is operator_error / repeated_attempts, return_card ("Too many tries: stop,
    return"). Repeated tries of a card other terminals saw compromised is the card-testing
    pattern, and docs/DECISION.md says of a listed card "It is not return_card: handing the card
    back invites the same try at the next counter". The same event with the link down gives
    call_acquirer (the guard), so the action flips on an unrelated fact."""
    event = _event(response={"code": "Z1", "source": "terminal"}, terminal={"network": "up"},
                   operator={"attempts": 5})
    d = classify(event, None, (1, 2))
    assert d["action"] == "call_acquirer", (d["cause"], d["subcause"], d["action"])
