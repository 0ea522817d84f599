"""The docs against the code: the tables of docs/EVENT.md, docs/DECISION.md and docs/RECORD.md are
parsed and compared with the constants they describe, and every module, name and path the docs
cite must exist. A doc that drifts from the code fails here.
"""

import ast
import os
import re

import pytest

from lostcard import decision, event, policy, record, vocab
from lostcard.collector import policy_check
from lostcard.decision import classify

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(ROOT, "docs", name) for name in sorted(os.listdir(os.path.join(ROOT, "docs")))
        if name.endswith(".md")] + [os.path.join(ROOT, "README.md")]
# where each package's sources live
PACKAGES = {"lostcard": "core/lostcard", "lostcard_cpython": "port_cpython/lostcard_cpython",
            "lostcard_mpy": "port_mpy/lostcard_mpy", "lostcard_tools": "port_mpy/tools/lostcard_tools"}
FILE = re.compile(r"\.(json|py|txt|cbor|md)$")  # `lostcard.json` is a file, not a module


def read(name):
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
        return f.read()


def section(text, heading):
    """The text under `## heading` up to the next heading of that level or above."""
    match = re.search(r"^## " + re.escape(heading) + r"[^\n]*\n(.*?)(?=^#{1,2} |\Z)", text,
                      re.M | re.S)
    assert match, "no section %r" % heading
    return match.group(1)


def table(text, heading):
    """The first table under `heading`: its rows as lists of cells, header and rule left out."""
    rows = [line.strip().strip("|").split("|") for line in section(text, heading).splitlines()
            if line.startswith("|")]
    assert len(rows) > 2, "no table under %r" % heading
    return [[cell.strip() for cell in row] for row in rows[2:]]


def ticks(cell):
    """The `quoted` words of a cell, in order."""
    return re.findall(r"`([^`]*)`", cell)


def plain(cell):
    return cell.strip("`")


def test_parsing_finds_a_drifted_table():
    doc = "## Causes\n| cause |\n|---|\n| `a` |\n| `b` |\n## Next\n"
    assert [plain(r[0]) for r in table(doc, "Causes")] == ["a", "b"]
    assert [plain(r[0]) for r in table(doc, "Causes")] != ["a", "c"]
    with pytest.raises(AssertionError):
        table(doc, "Actions")


# docs/EVENT.md

def event_rows():
    return table(read("EVENT.md"), "Fields")


