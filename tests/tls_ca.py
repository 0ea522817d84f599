"""A test CA and a server certificate it signed, for 127.0.0.1 and localhost, made with
`cryptography` as an operator would with openssl (README, "TLS")."""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def make_certs(out):
    """{"ca", "cert", "key", "other_key"}: PEM files under `out` (a pathlib.Path)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))

    def cert(subject, public, issuer, ca, extensions=()):
        builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
                   .public_key(public).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    return {"ca": _write(out / "ca.pem", cert("lostcard test CA", ca_key.public_key(),
                                                "lostcard test CA", True)),
            "cert": _write(out / "collector.pem", cert("localhost", key.public_key(),
                                                       "lostcard test CA", False, [san])),
            "key": _write(out / "collector.key", pem_key(key)),
            "other_key": _write(out / "other.key", pem_key(other))}
