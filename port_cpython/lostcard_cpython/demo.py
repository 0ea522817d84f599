"""`lostcard demo`: the labelled scenarios through the core, as a table an operator can read."""

from lostcard.decision import classify
from lostcard.policy import CAUSES

from . import scenarios as scenario_file

CAUSE_ORDER = CAUSES + ("undetermined",)


def _row(cells, widths):
    return "  ".join(str(c)[:w].ljust(w) for c, w in zip(cells, widths)).rstrip()


def run(out, path=None):
    """Print the table and totals; return the number of decisions that differ from their label."""
    items = scenario_file.load(path) if path else scenario_file.load()
    widths = (3, 34, 16, 22, 4, 16, 1, 3, 31)
    head = ("#", "scenario", "cause", "subcause", "conf", "action", "P", "ok", "operator sees")
    out.write(_row(head, widths) + "\n" + _row(["-" * w for w in widths], widths) + "\n")
    by_cause = {}
    by_action = {}
    offline = 0
    wrong = 0
    for n, item in enumerate(items, 1):
        d = classify(item["event"])
        expect = item["expect"]
        ok = d["cause"] == expect["cause"] and d["action"] == expect["action"] \
            and expect.get("subcause", d["subcause"]) == d["subcause"]
        wrong += not ok
        offline += d["offline"]
        seen, agreed = by_cause.get(d["cause"], (0, 0))
        by_cause[d["cause"]] = (seen + 1, agreed + ok)
        by_action[d["action"]] = by_action.get(d["action"], 0) + 1
        out.write(_row((n, item["name"], d["cause"], d["subcause"], d["confidence"], d["action"],
                        d["priority"], "ok" if ok else "NO", d["messages"]["operator"]["en"]),
                       widths) + "\n")
    out.write("\nDecided per cause (agreeing with the label / decided):\n")
    for cause in CAUSE_ORDER:
        seen, agreed = by_cause.get(cause, (0, 0))
        out.write("  %-18s %3d / %3d\n" % (cause, agreed, seen))
    out.write("Next actions: %s\n" % ", ".join(
        "%s %d" % (a, by_action[a]) for a in sorted(by_action)))
    out.write("Total: %d declines, %d decided offline, %d agree with their label, %d differ.\n"
              % (len(items), offline, len(items) - wrong, wrong))
    return wrong
