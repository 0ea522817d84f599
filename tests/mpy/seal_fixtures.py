"""Classify, build and seal every scenario of a JSON Lines file on this interpreter, printing each
sealed incident as hex: the device half of the interop tests (tests/test_interop.py).

    seal_fixtures.py SCENARIOS FLEET_SECRET_HEX TOKEN_KEY_HEX DEVICE_ID FIRST_SEQ
"""

import gc
import json
import sys

from lostcard import keys, record
from lostcard.decision import classify

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython
    from lostcard_cpython import crypto


def main(path, secret, token_key, device_id, seq):
    # provisioning happens once, off the terminal: it receives chain(0), never the fleet secret
    chain = keys.first_chain(crypto, keys.device_root(crypto, secret, device_id))
    device = keys.DeviceKeys(crypto, device_id, 0, chain)
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            event = json.loads(line)["event"]
            line = None
            incident = record.build(event, classify(event), device_id, seq, crypto, token_key)
            event = None
            print(record.seal(crypto, device, incident).hex())
            incident = None
            seq += 1
            gc.collect()


main(sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4],
     int(sys.argv[5]))
