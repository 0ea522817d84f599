"""`lostcard classify|explain|rules-doc`: decisions from decline events, and how they came about.

classify and explain are filters: each line is answered as it arrives, in bounded memory."""

import sys
from contextlib import contextmanager

from .cli_args import watch


@contextmanager
def _input(args):
    """The policy and the binary stream of the input file (or stdin) of classify and explain."""
    from .acquirer import load_policy

    policy = load_policy(args.policy)
    if args.file in (None, "-"):
        yield policy, sys.stdin.buffer
        return
    with open(args.file, "rb") as f:
        yield policy, f


def _summed_up(tally):
    """Exit 1 with one line on stderr if some lines were bad (each is answered in the output)."""
    summary = tally.summary()
    if summary is None:
        return 0
    sys.stderr.write("lostcard: %s\n" % summary)
    return 1


def _classify(args):
    from .jsonl import Tally, classify_stream

    tally = Tally()
    with _input(args) as (policy, stream):
        classify_stream(stream, sys.stdout, policy, args.pretty, args.format == "table", tally,
                        args.watch)
    return _summed_up(tally)


def _explain(args):
    from .explain import explain_stream
    from .jsonl import Tally

    tally = Tally()
    with _input(args) as (policy, stream):
        explain_stream(stream, sys.stdout, policy, args.format, tally, args.watch)
    return _summed_up(tally)


def _rules_doc(args):
    from .rulesdoc import render

    sys.stdout.write(render())
    return 0


def _reads_events(p, run):
    """What classify and explain share: the events file, the acquirer policy, what Ctrl-C keeps."""
    p.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for standard input")
    p.add_argument("--policy", help="per-acquirer response-code overrides (JSON file; default: "
                                    "the built-in policy)")
    p.add_argument("--watch", type=watch, metavar="VERSION:TERMINALS",
                   help="decide as a terminal whose watchlist VERSION holds every event's card, "
                        "seen compromised at TERMINALS terminals (1..255): for testing the "
                        "watchlist rule (docs/RULES.md); a terminal looks the card up itself")
    p.set_defaults(run=run, kept="the lines before the interrupt were answered")


def add_parsers(sub):
    c = sub.add_parser("classify", help="classify decline events (JSON Lines) into decisions",
                       description="One decision per input line, written as soon as the line is "
                                   "read. Exit 1 if a line was not valid JSON (the others are "
                                   "still decided), 2 on a bad policy file. docs/EVENT.md is the "
                                   "input, docs/DECISION.md the output; "
                                   "fixtures/declines-sample.jsonl is a sample.")
    _reads_events(c, _classify)
    c.add_argument("--format", choices=["json", "table"], default="json",
                   help="json: one decision per line; table: one row per decision, for a person")
    c.add_argument("--pretty", action="store_true", help="indented JSON for humans")

    e = sub.add_parser("explain", help="how each decline event was decided: facts, evidence, "
                                       "discounts, safety rules",
                       description="For each input line, how its decision came about: the facts "
                                   "read, the evidence and discounts per cause, the safety rules "
                                   "applied. Exit 1 if a line was not valid JSON (the others are "
                                   "still explained), 2 on a bad policy file. docs/EVENT.md is "
                                   "the input; fixtures/declines-sample.jsonl is a sample.")
    _reads_events(e, _explain)
    e.add_argument("--format", choices=["text", "json"], default="text",
                   help="text for a person, or one JSON object per event")

    rd = sub.add_parser("rules-doc", help="print docs/RULES.md: the safety invariants and every "
                                          "rule, code, discount, action and risk of the policy")
    rd.set_defaults(run=_rules_doc)
