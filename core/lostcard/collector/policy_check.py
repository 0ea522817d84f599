"""Checking a whole policy (see policy.py): every table, every row of its words, every cause
covered. Run where policies are made and shipped (the tests, the CLI's --policy, the collector),
not on a terminal, which only applies an acquirer's checked entries (lostcard.override).
"""

from ..override import check_code_entry, fail
from ..table import row
from ..vocab import ACTIONS, CAUSES, RULE_CAUSES

# The words of a decision's advice that only checking a policy reads, so here rather than in
# vocab.py, which every terminal loads: there, the remedies alone held ~1.1 KiB of heap.
REMEDIES = ("verify_card_info", "update_card_info", "notify_customer", "strengthen_security",
            "monitor_suspicious", "report_police", "contact_issuer", "check_network",
            "restart_device", "update_drivers", "professional_repair", "replace_device",
            "update_software", "train_operator", "follow_procedure", "correct_and_apologize")
LEVELS = ("low", "medium", "high")


def rows(table):
    """Yield every row as a list of fields, key first, in table order, one row in memory at a time.

    Blank lines and '#' comments (texts.txt has them) are skipped.
    """
    if hasattr(table, "text"):  # firmware's frozen words (lostcard/words.py, generated)
        table = str(table.text, "utf-8")
    elif not isinstance(table, str):  # a FileTable
        with open(table.path) as f:
            for line in f:
                if line.strip() and line[0] != "#":
                    yield line.rstrip("\n").split("|")
        return
    start = 1
    end = table.find("\n", start)
    while end > 0:
        if end > start and table[start] != "#":
            yield table[start:end].split("|")
        start = end + 1
        end = table.find("\n", start)


def check(policy):
    """Raise PolicyError unless `policy` is complete and consistent; return it."""
    try:
        return _check(policy)
    except (ValueError, IndexError, KeyError, TypeError) as exc:  # unreadable rows
        fail("malformed table (%s)" % exc)


def _check(policy):
    for r in rows(policy["response_codes"]):
        check_code_entry(r[0], [r[1], r[2], int(r[3]), r[4], r[5], r[6]])
        # a code meant to retain cards that is not flagged "p" would never retain one: say so
        # where the acquirer writes it, not at the counter (docs/RULES.md)
        action = row(policy["actions"], r[4]) or row(policy["actions"], r[2])
        if action is not None and action[0] == "retain_card" and "p" not in r[5]:
            fail("response code %s leads to retain_card but is not flagged p (pick up)" % r[0])
    texts = policy["texts"]
    for r in rows(policy["rules"]):
        if len(r) != 4 or r[1] not in RULE_CAUSES or not 0 <= int(r[2]) <= 100 or not r[3]:
            fail("rule %s is malformed" % r[0])
        if row(texts, "why:" + r[0]) is None:
            fail("rule %s has no explanation in the texts" % r[0])
    for r in rows(policy["discounts"]):
        if len(r) != 2 or not 0 <= int(r[1]) <= 100:
            fail("discount %s is malformed" % r[0])
        if row(texts, "note:" + r[0]) is None:
            fail("discount %s has no note in the texts" % r[0])
    for r in rows(policy["actions"]):
        if r[1] not in ACTIONS:
            fail("action for %s is unknown" % r[0])
    for r in rows(texts):
        kind = r[0][:r[0].find(":")]
        if kind == "remedies":
            for remedy in r[1].split(","):
                if remedy not in REMEDIES:
                    fail("remedy %s for %s is unknown" % (remedy, r[0]))
        elif kind == "operator" and (len(r) != 4 or row(texts, "cardholder:" + r[3]) is None):
            fail("%s is malformed or names no cardholder text" % r[0])
        elif kind == "alert" and len(r) != 3:
            fail("%s is malformed" % r[0])
        elif kind not in ("why", "note", "remedies", "operator", "cardholder", "alert"):
            fail("texts row %s is of no known kind" % r[0])
    for r in rows(policy["risk"]):
        if len(r) != 4 or r[1] not in LEVELS or r[2] not in LEVELS or r[3] not in LEVELS:
            fail("risk for %s is malformed" % r[0])
    if row(texts, "alert:tamper") is None:
        fail("texts have no alert:tamper row")
    for cause in CAUSES:
        for table, kind in (("actions", ""), ("risk", ""), ("texts", "remedies:"),
                            ("texts", "operator:")):
            if row(policy[table], kind + cause) is None:
                fail("cause %s has no %s%s row" % (cause, kind, table))
    return policy
