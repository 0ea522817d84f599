"""`lostcard explain`: the account of a decision, read back from the core's trace, as text and as
JSON; input handled as `lostcard classify` handles it."""

import io
import json
import subprocess
import sys

from lostcard.decision import classify
from lostcard.policy import DEFAULT
from lostcard_cpython import paths
from lostcard_cpython.explain import account, explain_stream

LOST = {"id": "a", "response": {"code": "41", "source": "host", "stan_match": True}}
APPROVAL_CROSSED = {"response": {"code": "00", "source": "host", "stan_match": False}}
TRAINING = {"id": "t", "response": {"code": "43", "source": "host", "stan_match": True},
            "operator": {"training_mode": True, "attempts": 3}}
TAMPERED = {"id": "k", "response": {"code": "41", "source": "terminal"},
            "terminal": {"tamper": True, "network": "down"}}
# operator evidence (120 points) against the issuer's word (90): the pick-up code still wins
OPERATOR_VS_PICKUP = {"id": "p", "response": {"code": "41", "source": "host", "stan_match": True},
                      "operator": {"attempts": 6, "forced_fallback": True}}


def lostcard(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=600)


def line(event):
    return json.dumps(event) + "\n"


def test_the_account_is_the_decisions_own_evidence_and_points():
    for event in (LOST, APPROVAL_CROSSED, TRAINING, TAMPERED, OPERATOR_VS_PICKUP):
        acc = account(event, DEFAULT)
        decision = classify(event)
        assert acc["decision"] == decision
        assert [{k: e[k] for k in ("rule", "cause", "points", "why")} for e in acc["evidence"]] \
            == decision["evidence"]
        sums = {}
        for e in acc["evidence"]:
            sums[e["cause"]] = sums.get(e["cause"], 0) + e["points"]
        assert acc["scores"] == sums
        assert list(acc["scores"].values()) == sorted(acc["scores"].values(), reverse=True)


def test_facts_read_are_shown_by_their_place_in_the_event_and_unknown_ones_left_out():
    acc = account(TAMPERED, DEFAULT)
    assert acc["facts"] == {"id": "k", "response.code": "41", "response.source": "terminal",
                            "terminal.network": "down", "terminal.tamper": True}
    no_answer = account({"response": {"code": None}}, DEFAULT)
    assert no_answer["facts"] == {"response.code": None}


def test_a_discount_names_itself_its_share_and_the_points_before_it():
    acc = account(TAMPERED, DEFAULT)
    lost = next(e for e in acc["evidence"] if e["rule"] == "rc_lost")
    assert lost["points_before_discounts"] == 90 and lost["points"] == 18
    assert lost["discounts"] == [{"name": "unfit_terminal", "kept_percent": 20,
                                  "note": "the terminal is unfit to judge (tamper, "
                                          "configuration, firmware or clock)"}]
    down = next(e for e in acc["evidence"] if e["rule"] == "link_down")
    assert [d["name"] for d in down["discounts"]] == ["device_explains_offline"]
    assert (down["points_before_discounts"], down["points"]) == (55, 16)


def test_winner_runner_up_and_the_operator_evidence_a_pickup_code_outweighs():
    acc = account(OPERATOR_VS_PICKUP, DEFAULT)
    assert acc["winner"] == {"cause": "card_compromised", "points": 90}
    assert acc["runner_up"] == {"cause": "operator_error", "points": 120, "excluded": True}
    assert [(x["cause"], x["points"], x["by"]) for x in acc["excluded"]] == \
        [("operator_error", 120, "issuers_word_decides")]
    assert acc["decision"]["action"] == "retain_card" and acc["guards"] == []


def test_training_shows_every_other_cause_excluded_and_the_issuers_word_discounted():
    acc = account(TRAINING, DEFAULT)
    assert acc["winner"]["cause"] == "operator_error"
    assert [(x["cause"], x["by"]) for x in acc["excluded"]] == \
        [("card_compromised", "training_is_operator")]
    stolen = next(e for e in acc["evidence"] if e["rule"] == "rc_stolen")
    assert [(d["name"], d["kept_percent"]) for d in stolen["discounts"]] == \
        [("training_no_issuer", 10)]


def test_a_safety_rule_that_changed_the_action_is_shown_with_the_action_it_overruled():
    acc = account(APPROVAL_CROSSED, DEFAULT)
    assert [(g["rule"], g["action_before"], g["action"]) for g in acc["guards"]] == \
        [("no_retry_after_an_approval", "retry_online", "call_acquirer")]
    # a pick-up code neither from the issuer nor from the terminal's own list: no retention
    acc = account({"response": {"code": "41", "source": "card"}}, DEFAULT)
    assert [(g["rule"], g["action_before"], g["action"]) for g in acc["guards"]] == \
        [("retain_only_on_the_issuers_word", "retain_card", "call_acquirer")]
    assert account(LOST, DEFAULT)["guards"] == []


def test_text_account_reads_line_by_line():
    out = io.StringIO()
    assert explain_stream(io.BytesIO((line(TAMPERED) + line(APPROVAL_CROSSED)).encode()), out,
                          DEFAULT) == 0
    text = out.getvalue()
    first, second = text.split("\n\n")
    assert first.startswith("event 1 (id k)\n")
    assert "    terminal.tamper = true\n" in first
    assert "+85 device_fault      tamper: tamper sensor triggered" in first
    assert "undermined: 90 -> 18 by unfit_terminal keeps 20% (the terminal is unfit to judge (tamper, configuration, firmware or clock))" in first
    assert "  winner: device_fault (85 points)\n" in first
    assert "  runner-up: card_compromised (18 points)\n" in first
    assert "  ALERT: 终端疑被篡改：停用并上报 | Tamper suspected: stop, report" in first
    assert second.startswith("event 2\n")
    assert "  safety rule no_retry_after_an_approval: retry_online -> call_acquirer\n" in second
    assert "action call_acquirer" in second and "ALERT" not in second
    assert "  operator:   勿重试：请致电收单行 | Do not retry: call acquirer\n" in second


