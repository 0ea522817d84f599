"""An https collector on 127.0.0.1 for the TLS benchmark and tests: the collector's app served by
uvicorn over TLS in a thread of this process, and certificates for it made with `cryptography`
(P-256 keys: the handshake a terminal runs is then ECDHE-ECDSA, the small one).
"""

import datetime
import threading
import time
from pathlib import Path

from lostcard.errors import LostcardError

from .local_collector import START_TIMEOUT, free_port

FROM = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
UNTIL = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)


def new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def certificate(subject, key, issuer=None, issuer_key=None, until=UNTIL, ca=False, host=None):
    """A certificate for `key` named `subject` (its SAN DNS name `host`, if given), signed by
    `issuer_key` under the name `issuer`, or self-signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    builder = (x509.CertificateBuilder().subject_name(name(subject))
               .issuer_name(name(issuer or subject)).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(FROM).not_valid_after(until)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if host:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]),
                                        critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def write_pem(path, cert, key=None):
    """`cert` as PEM at `path`, and `key` (if given) beside it as `<stem>_key.pem`: both paths."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = path.with_name(path.stem + "_key.pem")
    if key is not None:
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return str(path), str(key_path)


def self_signed(path, host="localhost"):
    """A self-signed certificate for `host` written to `path` (a terminal pins it as its
    collector_ca), its key beside it: both paths."""
    key = new_key()
    return write_pem(path, certificate(host, key, host=host), key)


class HttpsCollector:
    """The collector (database `db`, fleet secret bytes `secret`) serving https with `cert` and
    `key` on a free port of 127.0.0.1, reached as https://localhost:PORT."""

    def __init__(self, db, secret, cert, key):
        import uvicorn

        from .collector import make_app
        from .collector_store import open_store

        self.db, self.port = str(db), free_port()
        self.url = "https://localhost:%d" % self.port
        self.server = uvicorn.Server(uvicorn.Config(
            make_app(open_store(self.db), secret), host="127.0.0.1", port=self.port,
            ssl_certfile=cert, ssl_keyfile=key, log_config=None, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise LostcardError("the https collector did not start on %s" % self.url)
            time.sleep(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)
