"""A test certificate authority made with `cryptography`, for the TLS tests (tests/test_tls.py).

`make(directory)` writes PEM files and returns their paths by name:
    ca            the CA the terminals trust (collector_ca, `lostcard sync --ca`)
    other_ca      a CA nobody here trusts (the "wrong CA" a terminal may be configured with)
    good          the collector's certificate for "localhost" (SAN DNS:localhost), by `ca`
    expired       the same name by `ca`, valid only in 2020
    other_host    by `ca`, for collector.other.example: the wrong host name
    mitm          self-signed for "localhost": a man in the middle's own certificate, or one a
                  terminal pins
Each server certificate has a `<name>_key` beside it. Fixed validity dates (2020 to 2099, the
expired one 2020 only): no test depends on today's date but in the way it means to.
"""

import datetime
from pathlib import Path

from lostcard_cpython.tls_collector import certificate, new_key, write_pem

EXPIRED = datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)


def make(directory):
    directory = Path(directory)
    paths, cas = {}, {}
    for name in ("ca", "other_ca"):
        cas[name] = key = new_key()
        paths[name], _ = write_pem(directory / (name + ".pem"),
                                   certificate("lostcard test " + name, key, ca=True))
    for name, host, issuer, until in (("good", "localhost", "ca", None),
                                      ("expired", "localhost", "ca", EXPIRED),
                                      ("other_host", "collector.other.example", "ca", None),
                                      ("mitm", "localhost", None, None)):
        key = new_key()
        signer = {"issuer": "lostcard test " + issuer, "issuer_key": cas[issuer]} if issuer else {}
        if until:
            signer["until"] = until
        paths[name], paths[name + "_key"] = write_pem(
            directory / (name + ".pem"), certificate(host, key, host=host, **signer), key)
    return paths