def test_cli_json_gives_one_account_per_line_and_a_bad_line_like_classify():
    events = line(LOST) + "{not json\n\n" + line(TRAINING) + "[1, 2]\n"
    proc = lostcard("explain", "--format", "json", stdin=events)
    # the bad line is answered in the output, and summed up on stderr (issue 16)
    assert proc.returncode == 1 and \
        proc.stderr == "lostcard: 1 of 4 lines were not valid JSON (first: line 2)\n"
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r.get("line") for r in rows] == [1, 2, 4, 5]
    assert rows[1] == {"error": rows[1]["error"], "line": 2}
    assert rows[1]["error"].startswith("invalid JSON")
    assert rows[0]["decision"] == classify(LOST) and rows[0]["winner"]["cause"] == \
        "card_compromised"
    assert rows[2]["decision"]["cause"] == "operator_error"
    assert rows[3]["decision"]["errors"] == ["event: expected an object"]
    assert rows[3]["evidence"] == [] and rows[3]["scores"] == {}


def test_cli_reads_a_file_or_stdin_and_text_is_the_default(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(line(LOST) + line(TAMPERED), encoding="utf-8")
    from_file = lostcard("explain", str(events))
    from_stdin = lostcard("explain", "-", stdin=events.read_text(encoding="utf-8"))
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_stdin.stdout
    assert from_file.stdout.startswith("event 1 (id a)\n") and "\nevent 2 (id k)\n" in \
        from_file.stdout


def test_cli_policy_like_classify_and_a_bad_policy_file_is_a_clear_error(tmp_path):
    policy = str(paths.FIXTURES / "policies" / "acquirer-42-stolen.json")
    event = line({"response": {"code": "42", "source": "host"}})
    acc = json.loads(lostcard("explain", "--format", "json", "--policy", policy,
                              stdin=event).stdout)
    assert acc["decision"]["policy"].endswith("+acq-42-stolen")
    assert acc["evidence"][0]["rule"] == "rc_stolen"
    assert acc["evidence"][0]["points_before_discounts"] == 95
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "response_codes": {"42": ["r", "nonsense", 5, "s", "", "m"]}}')
    proc = lostcard("explain", "--policy", str(bad), stdin=event)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "unknown cause" in proc.stderr and "Traceback" not in proc.stderr


# a card on the acquirer's watchlist, link down, no answer: docs/DECISION.md's case
WATCHED = {"id": "w", "response": {"code": None}, "terminal": {"network": "down"},
           "card": {"pan": "4111111111111111", "entry_mode": "chip"}}


def test_a_watchlist_hit_is_explained_with_its_version_terminals_and_points():
    from lostcard_cpython.rulesdoc import watch_points

    acc = account(WATCHED, DEFAULT, (7, 2))
    assert acc["watchlist"] == {"version": 7, "terminals": 2}
    hit = [e for e in acc["evidence"] if e["rule"] == "watchlist_hit"]
    assert hit == [{"rule": "watchlist_hit", "cause": "card_compromised", "points": 46,
                    "points_before_discounts": 46, "subcause": "watchlist", "discounts": [],
                    "why": "card on the acquirer's watchlist (version 7), seen compromised at 2 "
                           "terminals"}]
    # network_fault (link down, 55) wins, but the listed card is not retried: the guard says so
    assert acc["decision"]["cause"] == "network_fault"
    assert acc["guards"] == [{"rule": "no_new_attempt_on_a_watchlisted_card",
                              "action_before": "retry_online", "action": "call_acquirer",
                              "operator": {"zh": "名单可疑卡：勿再试，请致电收单行",
                                           "en": "On watchlist: call acquirer"}}]
    # the points before discounts the doc and explain state are the core's, at every count
    for terminals in range(1, 256):
        for pan, kept in (("4111111111111111", 100), ("4111111111111112", 20)):
            event = dict(WATCHED, card={"pan": pan})
            got = [e for e in account(event, DEFAULT, (1, terminals))["evidence"]
                   if e["rule"] == "watchlist_hit"]
            assert got[0]["points_before_discounts"] == watch_points(DEFAULT, terminals)
            assert got[0]["points"] == watch_points(DEFAULT, terminals) * kept // 100
    assert account(WATCHED, DEFAULT)["watchlist"] is None


def test_classify_and_explain_take_a_watchlist_hit():
    classified = lostcard("classify", "--watch", "3:4", stdin=line(WATCHED))
    assert classified.returncode == 0, classified.stderr
    decision = json.loads(classified.stdout)
    assert decision == classify(WATCHED, None, (3, 4))
    assert (decision["cause"], decision["subcause"], decision["action"]) \
        == ("card_compromised", "watchlist", "call_acquirer")
    assert decision["evidence"][0]["why"] == \
        "card on the acquirer's watchlist (version 3), seen compromised at 4 terminals"
    text = lostcard("explain", "--watch", "3:4", stdin=line(WATCHED)).stdout
    assert "on the acquirer's watchlist: version 3, seen compromised at 4 terminals" in text
    assert "+70 card_compromised  watchlist_hit" in text
    shown = json.loads(lostcard("explain", "--format", "json", "--watch", "3:4",
                                stdin=line(WATCHED)).stdout)
    assert shown["watchlist"] == {"version": 3, "terminals": 4}
    # without --watch, the same event is a network fault to retry
    assert json.loads(lostcard("classify", stdin=line(WATCHED)).stdout)["action"] \
        == "retry_online"
