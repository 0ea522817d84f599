"""Checking a policy, and deriving a per-acquirer policy from the default (see policy.py).

Kept apart from policy.py so a terminal that runs the default policy never loads this code,
nor the vocabularies and table-editing tools that only checking needs.
"""

from .errors import PolicyError
from .table import row
from .vocab import ACTIONS, CAUSES, RULE_CAUSES

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
    if not isinstance(table, str):  # a FileTable
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


def build(rows_):
    """The table text for a list of rows (each a list of fields, key first)."""
    return "\n" + "".join("|".join(r) + "\n" for r in rows_)


def without(table, key):
    """The table with the row for `key` removed (unchanged if it has none)."""
    start = table.find("\n" + key + "|")
    if start < 0:
        return table
    return table[:start + 1] + table[table.find("\n", start + 1) + 1:]


def _fail(what):
    raise PolicyError("policy: " + what)


def _check_code_entry(code, entry):
    if not isinstance(code, str) or len(code) != 2 \
            or not ("0" <= code[0] <= "9" or "A" <= code[0] <= "Z") \
            or not ("0" <= code[1] <= "9" or "A" <= code[1] <= "Z"):
        _fail("response code %r must be two upper-case letters or digits" % (code,))
    if not isinstance(entry, list) or len(entry) != 6:
        _fail("response code %s: expected [rule, cause, points, subcause, flags, meaning]" % code)
    rule, cause, points, subcause, flags, meaning = entry
    for name, value in (("rule", rule), ("subcause", subcause), ("meaning", meaning)):
        if not isinstance(value, str) or not value or "|" in value or "\n" in value:
            _fail("response code %s: %s must be text without '|'" % (code, name))
    if cause not in RULE_CAUSES:
        _fail("response code %s: unknown cause %r" % (code, cause))
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 100:
        _fail("response code %s: points must be 0..100" % code)
    for flag in flags:  # e: says expired, p: pick up, a: the host's approval (policy.py)
        if flag not in "epa" or flags.count(flag) > 1:
            _fail("response code %s: flags must be letters of 'epa', each once" % code)


def check(policy):
    """Raise PolicyError unless `policy` is complete and consistent; return it."""
    try:
        return _check(policy)
    except (ValueError, IndexError, KeyError, TypeError) as exc:  # unreadable rows
        _fail("malformed table (%s)" % exc)


def _check(policy):
    for r in rows(policy["response_codes"]):
        _check_code_entry(r[0], [r[1], r[2], int(r[3]), r[4], r[5], r[6]])
    texts = policy["texts"]
    for r in rows(policy["rules"]):
        if len(r) != 4 or r[1] not in RULE_CAUSES or not 0 <= int(r[2]) <= 100 or not r[3]:
            _fail("rule %s is malformed" % r[0])
        if row(texts, "why:" + r[0]) is None:
            _fail("rule %s has no explanation in the texts" % r[0])
    for r in rows(policy["discounts"]):
        if len(r) != 2 or not 0 <= int(r[1]) <= 100:
            _fail("discount %s is malformed" % r[0])
        if row(texts, "note:" + r[0]) is None:
            _fail("discount %s has no note in the texts" % r[0])
    for r in rows(policy["actions"]):
        if r[1] not in ACTIONS:
            _fail("action for %s is unknown" % r[0])
    for r in rows(texts):
        kind = r[0][:r[0].find(":")]
        if kind == "remedies":
            for remedy in r[1].split(","):
                if remedy not in REMEDIES:
                    _fail("remedy %s for %s is unknown" % (remedy, r[0]))
        elif kind == "operator" and (len(r) != 4 or row(texts, "cardholder:" + r[3]) is None):
            _fail("%s is malformed or names no cardholder text" % r[0])
        elif kind == "alert" and len(r) != 3:
            _fail("%s is malformed" % r[0])
        elif kind not in ("why", "note", "remedies", "operator", "cardholder", "alert"):
            _fail("texts row %s is of no known kind" % r[0])
    for r in rows(policy["risk"]):
        if len(r) != 4 or r[1] not in LEVELS or r[2] not in LEVELS or r[3] not in LEVELS:
            _fail("risk for %s is malformed" % r[0])
    if row(texts, "alert:tamper") is None:
        _fail("texts have no alert:tamper row")
    for cause in CAUSES:
        for table, kind in (("actions", ""), ("risk", ""), ("texts", "remedies:"),
                            ("texts", "operator:")):
            if row(policy[table], kind + cause) is None:
                _fail("cause %s has no %s%s row" % (cause, kind, table))
    return policy


def with_overrides(base, overrides):
    """A new policy: `base` with an acquirer's response-code entries replaced, added or removed.

    overrides = {"name": "acquirer-x", "response_codes": {"42": [rule, cause, points, subcause,
    flags, meaning], "05": null}}. The result's version is "<base version>+<name>", so incidents
    say which map decided them.
    """
    if not isinstance(overrides, dict):
        _fail("overrides must be an object")
    name = overrides.get("name")
    if not isinstance(name, str) or not name or len(name) > 32:
        _fail("overrides need a name of 1..32 characters")
    codes = overrides.get("response_codes", {})
    if not isinstance(codes, dict):
        _fail("overrides.response_codes must be an object")
    for key in overrides:
        if key not in ("name", "response_codes"):
            _fail("overrides may only set name and response_codes, not %r" % key)
    table = base["response_codes"]
    added = []
    for code in sorted(codes):
        table = without(table, code)
        if codes[code] is not None:
            _check_code_entry(code, codes[code])
            added.append([code] + [str(field) for field in codes[code]])
    policy = dict(base)
    policy["response_codes"] = table + build(added)[1:]
    policy["version"] = base["version"] + "+" + name
    return check(policy)
