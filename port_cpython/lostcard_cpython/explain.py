"""`lostcard explain`: for each decline event, how the decision came about, line by line.

The weighing is the core's (`lostcard.decision.decide` with a trace); this module only reads the
trace back: the facts read, each piece of evidence with its points and what undermined it, the
points per cause, the winner and the runner-up, the causes the safety rules kept from winning, the
safety rules that changed the action, and the decision itself. Text for a person, or `--format
json` for a program: the same account either way. The safety rules are named as in docs/RULES.md.
"""

from lostcard.decision import TIE_ORDER, classify, decide, lookup
from lostcard.event import FIELDS, NAMES, read_event
from lostcard.table import row

from .jsonl import Tally, _events, dumps
from .rulesdoc import SAFETY_RULES, watch_points

# a fact's flat name (lostcard.event.NAMES) -> its place in the event, as docs/EVENT.md writes it
DOTTED = {NAMES[i // 4]: (FIELDS[i] + "." if FIELDS[i] else "") + FIELDS[i + 1]
          for i in range(0, len(FIELDS), 4)}

# why a cause could not win (decision._weigh), by the rule's name in docs/RULES.md
PICKUP_OUTWEIGHS_OPERATOR = "pickup_outweighs_operator"
ISSUERS_WORD_DECIDES = "issuers_word_decides"
TRAINING_IS_OPERATOR = "training_is_operator"
WHY_EXCLUDED = {name: what for name, where, what in SAFETY_RULES}


def _facts(facts):
    """The facts read, by their place in the event; unknown ones (None) left out."""
    shown = {}
    for name in NAMES:
        value = facts.get(name)
        if name == "no_answer":
            if value:  # `"code": null`: the terminal says no answer came
                shown["response.code"] = None
        elif value is not None:
            shown[DOTTED[name]] = value
    return shown


def _base_points(policy, facts, rule, watch):
    """The points `rule` carries before any discount."""
    if facts["code"] is not None:
        entry = row(policy["response_codes"], facts["code"])
        if entry is not None and entry[0] == rule:
            return int(entry[2])
    found = row(policy["rules"], rule)
    if found is None:
        return None
    if rule == "watchlist_hit":  # its share for the terminals seen
        return watch_points(policy, watch[1])
    return int(found[1])


def _evidence(policy, facts, items, watch):
    out = []
    for rule, cause, points, subcause, why, discounts in items:
        cuts = []
        for name in discounts:
            cuts.append({"name": name, "kept_percent": int(row(policy["discounts"], name)[0]),
                         "note": row(policy["texts"], "note:" + name)[0]})
        out.append({"rule": rule, "cause": cause, "points": points,
                    "points_before_discounts": _base_points(policy, facts, rule, watch),
                    "subcause": subcause, "why": why, "discounts": cuts})
    return out


def _ranking(scores):
    """Causes with points, strongest first; ties in decision.TIE_ORDER, as the weighing breaks
    them."""
    return sorted(scores, key=lambda c: (-scores[c], TIE_ORDER.index(c)
                                          if c in TIE_ORDER else len(TIE_ORDER)))


def account(event, policy, watch=None):
    """The explanation of one event as data (what `--format json` prints); `watch` as for
    classify."""
    trace = {}
    try:
        decision = decide(event, policy, trace, watch)
    except Exception:  # classify's last line of defence gives the decision; nothing to trace
        decision = classify(event, policy, watch)
        trace = {}
    facts = trace.get("facts")
    if facts is None:  # a malformed event: no evidence was weighed, but its facts were read
        facts = read_event(event)[0]
    scores = trace.get("scores", {})
    ranking = _ranking(scores)
    context = trace.get("context") or {}
    excluded = []
    for cause in trace.get("excluded", ()):
        if cause in scores:  # a cause with no evidence lost nothing
                excluded.append({"cause": cause, "points": scores[cause],
                                 "by": ISSUERS_WORD_DECIDES if context.get("issuer_pickup")
                                 else PICKUP_OUTWEIGHS_OPERATOR})
    if context.get("unheard"):
        for cause in ranking:
            if cause != "operator_error":
                excluded.append({"cause": cause, "points": scores[cause],
                                 "by": TRAINING_IS_OPERATOR})
    for item in excluded:
        item["why"] = WHY_EXCLUDED[item["by"]]
    winner = decision["cause"]
    runner_up = None
    for cause in ranking:
        if cause != winner:
            runner_up = {"cause": cause, "points": scores[cause],
                         "excluded": any(x["cause"] == cause for x in excluded)}
            break
    guards = []
    # the policy's action before any safety rule, as the decision looked it up
    planned = lookup(policy["actions"], "", decision["subcause"], decision["cause"])[0] \
        if trace.get("guards") else decision["action"]
    for name in trace.get("guards", ()):
        op = row(policy["texts"], "operator:" + name)
        guards.append({"rule": name, "action_before": planned, "action": decision["action"],
                       "operator": {"zh": op[0], "en": op[1]}})
    return {
        "id": decision["id"],
        "facts": _facts(facts),
        # the terminal's own fact beside the event's: where its watchlist put the card
        "watchlist": None if watch is None else {"version": watch[0], "terminals": watch[1]},
        "evidence": _evidence(policy, facts, trace.get("items", ()), watch),
        "scores": {cause: scores[cause] for cause in ranking},
        "min_points": policy["min_points"],
        "winner": {"cause": winner, "points": scores.get(winner, 0)},
        "runner_up": runner_up,
        "excluded": excluded,
        "guards": guards,
        "decision": decision,
    }


def _value(value):
    if value is None:
        return "null (no answer)"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def render(number, acc):
    """The account `acc` of the event on input line `number`, as text for a person."""
    d = acc["decision"]
    lines = ["event %d%s" % (number, " (id %s)" % d["id"] if d["id"] is not None else "")]
    facts = acc["facts"]
    lines.append("  facts read:" + ("" if facts else " none"))
    for name in facts:
        lines.append("    %s = %s" % (name, _value(facts[name])))
    watch = acc["watchlist"]
    if watch is not None:
        lines.append("  on the acquirer's watchlist: version %d, seen compromised at %d "
                     "terminals" % (watch["version"], watch["terminals"]))
    if d["errors"]:
        lines.append("  malformed, not weighed:")
        for error in d["errors"]:
            lines.append("    " + error)
    if acc["evidence"]:
        lines.append("  evidence (rule, cause, points):")
    for e in acc["evidence"]:
        lines.append("    %+4d %-17s %s: %s" % (e["points"], e["cause"], e["rule"],
                                                e["why"].split("; discounted, ")[0]))
        if e["discounts"]:
            cuts = ", ".join("%s keeps %d%% (%s)" % (c["name"], c["kept_percent"], c["note"])
                             for c in e["discounts"])
            lines.append("         undermined: %s -> %d by %s" % (
                e["points_before_discounts"], e["points"], cuts))
    if acc["scores"]:
        lines.append("  points per cause: " + ", ".join(
            "%s %d" % (c, p) for c, p in acc["scores"].items()))
    w, r = acc["winner"], acc["runner_up"]
    if w["cause"] == "undetermined" and not d["errors"]:
        lines.append("  winner: undetermined (no cause that may win reaches %d points)"
                     % acc["min_points"])
    elif w["cause"] != "undetermined":
        lines.append("  winner: %s (%d points)" % (w["cause"], w["points"]))
    if r is not None:
        lines.append("  %s: %s (%d points%s)" % (
            "best cause" if w["cause"] == "undetermined" else "runner-up", r["cause"],
            r["points"], ", excluded" if r["excluded"] else ""))
    for x in acc["excluded"]:
        lines.append("  excluded from winning: %s (%d points), by %s: %s" % (
            x["cause"], x["points"], x["by"], x["why"]))
    for g in acc["guards"]:
        lines.append("  safety rule %s: %s -> %s" % (g["rule"], g["action_before"], g["action"]))
    lines.append("  decision: %s / %s, confidence %d, action %s" % (
        d["cause"], d["subcause"], d["confidence"], d["action"]))
    m = d["messages"]
    lines.append("  operator:   %s | %s" % (m["operator"]["zh"], m["operator"]["en"]))
    lines.append("  cardholder: %s | %s" % (m["cardholder"]["zh"], m["cardholder"]["en"]))
    if d["alert"] is not None:
        lines.append("  ALERT: %s | %s" % (d["alert"]["zh"], d["alert"]["en"]))
    return "\n".join(lines)


def explain_stream(stream, out, policy, fmt="text", tally=None, watch=None):
    """Write an account (or an error) per event line of the binary `stream` to `out`, each
    flushed as it is done; return the bad-line count. `tally`, if given, counts the lines;
    `watch`, as for classify, goes with every event."""
    tally = tally or Tally()
    for number, event, error in _events(stream):
        between = "\n" if tally.lines and fmt == "text" else ""  # a blank line between accounts
        tally.count(number, error)
        if error is not None:
            text = dumps({"error": error, "line": number}) if fmt == "json" \
                else "line %d: not decided: %s" % (number, error)
        elif fmt == "json":
            text = dumps(dict(line=number, **account(event, policy, watch)))
        else:
            text = render(number, account(event, policy, watch))
        out.write(between + text + "\n")
        out.flush()
    return tally.bad
