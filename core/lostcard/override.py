"""Deriving a per-acquirer policy from the default (see policy.py): an acquirer's file replaces,
adds or removes entries of the response-code map, each checked here.

Kept apart from policy.py so a terminal that runs the default policy never loads this code. The
whole-policy check (lostcard.collector.policy_check) runs where policies are made and shipped, not
on every terminal boot: the default policy is checked by the tests, and an override changes
nothing but the entries checked here.
"""

from .errors import PolicyError
from .vocab import RULE_CAUSES


def build(rows_):
    """The table text for a list of rows (each a list of fields, key first)."""
    return "\n" + "".join("|".join(r) + "\n" for r in rows_)


def without(table, key):
    """The table with the row for `key` removed (unchanged if it has none)."""
    start = table.find("\n" + key + "|")
    if start < 0:
        return table
    return table[:start + 1] + table[table.find("\n", start + 1) + 1:]


def fail(what):
    raise PolicyError("policy: " + what)


def check_code_entry(code, entry):
    if not isinstance(code, str) or len(code) != 2 \
            or not ("0" <= code[0] <= "9" or "A" <= code[0] <= "Z") \
            or not ("0" <= code[1] <= "9" or "A" <= code[1] <= "Z"):
        fail("response code %r must be two upper-case letters or digits" % (code,))
    if not isinstance(entry, list) or len(entry) != 6:
        fail("response code %s: expected [rule, cause, points, subcause, flags, meaning]" % code)
    rule, cause, points, subcause, flags, meaning = entry
    for name, value in (("rule", rule), ("subcause", subcause), ("meaning", meaning)):
        if not isinstance(value, str) or not value or "|" in value or "\n" in value:
            fail("response code %s: %s must be text without '|'" % (code, name))
    if cause not in RULE_CAUSES:
        fail("response code %s: unknown cause %r" % (code, cause))
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 100:
        fail("response code %s: points must be 0..100" % code)
    for flag in flags:  # e: expired, p: pick up, a: approval, n: never approve (policy.py)
        if flag not in "epan" or flags.count(flag) > 1:
            fail("response code %s: flags must be letters of 'epan', each once" % code)


def with_overrides(base, overrides):
    """A new policy: `base` with an acquirer's response-code entries replaced, added or removed.

    overrides = {"name": "acquirer-x", "response_codes": {"42": [rule, cause, points, subcause,
    flags, meaning], "05": null}}. The result's version is "<base version>+<name>", so incidents
    say which map decided them.
    """
    if not isinstance(overrides, dict):
        fail("overrides must be an object")
    name = overrides.get("name")
    if not isinstance(name, str) or not name or len(name) > 32:
        fail("overrides need a name of 1..32 characters")
    codes = overrides.get("response_codes", {})
    if not isinstance(codes, dict):
        fail("overrides.response_codes must be an object")
    for key in overrides:
        if key not in ("name", "response_codes"):
            fail("overrides may only set name and response_codes, not %r" % key)
    table = base["response_codes"]
    added = []
    for code in sorted(codes):
        table = without(table, code)
        if codes[code] is not None:
            check_code_entry(code, codes[code])
            added.append([code] + [str(field) for field in codes[code]])
    policy = dict(base)
    policy["response_codes"] = table + build(added)[1:]
    policy["version"] = base["version"] + "+" + name
    return policy
