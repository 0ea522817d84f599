"""The fleet secret on the acquirer's hosts: made by `lostcard keygen`, read from its file, and
recognised by a fingerprint (the collector keeps one in its database to refuse another secret).

A secret file holds hex text. Raw bytes are taken only when asked for (`--raw-secret`): a hex
file with a typo must be refused, not read as 64 bytes of ASCII that open nothing.
"""

import hashlib
import hmac
import os

from lostcard.errors import LostcardError

from .atomic import write_new

MIN_BYTES = 16
NEW_BYTES = 32


def generate(path):
    """A new secret in a new file, readable by its owner alone; refuses to overwrite."""
    write_new(path, (os.urandom(NEW_BYTES).hex() + "\n").encode("ascii"), 0o600)


def read(path, raw=False):
    with open(path, "rb") as f:
        data = f.read()
    if raw:
        secret = data
        if _is_hex(data):  # `keygen`'s file: as raw bytes it would be another secret
            raise LostcardError("fleet secret in %s is hex, as `lostcard keygen` writes it: "
                                "drop --raw-secret" % path)
    else:
        try:
            secret = bytes.fromhex(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise LostcardError("fleet secret in %s is not hex (make one with `lostcard keygen`; "
                                "raw bytes need --raw-secret)" % path) from None
    if len(secret) < MIN_BYTES:
        raise LostcardError("fleet secret in %s is shorter than %d bytes" % (path, MIN_BYTES))
    return secret


def _is_hex(data):
    try:
        text = data.decode("ascii").strip()
        bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError):
        return False
    return len(text) >= 2 * MIN_BYTES


def fingerprint(secret):
    """Names the secret without revealing it: 16 hex digits of an HMAC under the secret."""
    return hmac.new(secret, b"lostcard fleet secret fingerprint", hashlib.sha256).hexdigest()[:16]
