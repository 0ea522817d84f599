"""docs/RULES.md is the generator's output for the default policy, and the generator's own data
(which evidence each discount cuts, the safety rules) names only what the policy and core have."""

import copy
import os
import re
import subprocess
import sys

from lostcard import decision
from lostcard.policy import DEFAULT
from lostcard.table import row
from lostcard_cpython import rulesdoc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES_MD = os.path.join(ROOT, "docs", "RULES.md")


def names(table):
    return [line.split("|")[0] for line in table.split("\n") if "|" in line]


def test_rules_md_is_the_generators_output():
    with open(RULES_MD, encoding="utf-8") as f:
        written = f.read()
    assert written == rulesdoc.render(), "docs/RULES.md is stale: run `lostcard rules-doc > " \
                                         "docs/RULES.md`"


def test_a_changed_policy_changes_the_doc():
    # what makes the test above fail when the policy moves and the doc does not
    policy = copy.copy(DEFAULT)
    policy["discounts"] = DEFAULT["discounts"].replace("\nunfit_terminal|20\n", "\nunfit_terminal|25\n")
    assert "| unfit_terminal | 25% |" in rulesdoc.render(policy)
    assert "| unfit_terminal | 20% |" in rulesdoc.render()
    policy = copy.copy(DEFAULT)
    policy["rules"] = DEFAULT["rules"].replace("\ntamper|device_fault|85|",
                                               "\ntamper|device_fault|90|")
    assert rulesdoc.render(policy) != rulesdoc.render()


def test_cli_prints_the_doc():
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "rules-doc"],
                          capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert proc.returncode == 0 and proc.stdout == rulesdoc.render()


def test_every_rule_code_discount_action_and_risk_row_is_in_the_doc():
    text = rulesdoc.render()
    for rule in names(DEFAULT["rules"]):
        cause, points, subcause = row(DEFAULT["rules"], rule)
        assert "| %s | %s | %s | %s |" % (rule, cause, points, subcause) in text, rule
    for code in names(DEFAULT["response_codes"]):
        assert "| %s | %s |" % (code, " | ".join(row(DEFAULT["response_codes"], code))) in text
    for name in names(DEFAULT["discounts"]):
        assert "| %s | %s%% |" % (name, row(DEFAULT["discounts"], name)[0]) in text, name
    for key in names(DEFAULT["actions"]):
        assert "| %s | %s |" % (key, row(DEFAULT["actions"], key)[0]) in text, key
    for key in names(DEFAULT["risk"]):
        assert "| %s | %s |" % (key, " | ".join(row(DEFAULT["risk"], key))) in text, key


def test_the_discount_map_covers_exactly_the_policys_discounts_and_names_real_rules():
    assert sorted(rulesdoc.DISCOUNT_USE) == sorted(names(DEFAULT["discounts"]))
    rules = set(names(DEFAULT["rules"]))
    for name, (when, cuts) in rulesdoc.DISCOUNT_USE.items():
        for spec in cuts:
            assert spec in rules or rulesdoc._codes(DEFAULT, spec), (name, spec)
    for name, adds in rulesdoc.SAME_CAUSE.items():
        assert name in rulesdoc.DISCOUNT_USE and set(adds) <= rules


def test_a_discount_never_cuts_its_own_cause_more_than_its_fact_adds():
    # invariant 7's condition on the weights; a policy that breaks it is caught
    for name, cause, least, cut in rulesdoc.same_cause():
        assert least >= cut, (name, cause, least, cut)
    weak = copy.copy(DEFAULT)
    weak["rules"] = DEFAULT["rules"].replace("\nstale_answer|network_fault|80|",
                                             "\nstale_answer|network_fault|50|")
    assert any(least < cut for _, _, least, cut in rulesdoc.same_cause(weak))


def test_the_safety_rules_named_are_the_cores():
    with open(decision.__file__, encoding="utf-8") as f:
        source = f.read()
    for name, where, what in rulesdoc.SAFETY_RULES:
        assert hasattr(decision, where.rsplit(".", 1)[1]), where
    for guard in re.findall(r'applied\.append\("(\w+)"\)', source):
        assert guard in [n for n, _, _ in rulesdoc.SAFETY_RULES], guard
        assert row(DEFAULT["texts"], "operator:" + guard) is not None, guard


def test_the_invariants_name_only_discounts_and_safety_rules_that_exist():
    head = rulesdoc.HEAD.split("## Safety invariants")[1]
    kept_by = " ".join(re.findall(r"Kept by:(.*?)(?:\n\d+\.|\n\n|$)", head, re.S))
    known = set(names(DEFAULT["discounts"])) | {n for n, _, _ in rulesdoc.SAFETY_RULES} \
        | set(names(DEFAULT["rules"]))
    cited = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", kept_by))
    assert cited and cited <= known, cited - known
    assert len(re.findall(r"^\d+\. ", head, re.M)) == 9
