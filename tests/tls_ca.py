"""A test certificate authority made with `cryptography`, for the TLS tests (tests/test_tls.py).

`make(directory)` writes PEM files and returns their paths by name:
    ca            the CA the terminals trust (collector_ca, `lostcard sync --ca`)
    other_ca      a CA nobody here trusts (the "wrong CA" a terminal may be configured with)
    good          the collector's certificate for "localhost" (SAN DNS:localhost), by `ca`
    expired       the same name by `ca`, valid only in 2020
    other_host    by `ca`, for collector.other.example: the wrong host name
    mitm          self-signed for "localhost": a man in the middle's own certificate
Each server certificate has a `<name>_key` file beside it. P-256 keys: the handshake a terminal
runs is the small one (ECDHE-ECDSA). Fixed validity dates, so no test depends on today's date
except in the way it means to (the expired one ended long ago; the others last until 2099).
"""

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FROM = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
UNTIL = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)
EXPIRED = datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, issuer, issuer_key, until, ca, host=None):
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(FROM).not_valid_after(until)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if host:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, cert, key=None):
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_name(path.stem + "_key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


def make(directory):
    directory = Path(directory)
    paths = {}
    cas = {}
    for name in ("ca", "other_ca"):
        key = ec.generate_private_key(ec.SECP256R1())
        cas[name] = key
        _write(directory / (name + ".pem"), _certificate("lostcard test " + name, key,
                                                         "lostcard test " + name, key, UNTIL,
                                                         True))
    servers = (("good", "localhost", "ca", UNTIL), ("expired", "localhost", "ca", EXPIRED),
               ("other_host", "collector.other.example", "ca", UNTIL),
               ("mitm", "localhost", None, UNTIL))
    for name, host, issuer, until in servers:
        key = ec.generate_private_key(ec.SECP256R1())
        issuer_name, issuer_key = ("lostcard test " + issuer, cas[issuer]) if issuer \
            else (host, key)
        _write(directory / (name + ".pem"), _certificate(host, key, issuer_name, issuer_key,
                                                         until, False, host), key)
    for name in ("ca", "other_ca") + tuple(server[0] for server in servers):
        paths[name] = str(directory / (name + ".pem"))
        if name not in cas:
            paths[name + "_key"] = str(directory / (name + "_key.pem"))
    return paths