def schema():
    """(dotted field name, flat name, kind, detail) for every field event.py reads, in order."""
    f = event.FIELDS
    return [((f[i] + "." if f[i] else "") + f[i + 1], event.NAMES[i // 4], f[i + 2], f[i + 3])
            for i in range(0, len(f), 4)]


def test_event_doc_lists_every_field_the_reader_accepts_in_schema_order():
    assert [plain(r[0]) for r in event_rows()] == [name for name, _, _, _ in schema()]


def _power_of_two(n):
    return "2^%d" % (n.bit_length() - 1)


def test_event_doc_gives_each_fields_type_values_and_limits():
    for (name, _, kind, detail), row in zip(schema(), event_rows()):
        _, type_, accepted = row[0], row[1], row[2]
        assert type_ == {"bool": "boolean", "count": "integer"}.get(kind, "string"), name
        if kind == "enum":
            assert ticks(accepted) == list(detail), name
        elif kind == "text":
            assert "at most %d characters" % detail in accepted, name
        elif kind == "count":
            assert "below " + _power_of_two(detail or event.MAX_COUNT) in accepted, name
        elif kind == "hex":
            assert "exactly %d hex digits" % detail in accepted, name
        elif kind == "digits":
            assert detail[0] == detail[1] and "exactly %d digits" % detail[0] in accepted, name
        elif kind == "pan":
            assert "up to %d digits" % detail in accepted, name
        elif kind == "bool":
            assert ticks(accepted) == ["true", "false"], name
        elif kind == "code":
            assert "two letters or digits" in accepted and "`null`" in accepted, name
        else:
            assert kind == "expiry" and "`YYMM`" in accepted and "`MM/YY`" in accepted, name


def test_event_doc_says_which_facts_the_record_keeps():
    for (name, flat, _, _), row in zip(schema(), event_rows()):
        kept = row[4]
        if flat == "service_code":
            flat = "chip_card"  # the record keeps only whether the card has a chip
        if flat in record.FACTS:
            assert kept.startswith("fact `%s`" % flat), name
        else:
            assert "fact" not in kept, name


# docs/DECISION.md

def decision_table(heading):
    return table(read("DECISION.md"), heading)


def test_decision_doc_lists_a_decisions_fields_in_order():
    made = classify({"id": "t-1", "response": {"code": "41", "source": "host"}})
    rows = {plain(r[0]): r[2] for r in decision_table("Fields")}
    assert list(rows) == list(made)
    assert rows["confidence"].startswith("0..%d:" % decision.MAX_CONFIDENCE)


def test_decision_doc_lists_the_causes_in_record_order():
    causes = [plain(r[0]) for r in decision_table("Causes")]
    assert causes == list(vocab.CAUSES)
    assert causes[:-1] == list(vocab.RULE_CAUSES) and causes[-1] == "undetermined"


def test_decision_doc_lists_actions_remedies_and_levels_in_code_order():
    actions = [plain(r[0]) for r in decision_table("Actions")]
    assert actions == list(vocab.ACTIONS) == list(vocab.ACTIONS)
    assert [plain(r[0]) for r in decision_table("Remedies")] == list(policy_check.REMEDIES)
    assert [plain(r[0]) for r in decision_table("Risk levels")] == list(policy_check.LEVELS)


def test_decision_doc_lists_the_subcauses_the_default_policy_names():
    named = {}
    for r in policy_check.rows(policy.DEFAULT["rules"]):
        named.setdefault(r[1], set()).add(r[3])
    for r in policy_check.rows(policy.DEFAULT["response_codes"]):
        named.setdefault(r[2], set()).add(r[4])
    named["undetermined"] = {"no_signal", "invalid_event"}
    documented = {plain(r[0]): set(ticks(r[1])) for r in decision_table("Subcauses")}
    assert documented == named
    assert set().union(*named.values()) == set(record.SUBCAUSES.split())


def test_decision_doc_lists_the_default_response_code_map():
    documented = [[r[0], r[1], plain(r[2]), plain(r[3]), r[4]]
                  for r in decision_table("Response codes (default policy)")]
    assert documented == [[r[0], r[6], r[2], r[4], r[3]]
                          for r in policy_check.rows(policy.DEFAULT["response_codes"])]


# docs/RECORD.md

def cddl(name):
    """The CDDL group `name = {...}` or `name = [...]` of RECORD.md, one line per entry."""
    text = read("RECORD.md")
    match = re.search(r"^" + name + r" = [\[{]\n(.*?)^[\]}]", text, re.M | re.S)
    assert match, "no CDDL rule " + name
    return match.group(1).splitlines()


def comment_list(line):
    """The comma-separated names after a CDDL line's `;`, remarks in parentheses left out."""
    return [re.sub(r"\(.*?\)", "", word).strip() for word in line.split(";", 1)[1].split(",")]


def rule_line(name):
    return re.search(r"^" + name + r" +=.*(?:\n +;.*)*", read("RECORD.md"), re.M).group(0)


def test_record_doc_map_keys_are_the_records_constants():
    keys = {}
    for line in cddl("incident"):
        match = re.match(r"\s*\??\s*(\d+) => .*; (K_\w+)", line)
        assert match, line
        keys[match.group(2)] = int(match.group(1))
    constants = {name: getattr(record, name) for name in dir(record) if name.startswith("K_")}
    assert keys == constants
    assert cddl("incident")[0].split(",")[0].strip() == "0 => %d" % record.VERSION
    assert read("RECORD.md").startswith("# Incident record, format version %d\n" % record.VERSION)


def _range_names(name):
    """The names a `name = 0..N ; a, b, ...` rule lists, checked against its range."""
    text = rule_line(name)
    top = int(re.search(r"= 0\.\.(\d+)", text).group(1))
    names = [w.strip() for w in ",".join(part.split(";", 1)[1] for part in text.splitlines())
             .split(",") if w.strip()]
    assert len(names) == top + 1, name
    return names


def test_record_doc_causes_and_actions_are_in_record_order():
    assert _range_names("cause") == list(vocab.CAUSES)
    assert _range_names("action") == list(vocab.ACTIONS)


def test_record_doc_facts_are_the_records_facts_and_enums():
    lines = [line for line in cddl("facts") if "?" in line]
    assert [re.match(r"\s*\? (\w+):", line).group(1) for line in lines] == list(record.FACTS)
    for line in lines:
        name = re.match(r"\s*\? (\w+):", line).group(1)
        if name in record.ENUMS:
            values = record.ENUMS[name]
            assert "0..%d" % (len(values) - 1) in line, name
            assert comment_list(line) == list(values), name


def test_record_doc_card_errors_and_id_limits_are_the_codes():
    card = cddl("card")
    assert comment_list(card[1])[0] == "brand: other"
    assert ["other"] + comment_list(card[1])[1:] == record.BRANDS.split()
    assert "bstr .size %d" % record.TOKEN_LEN in card[2]
    assert "[0:%d]" % record.TOKEN_LEN in card[2]
    incident = "\n".join(cddl("incident"))
    assert "[1*%d tstr]" % record.MAX_ERRORS in incident
    assert "tstr .size (1..%d)" % event.MAX_TEXT in incident
    assert "%d => 0..%d," % (record.K_CONFIDENCE, decision.MAX_CONFIDENCE) in incident


# every doc: the modules, names and paths it cites exist

def _defines(tree, name):
    """Whether a module or class body binds `name` at its top level."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return node
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name) and leaf.id == name:
                        return node
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return node
    return None


def _parse(path):
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read())


def resolves(ref):
    """Whether a dotted `package.module.Name.attr` names something in the sources."""
    parts = ref.split(".")
    if parts[0] not in PACKAGES:
        return True
    path = os.path.join(ROOT, PACKAGES[parts[0]])
    parts = parts[1:]
    while parts and (os.path.isdir(os.path.join(path, parts[0]))
                     or os.path.isfile(os.path.join(path, parts[0] + ".py"))):
        path = os.path.join(path, parts.pop(0))
    package = os.path.isdir(path)
    module = os.path.join(path, "__init__.py") if package else path + ".py"
    tree = _parse(module)
    for name in parts:
        node = _defines(tree, name)
        if node is None and package and _defines(tree, "__getattr__"):
            # a lazy package attribute: some module of the package defines it
            node = next((n for f in os.listdir(path) if f.endswith(".py")
                         for n in [_defines(_parse(os.path.join(path, f)), name)] if n), None)
        if node is None:
            return False
        tree, package = node, False
    return True


def test_resolving_catches_a_name_that_is_gone():
    assert resolves("lostcard.sealing.Sealer") and resolves("lostcard.collector.fleet.FleetKeys")
    assert resolves("lostcard_mpy.Terminal")
    assert not resolves("lostcard.record.seal")
    assert not resolves("lostcard.collector.fleet.FleetKeys.NO_SUCH")


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_docs_cite_only_names_and_paths_that_exist(doc):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    refs = set(re.findall(r"`(lostcard\w*(?:\.\w+)+)`", text))
    assert [ref for ref in sorted(refs) if not resolves(ref) and not FILE.search(ref)] == []
    paths = set(re.findall(r"(?<![\w/])((?:core|port_cpython|port_mpy|tests|docs|fixtures)/"
                           r"[\w./-]*\w)(?![\w*./-])", text))
    assert [p for p in sorted(paths) if not os.path.exists(os.path.join(ROOT, p))] == []
