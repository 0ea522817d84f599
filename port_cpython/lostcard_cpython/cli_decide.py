"""`lostcard classify|explain|rules-doc`: decisions from decline events, and how they came about."""

import sys


def _input(args):
    """The policy and the bytes of the input file (or stdin) of classify and explain."""
    from .acquirer import load_policy

    policy = load_policy(args.policy)
    if args.file in (None, "-"):
        return policy, sys.stdin.buffer.read()
    with open(args.file, "rb") as f:
        return policy, f.read()


def _classify(args):
    from .jsonl import classify_bytes

    policy, data = _input(args)
    return 1 if classify_bytes(data, sys.stdout, policy, args.pretty) else 0


def _explain(args):
    from .explain import explain_bytes

    policy, data = _input(args)
    return 1 if explain_bytes(data, sys.stdout, policy, args.format) else 0


def _rules_doc(args):
    from .rulesdoc import render

    sys.stdout.write(render())
    return 0


def add_parsers(sub):
    c = sub.add_parser("classify", help="classify decline events (JSON Lines) into decisions")
    c.add_argument("file", nargs="?", help="JSON Lines file, or - for standard input (default)")
    c.add_argument("--pretty", action="store_true", help="indented output for humans")
    c.add_argument("--policy", help="per-acquirer response-code overrides (JSON)")
    c.set_defaults(run=_classify)

    e = sub.add_parser("explain", help="how each decline event was decided: facts, evidence, "
                                       "discounts, safety rules")
    e.add_argument("file", nargs="?", help="JSON Lines file, or - for standard input (default)")
    e.add_argument("--format", choices=["text", "json"], default="text",
                   help="text for a person (default), or one JSON object per event")
    e.add_argument("--policy", help="per-acquirer response-code overrides (JSON)")
    e.set_defaults(run=_explain)

    rd = sub.add_parser("rules-doc", help="print docs/RULES.md: the safety invariants and every "
                                          "rule, code, discount, action and risk of the policy")
    rd.set_defaults(run=_rules_doc)
