"""The `lostcard` command as a user runs it: a real subprocess of the installed entry point."""

import json
import subprocess
import sys

from lostcard_cpython import paths

LOST = '{"id": "a", "response": {"code": "41", "source": "host", "stan_match": true}}'
Z3 = '{"id": "b", "response": {"code": "Z3", "source": "terminal"}, "terminal": {"network": "down"}}'


def lostcard(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=600)


def test_classify_writes_one_decision_per_line_in_order():
    proc = lostcard("classify", "-", stdin=LOST + "\n" + Z3 + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]
    assert json.loads(lines[0])["cause"] == "card_compromised"
    assert json.loads(lines[1])["cause"] == "network_fault"
    assert lines[0].startswith('{"id":"a","cause":"card_compromised",')  # compact, in field order


def test_invalid_json_lines_are_reported_in_place_and_the_run_goes_on():
    proc = lostcard("classify", stdin=LOST + "\n{not json\n\n" + Z3 + "\n")
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["id"] == "a"
    assert out[1]["line"] == 2 and out[1]["error"].startswith("invalid JSON")
    assert out[2]["id"] == "b"


def test_malformed_events_are_decisions_not_errors():
    proc = lostcard("classify", stdin='{"response": {"code": 41}}\n[1, 2]\n')
    assert proc.returncode == 0
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["cause"] for d in out] == ["undetermined", "undetermined"]
    assert out[0]["errors"] == ["response.code: expected a string"]


def test_a_single_pretty_printed_object_is_one_event():
    event = json.dumps(json.loads(LOST), indent=2)
    proc = lostcard("classify", "--pretty", stdin=event)
    assert proc.returncode == 0
    d = json.loads(proc.stdout)
    assert d["action"] == "retain_card"
    assert "\n  " in proc.stdout


def test_output_is_byte_identical_between_runs():
    path = str(paths.SCENARIOS)
    events = "".join(json.dumps(json.loads(l)["event"], ensure_ascii=False) + "\n"
                     for l in open(path, encoding="utf-8"))
    first = lostcard("classify", stdin=events)
    second = lostcard("classify", stdin=events)
    assert first.returncode == 0
    assert first.stdout == second.stdout
    assert len(first.stdout.splitlines()) == len(events.splitlines())
    assert "挂失卡" in first.stdout  # Chinese texts stay readable, not \\u-escaped


def test_acquirer_policy_file_remaps_a_code():
    policy = str(paths.FIXTURES / "policies" / "acquirer-42-stolen.json")
    event = '{"response": {"code": "42", "source": "host", "stan_match": true}}'
    plain = json.loads(lostcard("classify", stdin=event).stdout)
    mapped = json.loads(lostcard("classify", "--policy", policy, stdin=event).stdout)
    assert plain["cause"] == "undetermined"
    assert mapped["cause"] == "card_compromised" and mapped["action"] == "retain_card"
    assert mapped["policy"].endswith("+acq-42-stolen")


def test_a_broken_policy_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "response_codes": {"42": ["r", "nonsense", 5, "s", "", "m"]}}')
    proc = lostcard("classify", "--policy", str(bad), stdin=LOST)
    assert proc.returncode == 2
    assert "unknown cause" in proc.stderr and proc.stdout == ""


def test_input_that_is_not_utf8_or_too_deep_is_an_error_line_not_a_crash():
    data = (LOST + "\n").encode() + b'{"id":"\xff"}\n' + b"[" * 100000 + b"]" * 100000 + \
        b"\n\xef\xbb\xbf" + Z3.encode() + b"\r\n"
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "classify"], input=data,
                          capture_output=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert out[0]["id"] == "a" and out[1]["line"] == 2 and "UTF-8" in out[1]["error"]
    assert out[2]["line"] == 3 and "too deep" in out[2]["error"]
    assert out[3]["line"] == 4 and "JSON" in out[3]["error"]  # a BOM mid-stream is junk


def test_line_separators_inside_json_strings_do_not_split_lines():
    proc = lostcard("classify", stdin='{"id": "a\u2028b\u0085c", "response": {"code": "41"}}\n')
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["id"] == "a\u2028b\u0085c"


def test_lone_surrogates_are_refused_by_the_core_not_crashing_the_output():
    proc = lostcard("classify", stdin='{"id": "\\ud800", "response": {"code": "41"}}\n')
    assert proc.returncode == 0
    d = json.loads(proc.stdout)
    assert d["cause"] == "undetermined" and d["errors"] == ["id: invalid character"]


def test_bench_classify_prints_both_interpreters_side_by_side():
    proc = lostcard("bench", "classify", "--runs", "3")
    assert proc.returncode == 0, proc.stderr
    assert "CPython" in proc.stdout and "MicroPython" in proc.stdout and "ratio" in proc.stdout
    assert "heap allocated per decision, max (B)" in proc.stdout
    assert "peak heap of the costliest decision (B)" in proc.stdout
