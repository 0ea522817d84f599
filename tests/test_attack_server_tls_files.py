"""Attack (an operator's mistakes, found at start or never): `collector serve --tls-cert
--tls-key` checks that the files are PEM and that the key matches, but
- an expired certificate (or one not yet valid) is served: the collector says it listens on
  https, and every terminal then fails its handshake "certificate verify failed", told that
  retrying cannot help, until someone reads the terminals' errors;
- an encrypted key makes OpenSSL prompt for a pass phrase on the terminal (or stderr): a
  service blocks on it, and without a terminal the error is three lines ending "Invalid
  argument"."""

import datetime
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lostcard_cpython.local_collector import free_port
from test_cli_bad_input import USAGE, assert_one_line
from test_collector_server import secret_file  # noqa: F401 (a fixture)


def _self_signed(tmp_path, days_from, days_to, password=None):
    """(certificate, key) PEM paths, valid from now + days_from to now + days_to."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_from))
            .not_valid_after(now + datetime.timedelta(days=days_to))
            .sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption()))
    return str(tmp_path / "c.pem"), str(tmp_path / "c.key")


def _serve(tmp_path, secret, cert, key):
    """`collector serve` with these files, detached from any terminal (OpenSSL would prompt
    there); the finished process, or None if it was still serving after 20 s."""
    proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve",
                             "--db", str(tmp_path / "new.db"), "--fleet-secret-file", str(secret),
                             "--port", str(free_port()), "--tls-cert", cert, "--tls-key", key],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_an_expired_or_future_certificate_is_refused_at_start(tmp_path, secret_file):  # noqa: F811
    for days_from, days_to, what in [(-30, -1, "expired"), (1, 30, "not yet valid")]:
        cert, key = _self_signed(tmp_path, days_from, days_to)
        before = sorted(os.listdir(tmp_path))
        proc = _serve(tmp_path, secret_file, cert, key)
        assert proc is not None, "a collector with a certificate %s served https" % what
        assert what in assert_one_line(proc, USAGE)
        assert sorted(os.listdir(tmp_path)) == before


def test_an_encrypted_key_is_one_line_not_a_prompt(tmp_path, secret_file):  # noqa: F811
    cert, key = _self_signed(tmp_path, -1, 30, password=b"pass phrase")
    before = sorted(os.listdir(tmp_path))
    proc = _serve(tmp_path, secret_file, cert, key)
    assert proc is not None, "a collector with an encrypted key served or waited"
    assert "encrypted" in assert_one_line(proc, USAGE)
    assert sorted(os.listdir(tmp_path)) == before
