"""Issue-13 newcomer review (R13C): what an acquirer's operator meets following README.md, kept as
failing tests until fixed. Each runs the `lostcard` command as a user would, in a subprocess.
"""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys

from lostcard_cpython.fleet_secret import fingerprint, read

QUEUE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "queue-ee06986")
# ee06986's collector database, as its `collector serve` left it (sqlite_master of its demo)
EE06986_SCHEMA = """
CREATE TABLE incidents (
    device TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER, cause TEXT NOT NULL,
    subcause TEXT NOT NULL, action TEXT NOT NULL, priority INTEGER NOT NULL, token BLOB,
    last4 TEXT, policy TEXT NOT NULL, received INTEGER NOT NULL, sealed BLOB NOT NULL,
    PRIMARY KEY (device, seq));
CREATE INDEX incidents_cause ON incidents (cause, time);
CREATE TABLE quarantine (
    device TEXT NOT NULL, digest BLOB NOT NULL, reason TEXT NOT NULL, received INTEGER NOT NULL,
    sealed BLOB NOT NULL, PRIMARY KEY (device, digest));
CREATE TABLE gaps (
    device TEXT PRIMARY KEY, evicted_1 INTEGER, evicted_2 INTEGER, evicted_3 INTEGER,
    corrupt INTEGER, reported INTEGER NOT NULL);
CREATE TABLE anchors (device TEXT PRIMARY KEY, epoch INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def lostcard(*args, cwd, timeout=60):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def one_line(proc):
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lostcard: "), err
    return lines[0]


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_collector_serve_upgrades_a_database_of_the_previous_release(tmp_path):
    """README/SYNC: an older database is upgraded by `collector serve`; stats says "run
    `lostcard collector serve` on it once to upgrade it". Base cb03b15: serve refuses it with that
    very line (its fleet check opens the database read-only first): no way forward."""
    assert lostcard("keygen", "--out", "fleet.secret", cwd=tmp_path).returncode == 0
    db = str(tmp_path / "collector.db")
    with sqlite3.connect(db) as con:
        con.executescript(EE06986_SCHEMA)
        con.execute("INSERT INTO meta VALUES ('fleet_fingerprint', ?)",
                    (fingerprint(read(str(tmp_path / "fleet.secret"))),))
    con.close()
    proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve",
                             "--db", "collector.db", "--fleet-secret-file", "fleet.secret",
                             "--host", "127.0.0.1", "--port", str(closed_port())],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        first = proc.stderr.readline().decode()
    finally:
        proc.terminate()
        proc.wait(30)
    assert "listening" in first, first


def test_raw_secret_refuses_a_hex_secret_file(tmp_path):
    """`--raw-secret` on the file `lostcard keygen` wrote reads its 65 ASCII bytes as another
    secret: the provisioned terminal then gets 403 from its collector for ever. The README says
    the hex/raw split is there "so that a typo is refused"; the reverse typo is not."""
    assert lostcard("keygen", "--out", "fleet.secret", cwd=tmp_path).returncode == 0
    proc = lostcard("provision", "--fleet-secret-file", "fleet.secret", "--raw-secret",
                    "--device-id", "T-0001", "--out", "prov.cbor", cwd=tmp_path)
    line = one_line(proc)
    assert proc.returncode == 2, line
    assert not os.path.exists(tmp_path / "prov.cbor")


def test_sync_refuses_a_ca_with_an_http_url(tmp_path):
    """`--ca ca.pem --url http://...`: the user asked for a verified collector and gets plain
    http, silently (base: synced in clear, exit 0). Bad usage: one line, exit 2, before any
    request (here: a closed port, so the base retries and ends in "network: ConnectError")."""
    from tls_ca import make

    ca = make(tmp_path)["ca"]
    queue = tmp_path / "queue"
    shutil.copytree(QUEUE, queue)
    proc = lostcard("sync", "--dir", str(queue), "--url", "http://127.0.0.1:%d" % closed_port(),
                    "--ca", ca, "--now", "--give-up-after", "1", cwd=tmp_path)
    line = one_line(proc)
    assert proc.returncode == 2, line
    assert "https" in line, line


def _serve(tmp_path, *tls):
    """`lostcard collector serve` in a subprocess (no terminal, stdin closed); its first line."""
    assert lostcard("keygen", "--out", "fleet.secret", cwd=tmp_path).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve",
                             "--db", "collector.db", "--fleet-secret-file", "fleet.secret",
                             "--host", "127.0.0.1", "--port", str(closed_port()), *tls],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    return proc, proc.stderr.readline().decode()


def test_serve_refuses_an_encrypted_key_in_one_line(tmp_path):
    """README: "its unencrypted key". An encrypted one (as `openssl ec -aes128` writes) makes
    OpenSSL ask "Enter PEM pass phrase:" on the terminal, twice, then "Invalid argument"; under
    systemd, no terminal. Expected: one line naming the key as encrypted, exit 2, no prompt."""
    from cryptography.hazmat.primitives import serialization

    from lostcard_cpython.tls_collector import certificate, new_key

    key = new_key()
    (tmp_path / "cert.pem").write_bytes(
        certificate("localhost", key, host="localhost").public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"secret")))
    proc, first = _serve(tmp_path, "--tls-cert", "cert.pem", "--tls-key", "key.pem")
    try:
        rest = proc.communicate(timeout=30)[1].decode()
    finally:
        proc.kill()
    assert proc.returncode == 2 and not rest and "encrypted" in first, (first + rest)
    assert not os.path.exists(tmp_path / "collector.db")


def test_sync_to_an_https_collector_with_an_http_url_says_so_at_once(tmp_path):
    """`--url http://...` for a collector serving https (the README's `serve --tls-cert`): base
    retries for --give-up-after and ends "network: RemoteProtocolError" (plain http gets no
    answer from a TLS port), which names no remedy. The reverse mistake already says "does the
    collector serve https at --url?"; this one should stop at once and point at https://."""
    from tls_ca import make

    certs = make(tmp_path)
    proc, first = _serve(tmp_path, "--tls-cert", certs["good"], "--tls-key", certs["good_key"])
    try:
        assert "listening on https://127.0.0.1:" in first, first
        port = first.split("listening on https://127.0.0.1:")[1].split(",")[0]
        shutil.copytree(QUEUE, tmp_path / "queue")
        sync = lostcard("sync", "--dir", "queue", "--url", "http://localhost:" + port, "--now",
                        "--max-failures", "3", "--give-up-after", "30", cwd=tmp_path)
    finally:
        proc.terminate()
        proc.wait(30)
    line = one_line(sync)
    assert sync.returncode == 1 and "https" in line, line


def test_a_retry_after_past_give_up_after_is_named(tmp_path):
    """A collector (or a proxy before it) answering 429 with Retry-After: 300: base stops at once
    with "the collector stayed busy (429) for 0 s", which reads as a bug. Expected: the line says
    it was asked to wait 300 s, past --give-up-after, so the user knows to run again later."""
    import http.server
    import threading

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(429)
            self.send_header("Retry-After", "300")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        shutil.copytree(QUEUE, tmp_path / "queue")
        sync = lostcard("sync", "--dir", "queue", "--now", "--url",
                        "http://127.0.0.1:%d" % server.server_address[1], cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    line = one_line(sync)
    assert sync.returncode == 1 and "300" in line, line


def test_serve_says_its_certificate_has_expired(tmp_path):
    """README's certificate is valid 825 days. A collector (re)started with an expired one (or
    with ca.pem, the CA's own) starts as if all were well, its one line "listening on https://..."
    naming nothing about the certificate, and every terminal then refuses it. Expected before or
    in that line: the certificate's names and validity, and that it has expired."""
    from tls_ca import make

    certs = make(tmp_path)
    proc, first = _serve(tmp_path, "--tls-cert", certs["expired"],
                         "--tls-key", certs["expired_key"])
    lines = [first]
    try:
        while "listening" not in lines[-1] and lines[-1]:
            lines.append(proc.stderr.readline().decode())
    finally:
        proc.terminate()
        proc.wait(30)
    assert "expired" in "".join(lines), lines
