"""What the acquirer publishes to its terminals (docs/SYNC.md "Updates"): the watchlist of card
tokens declined as compromised at several terminals (the report's analysis), and an acquirer
policy, each checked before it is published as the next version of its kind."""

import json

from lostcard import protocol
from lostcard.collector import policy_check, updates
from lostcard.errors import LostcardError, PolicyError
from lostcard.override import with_overrides
from lostcard.policy import DEFAULT

KIND_NAMES = {protocol.POLICY: "policy", protocol.WATCHLIST: "watchlist"}


class Refused(LostcardError):
    """A policy that must not reach a terminal; the reason says why."""


def watchlist(incidents, min_terminals):
    """The cards the watchlist holds: (card token, last 4, brand, terminals, last seen) of each
    card declined as compromised at `min_terminals` or more, most terminals first, then most
    recently seen, at most updates.MAX_ENTRIES (those that fit). A decline the watchlist alone
    made compromised (subcause watchlist) is not a sighting: counted, the list would feed on
    itself, one more terminal at each decline of a listed card."""
    from .report_analysis import compromised_cards

    cards = [(token, last4, brand, n, max(i["time"] or 0 for i in found) or None)
             for token, last4, brand, n, found in compromised_cards(
                 [i for i in incidents if i["opened"] and i["subcause"] != "watchlist"],
                 min_terminals)]
    cards.sort(key=lambda c: (-c[3], -(c[4] or 0), c[0]))
    return cards[:updates.MAX_ENTRIES]


def watchlist_body(cards):
    return updates.watchlist_body([(c[0], c[3]) for c in cards])


def policy_body(path):
    """The body a policy file publishes: its overrides, checked as a terminal will apply them
    (with_overrides on the default) and as a whole policy (policy_check), in compact JSON of at
    most updates.MAX_POLICY bytes. Refused with the reason; LostcardError for a file that
    cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(updates.MAX_POLICY * 16 + 1)
    except OSError as exc:
        raise LostcardError("policy file %s: %s" % (path, exc.strerror or exc)) from None
    if len(raw) > updates.MAX_POLICY * 16:  # read no further: no such file is a policy
        raise Refused("%s: a file of more than %d bytes, at most %d reach a terminal" % (
            path, updates.MAX_POLICY * 16, updates.MAX_POLICY))
    try:
        overrides = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:  # UnicodeDecodeError too
        raise Refused("%s is not JSON: %s" % (path, exc)) from None
    try:
        policy_check.check(with_overrides(DEFAULT, overrides))
    except PolicyError as exc:
        raise Refused("%s: %s" % (path, exc)) from None
    # what a terminal parses: compact, UTF-8, no byte-order mark
    body = json.dumps(overrides, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode("utf-8")
    if len(body) > updates.MAX_POLICY:
        raise Refused("%s: policy of %d bytes, at most %d reach a terminal" % (
            path, len(body), updates.MAX_POLICY))
    return body


def publish(store, kind, body):
    """(version, published): the next version of `kind` holding `body`, or (the newest, False)
    when `body` is what the newest holds already (nothing published: terminals would fetch
    the same again). A kind never published holds nothing (an empty watchlist)."""
    newest = store.newest_versions()[kind]
    if body == (store.published(kind, newest) if newest else b""):
        return newest, False
    return store.publish(kind, body), True


def status(store):
    """The updates as `collector stats`, `policy status` and the report show them: {"newest":
    {kind name: version}, "behind": {kind name: terminals}, "terminals": [{"terminal",
    "policy", "watchlist", "behind": [kind names], "refused": None or {"kind", "version",
    "reason", "at"}, "seen"}]} (times unix)."""
    newest = store.newest_versions()
    terminals = []
    for s in store.terminal_states():
        refused = None if s["refused_kind"] is None else {
            "kind": KIND_NAMES.get(s["refused_kind"]), "version": s["refused_version"],
            "reason": s["refused_reason"], "at": s["refused_at"]}
        terminals.append({"terminal": s["device"], "policy": s["policy"],
                          "watchlist": s["watchlist"],
                          "behind": [name for kind, name in KIND_NAMES.items()
                                     if s[name] < newest[kind]],
                          "refused": refused, "seen": s["seen"]})
    return {"newest": {name: newest[kind] for kind, name in KIND_NAMES.items()},
            "behind": store.behind_counts(), "terminals": terminals}
