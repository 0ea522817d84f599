"""One vocabulary: every word on the wire is written once, in lostcard.vocab (the remedies and risk
levels in lostcard.collector.policy_check, their only reader; the record's numbered catalogs in lostcard.record).
A second copy could drift from the first: `policy_check.check` would pass a policy whose words
`record.build` then cannot store.
"""

import ast
import importlib
import pkgutil
from pathlib import Path

import lostcard
from lostcard import decision, record, vocab
from lostcard.collector import policy_check
from lostcard_cpython import paths

SOURCES = [p for root in (paths.CORE, paths.ROOT / "port_cpython", paths.PORT_MPY)
           for p in sorted(Path(root).rglob("*.py"))]
# the names each home may define; anywhere else, defining or repeating them is a copy
HOMES = {Path(vocab.__file__).resolve(): {"SOURCES", "ENTRY_MODES", "CVV_RESULTS", "CIDS",
                                          "NETWORK_STATES", "TXN_TYPES", "CAUSES", "RULE_CAUSES",
                                          "ACTIONS"},
         Path(policy_check.__file__).resolve(): {"REMEDIES", "LEVELS"},
         Path(record.__file__).resolve(): {"RULE_IDS", "SUBCAUSES", "BRANDS"}}


def _vocabularies():
    """{name: words} for every tuple of words in vocab, and the two that policy_check keeps."""
    found = {"REMEDIES": policy_check.REMEDIES, "LEVELS": policy_check.LEVELS}
    for name, value in vars(vocab).items():
        if name.isupper() and isinstance(value, tuple):
            found[name] = value
    return found


def _catalogs():
    return {name: getattr(record, name).split() for name in ("RULE_IDS", "SUBCAUSES", "BRANDS")}


def _runs(words, length):
    """Every `length` consecutive words of a vocabulary, as a copy of it would hold them."""
    return {tuple(words[i:i + length]) for i in range(len(words) - length + 1)}


def copies_in(source, own=()):
    """What in `source` repeats a vocabulary other than its `own`: a tuple or list of three or
    more of its words in its order, a text holding three catalog names in a row, or a definition
    of its name."""
    vocabularies = _vocabularies()
    owned = set()
    for name in own:
        owned |= _runs(vocabularies.get(name, ()), 3)
    runs = {run: name for name, words in vocabularies.items()
            for run in _runs(words, min(3, len(words))) if run not in owned}
    catalog_runs = {" ".join(run): name for name, words in _catalogs().items()
                    if name not in own for run in _runs(words, 3)}
    names = (set(vocabularies) | set(_catalogs())) - set(own)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List)) \
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            words = tuple(e.value for e in node.elts)
            for run in _runs(words, 3):
                if run in runs:
                    found.append("line %d: words of %s" % (node.lineno, runs[run]))
                    break
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.split())
            for run, name in catalog_runs.items():
                if run in text:
                    found.append("line %d: names of %s" % (node.lineno, name))
                    break
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in names:
                    found.append("line %d: defines %s" % (node.lineno, target.id))
    return found


def test_no_module_of_the_core_or_the_ports_repeats_a_vocabulary():
    for path in SOURCES:
        assert copies_in(path.read_text(), HOMES.get(path.resolve(), ())) == [], path


def test_the_scan_finds_a_copy_of_each_kind():
    assert sorted(copies_in('ACTIONS = ("retain_card", "return_card", "reenter_card")')) \
        == ["line 1: defines ACTIONS", "line 1: words of ACTIONS"]
    assert copies_in('x = ["low", "medium", "high"]') == ["line 1: words of LEVELS"]
    assert copies_in('OLD = (" other visa "\n "mastercard amex ")') == ["line 1: names of BRANDS"]
    assert copies_in('x = ("device_fault", "network_fault", "card_data_error")') == []  # no run
    assert copies_in('x = ("card_data_error", "card_compromised")') == []  # two words: too few


def test_every_module_that_names_a_vocabulary_holds_the_one_in_vocab():
    for info in pkgutil.walk_packages(lostcard.__path__, "lostcard."):
        module = importlib.import_module(info.name)
        for name, words in _vocabularies().items():
            if hasattr(module, name):
                assert getattr(module, name) is words, (info.name, name)


def test_the_rules_blame_every_cause_but_undetermined_and_ties_rank_them_all():
    assert vocab.RULE_CAUSES == vocab.CAUSES[:-1] and vocab.CAUSES[-1] == "undetermined"
    assert sorted(decision.TIE_ORDER) == sorted(vocab.RULE_CAUSES)


def test_no_vocabulary_repeats_a_word():
    for name, words in list(_vocabularies().items()) + list(_catalogs().items()):
        assert len(set(words)) == len(words), name
