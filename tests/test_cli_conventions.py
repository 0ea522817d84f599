"""The `lostcard` command's conventions, as a newcomer meets them: --version, help with defaults,
logging, streaming filters, --format, keygen, the collector's startup line, the queue's budget,
the sample file, and the README's commands run as written against what the demo writes."""

import argparse
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from lostcard.errors import SyncError
from lostcard_cpython import cli, jsonl, paths, upload
from lostcard_cpython.errors import Failed
from lostcard_cpython.local_collector import free_port

CLI = [sys.executable, "-m", "lostcard_cpython.cli"]


def lostcard(*args, cwd=None, stdin=b""):
    return subprocess.run(CLI + list(args), cwd=cwd, input=stdin, capture_output=True,
                          timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A directory as the README expects it: lostcard-demo/ from a demo run, and the repo's
    examples/ and fixtures/ beside it."""
    root = tmp_path_factory.mktemp("newcomer")
    proc = lostcard("demo", cwd=root)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    for name in ("examples", "fixtures"):
        os.symlink(paths.ROOT / name, root / name)
    return root


def test_version():
    proc = lostcard("--version")
    assert proc.returncode == 0 and re.fullmatch(rb"lostcard \d+\.\d+\.\d+\n", proc.stdout)


def _parsers(p, name="lostcard"):
    yield name, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _parsers(child, name + " " + child_name)


def test_every_option_has_help_and_its_default_is_shown():
    missing, unshown = [], []
    for name, p in _parsers(cli.parser()):
        help_text = " ".join(p.format_help().split())
        for action in p._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append("%s %s" % (name, action.dest))
            worth = action.default not in (None, False, argparse.SUPPRESS) and not action.required
            if worth and "(default: %s)" % action.default not in help_text:
                unshown.append("%s %s" % (name, action.dest))
    assert missing == [] and unshown == []


def test_cause_lists_its_choices():
    text = " ".join(lostcard("collector", "incidents", "--help").stdout.decode().split())
    assert "card_compromised" in text and "operator_error" in text and "undetermined" in text


def test_classify_answers_each_line_before_the_input_ends():
    proc = subprocess.Popen(CLI + ["classify"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        for n in range(3):
            proc.stdin.write(b'{"id": "e%d", "response": {"code": "41", "source": "host"}}\n' % n)
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["id"] == "e%d" % n  # stdin still open
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_explain_answers_each_line_before_the_input_ends():
    proc = subprocess.Popen(CLI + ["explain", "--format", "json"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b'{"id": "x", "response": {"code": "41", "source": "host"}}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["decision"]["id"] == "x"
    finally:
        proc.kill()
        proc.wait()


class Lines(io.RawIOBase):
    """A stream that fails the test if read past `allowed` lines: proves an answer came first."""

    def __init__(self, lines, allowed):
        self.lines, self.allowed, self.given = list(lines), allowed, 0

    def readable(self):
        return True

    def readline(self, limit=-1):
        assert self.given < self.allowed, "read ahead of the answers"
        self.given += 1
        return self.lines.pop(0) if self.lines else b""


def test_the_reader_holds_one_line_at_a_time_and_a_huge_line_is_an_error():
    events = jsonl._events(Lines([b'{"id": "a"}\n', b'{"id": "b"}\n'], allowed=1))
    assert next(events)[1] == {"id": "a"}  # only one line read so far
    huge = io.BytesIO(b'{"id": "' + b"x" * (jsonl.MAX_LINE + 10) + b'"}\n{"id": "c"}\n')
    got = list(jsonl._events(huge))
    assert got[0][0] == 1 and got[0][2].startswith("line longer than")
    assert got[1] == (2, {"id": "c"}, None)


def test_a_pretty_object_then_more_lines():
    text = json.dumps({"id": "p", "response": {"code": "41"}}, indent=2) + '\n{"id": "q"}\n'
    got = list(jsonl._events(io.BytesIO(text.encode())))
    assert [(n, e["id"]) for n, e, _ in got] == [(1, "p"), (7, "q")]


def test_classify_table_format():
    proc = lostcard("classify", "--format", "table", str(paths.FIXTURES / "declines-sample.jsonl"))
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0 and lines[0].split()[:3] == ["line", "cause", "subcause"]
    assert len(lines) == 13 and "retain_card" in lines[1]


def test_the_sample_file_is_read_as_is_and_covers_every_cause():
    proc = lostcard("classify", str(paths.FIXTURES / "declines-sample.jsonl"))
    assert proc.returncode == 0 and proc.stderr == b""
    causes = {json.loads(line)["cause"] for line in proc.stdout.splitlines()}
    assert causes == {"card_data_error", "card_compromised", "network_fault", "device_fault",
                      "operator_error", "undetermined"}


def test_keygen_writes_hex_for_its_owner_only(tmp_path):
    out = tmp_path / "fleet.secret"
    proc = lostcard("keygen", "--out", str(out))
    assert proc.returncode == 0
    assert re.fullmatch(r"[0-9a-f]{64}\n", out.read_text())
    assert out.stat().st_mode & 0o777 == 0o600
    again = lostcard("keygen", "--out", str(out))
    assert again.returncode == 2 and b"not overwritten" in again.stderr


def test_a_raw_secret_only_with_the_flag(tmp_path, demo):
    raw = tmp_path / "raw.secret"
    raw.write_bytes(bytes.fromhex((demo / "lostcard-demo" / "fleet.secret").read_text().strip()))
    sealed = lostcard("queue", "export", "--dir", "lostcard-demo/T-DEMO-03/queue",
                      cwd=demo).stdout
    refused = lostcard("inspect", "--fleet-secret-file", str(raw), stdin=sealed)
    assert refused.returncode == 2 and b"--raw-secret" in refused.stderr
    opened = lostcard("inspect", "--fleet-secret-file", str(raw), "--raw-secret", stdin=sealed)
    assert opened.returncode == 0 and json.loads(opened.stdout)["device"] == "T-DEMO-03"


def test_queue_status_shows_the_budget_of_the_terminals_config(demo, tmp_path):
    proc = lostcard("queue", "status", "--dir", "lostcard-demo/T-DEMO-03/queue", cwd=demo)
    status = json.loads(proc.stdout)
    config = json.loads((demo / "lostcard-demo" / "T-DEMO-03" / "lostcard.json").read_text())
    assert status["budget_bytes"] == config["budget_bytes"] != 65536
    assert status["free_budget"] == config["budget_bytes"] - status["bytes"]
    assert status["budget_from"].endswith("lostcard.json") and status["records"] == 4


def test_queue_list_and_collector_incidents_in_both_formats(demo):
    as_json = lostcard("queue", "list", "--dir", "lostcard-demo/T-DEMO-03/queue", "--format",
                       "json", cwd=demo)
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(rows) == 4 and {"lane", "seq", "time", "bytes"} == set(rows[0])
    table = lostcard("collector", "incidents", "--db", "lostcard-demo/collector.db", "--format",
                     "table", "--device", "T-DEMO-01", cwd=demo).stdout.decode().splitlines()
    assert table[0].split()[:3] == ["device", "seq", "time"] and len(table) == 35


def test_the_collector_logs_one_line_at_start_and_an_access_log_on_request(tmp_path, demo):
    port = free_port()
    proc = subprocess.Popen(CLI + ["collector", "serve", "--db", str(tmp_path / "c.db"),
                                   "--fleet-secret-file", "lostcard-demo/fleet.secret",
                                   "--port", str(port), "--access-log"],
                            cwd=demo, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        first = proc.stderr.readline().decode()
        assert "listening on http://127.0.0.1:%d" % port in first
        assert "database %s" % (tmp_path / "c.db") in first and "SQLite" in first
        import httpx

        assert httpx.get("http://127.0.0.1:%d/v1/health" % port).status_code == 200
        assert '"GET /v1/health HTTP/1.1" 200' in proc.stderr.readline().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1].decode()
    assert proc.returncode == 130 and "Traceback" not in rest
    assert rest.strip().endswith("lostcard: interrupted; every acknowledged incident is in the "
                                 "database")


class Answer:
    """A transport whose next answer the test sets."""

    status = None

    def post(self, path, body):
        return self.status, b""


class FakeUploader:
    """Outcomes in turn: a count acknowledged, or (HTTP status or None, SyncError words)."""

    def __init__(self, answer, transport, outcomes):
        self.answer, self.transport, self.outcomes = answer, transport, list(outcomes)

    def step(self):
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, int):
            return outcome
        status, error = outcome
        if status is not None:  # None: the network failed before any answer
            self.answer.status = status
            self.transport.post("/v1/batch", b"")
        raise SyncError(error)


def _run(outcomes, max_failures=8, give_up_s=100.0):
    """upload.run on fakes, the jitter at its largest; (records sent, the waits)."""
    answer = Answer()
    transport = upload.StatusTransport(answer)
    waits, clock = [], [0.0]

    def sleep(s):
        waits.append(s)
        clock[0] += s

    sent = upload.run(FakeUploader(answer, transport, outcomes), transport, sleep,
                      lambda a, b: b, lambda: clock[0], max_failures, give_up_s)
    return sent, waits


def test_sync_retries_what_may_pass_and_stops_at_once_on_what_cannot():
    # 503 and 429 are retried with backoff, then the batch goes through
    sent, waits = _run([(503, "collector answered 503"), (429, "collector answered 429"), 5, 0])
    assert sent == 5 and waits == [1.0, 2.0]
    for status in (301, 400, 404, 413):  # a refused request: no retry, no wait
        with pytest.raises(Failed, match="answered %d" % status):
            _run([(status, "collector answered %d" % status)])
    with pytest.raises(Failed, match="fleet secret differs from this terminal's provisioning"):
        _run([(200, "acknowledgement did not verify: nothing forgotten")])
    # the same words without an answer of 200 are not the collector's: retried
    assert _run([(None, "acknowledgement did not verify"), 1, 0])[0] == 1


def test_sync_gives_up_after_max_failures_or_the_time_bound():
    network = [(None, "network: ConnectError")] * 20
    with pytest.raises(Failed, match="after 3 failed attempts"):
        _run(network, max_failures=3)
    # waits of 1, 2 and 4 s end at 7 s; the next (8 s) would end past 10: stop there
    with pytest.raises(Failed, match="after 4 failed attempts"):
        _run(network, give_up_s=10)


def _readme_commands():
    text = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    using = text[text.index("## Using it"):text.index("On a device, the payment")]
    block = using[using.index("```sh") + 5:using.index("```", using.index("```sh") + 5)]
    return [line for line in block.replace("\\\n", " ").splitlines()
            if line.startswith(".venv/bin/lostcard")]


def test_the_readme_commands_run_as_written_on_what_the_demo_wrote(demo, tmp_path):
    demo = shutil.copytree(demo, tmp_path / "copy", symlinks=True)  # sync empties a queue
    port = free_port()
    done, server = [], None
    try:
        for line in _readme_commands():
            words = shlex.split(line.replace(".venv/bin/lostcard", "lostcard", 1))
            if words[1] == "bench" or "|" in line:
                continue  # bench: tests of their own
            line = line.replace(":8080", ":%d" % port).replace("--port 8080", "--port %d" % port)
            command = line.replace(".venv/bin/lostcard", " ".join(map(shlex.quote, CLI)), 1)
            if words[1:3] == ["collector", "serve"]:
                server = subprocess.Popen("exec " + command, shell=True, cwd=demo,
                                          stderr=subprocess.PIPE)
                assert b"listening on" in server.stderr.readline()
                continue
            proc = subprocess.run(command, shell=True, cwd=demo, capture_output=True,
                                  timeout=300, stdin=subprocess.DEVNULL)
            # the report's alert (the demo's tampered terminal) exits 1 by design, still written
            alerted = words[1:3] == ["collector", "report"] and b"with alerts" in proc.stderr
            assert proc.returncode == (1 if alerted else 0), (line, proc.stderr.decode())
            done.append(words[1:3])
            if words[1] == "cose":  # the sample opens to its vector's plaintext
                assert proc.stdout == b"This is the content.".hex().encode() + b"\n"
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    assert ["sync", "-v"] in done and ["inspect", "--fleet-secret-file"] in done
    assert ["cose", "open"] in done
    # the README's paths are the demo's
    for path in re.findall(r"lostcard-demo/[\w./-]*\w", " ".join(_readme_commands())):
        assert (demo / path).exists(), path


def test_bench_without_the_test_extras_says_how_to_get_them(monkeypatch, capsys):
    from lostcard_cpython import bench

    def missing(*args):
        raise ModuleNotFoundError("No module named 'pycose'", name="pycose")

    monkeypatch.setattr(bench, "run", missing)
    assert cli.main(["bench", "records"]) == 2
    assert capsys.readouterr().err == ("lostcard: bench needs the [test] extras (no module "
                                       "pycose): pip install -e '.[test]'\n")


@pytest.mark.parametrize("quiet", [[], ["-q"], ["--log-level", "warning"], ["--log-level", "error"]])
def test_success_lines_are_info_and_quiet_silences_them(tmp_path, quiet):
    secret = tmp_path / "fleet.secret"
    keygen = lostcard(*quiet, "keygen", "--out", str(secret))
    provision = lostcard("provision", "--fleet-secret-file", str(secret), "--device-id", "T-1",
                         "--out", str(tmp_path / "p.cbor"), *quiet)
    assert keygen.returncode == 0 and provision.returncode == 0
    if quiet:
        assert keygen.stderr == b"" and provision.stderr == b""
    else:
        assert keygen.stderr.startswith(b"fleet secret written to %s " % bytes(secret))
        assert provision.stderr.startswith(b"provisioning file for T-1 written to ")


def test_collector_incidents_since_takes_a_date_as_the_report_does(demo):
    every = lostcard("collector", "incidents", "--db", "lostcard-demo/collector.db", cwd=demo)
    times = sorted(json.loads(line)["time"] for line in every.stdout.splitlines())
    day = time.strftime("%Y-%m-%d", time.gmtime(times[-1]))
    later = time.strftime("%Y-%m-%d", time.gmtime(times[-1] + 86400))
    for since, count in ((day, sum(t >= times[-1] - times[-1] % 86400 for t in times)),
                         (later, 0)):
        proc = lostcard("collector", "incidents", "--db", "lostcard-demo/collector.db",
                        "--since", since, cwd=demo)
        assert proc.returncode == 0 and len(proc.stdout.splitlines()) == count, since


IMPORT_INTERRUPTED = """
import sys
import time

class CtrlC:  # Ctrl-C while lostcard's own modules load, before main() could run
    def find_spec(self, name, path=None, target=None):
        if name.startswith(("lostcard.", "lostcard_cpython.cli_")):
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
from lostcard_cpython.cli import main
sys.exit(main(["classify"]))
"""


def test_ctrl_c_while_the_command_loads_is_one_line():
    proc = subprocess.run([sys.executable, "-c", IMPORT_INTERRUPTED], capture_output=True,
                          timeout=60)
    assert proc.returncode == 130 and proc.stderr == b"lostcard: interrupted\n", proc.stderr


def test_write_new_without_link_creates_the_file_exclusively(tmp_path, monkeypatch):
    import errno

    from lostcard_cpython import atomic

    def refused(src, dst):
        raise PermissionError(errno.EPERM, "Operation not permitted")  # vfat, SMB

    monkeypatch.setattr(os, "link", refused)
    target = tmp_path / "fleet.secret"
    atomic.write_new(str(target), b"secret\n", 0o600)
    assert target.read_bytes() == b"secret\n" and target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError, match="not overwritten"):
        atomic.write_new(str(target), b"other\n")
    assert target.read_bytes() == b"secret\n" and os.listdir(tmp_path) == ["fleet.secret"]


def test_explain_help_says_what_it_does_and_its_exit_codes():
    text = " ".join(lostcard("explain", "--help").stdout.decode().split())
    assert "how its decision came about" in text and "Exit 1 if a line was not valid JSON" in text
