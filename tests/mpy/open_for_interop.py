"""The device half of the reverse interop test: open COSE_Encrypt0 messages sealed elsewhere.

    open_for_interop.py KEY_HEX MESSAGES

MESSAGES has one hex message per line; prints each plaintext as hex, or "authentication failed".
"""

import sys

from lostcard import cose
from lostcard.errors import AuthenticationError

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython
    from lostcard_cpython import crypto

aead = crypto.aead(bytes.fromhex(sys.argv[1]))
with open(sys.argv[2]) as f:
    for line in f:
        try:
            print(cose.open(aead, bytes.fromhex(line.strip())).hex())
        except AuthenticationError:
            print("authentication failed")
