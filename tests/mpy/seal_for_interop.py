"""The device half of the interop tests: build and seal incidents on this interpreter.

    seal_for_interop.py INPUT FLEET_SECRET_HEX TOKEN_KEY_HEX DEVICE_ID FIRST_SEQ EPOCHS

INPUT is JSON Lines of {"event": ..., "decision": ...}; each record is sealed and printed as hex,
one per line. The ratchet advances after every len/EPOCHS records, so several epochs are covered.
"""

import json
import sys

from lostcard import keys, record, sealing
from lostcard.collector.fleet import device_root, first_chain

import heap

try:
    from lostcard_mpy import crypto
except ImportError:  # CPython
    from lostcard_cpython import crypto


def main(path, secret, token_key, device_id, seq, per_epoch):
    # provisioning happens once, off the terminal: it receives chain(0), never the fleet secret
    chain = first_chain(crypto, device_root(crypto, secret, device_id))
    device = keys.DeviceKeys(crypto, device_id, 0, chain)
    count = 0
    with open(path) as f:
        for line in f:
            item = json.loads(line)
            line = None
            incident = record.build(item["event"], item["decision"], device_id, seq, crypto,
                                    token_key)
            item = None
            print(sealing.seal(crypto, device, incident).hex())
            incident = None
            seq += 1
            count += 1
            if count % per_epoch == 0:
                device.advance()
            heap.tidy()


main(sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4],
     int(sys.argv[5]), int(sys.argv[6]))
