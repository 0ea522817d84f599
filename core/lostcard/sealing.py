"""Sealing records on the device: COSE_Encrypt0 under the device's epoch key (docs/RECORD.md).

Apart from record.py so that building a record does not load CBOR, COSE and the key schedule:
on a terminal with a small heap the two run one after the other, not side by side.
"""

from . import cbor, cose, keys

K_SEQ = 2  # record.K_SEQ, not imported: record.py's catalogs would weigh on the sealing phase


class Sealer:
    """Seals records under a device's epoch keys: what the queue asks of `make_sealer`."""

    def __init__(self, crypto, device_id, epoch, chain):
        self.crypto = crypto
        self.keys = keys.DeviceKeys(crypto, device_id, epoch, chain)
        self.epoch = epoch

    def seal(self, record, seq):
        record[K_SEQ] = seq
        return seal(self.crypto, self.keys, record)

    def advance(self):
        self.keys.advance()
        self.epoch = self.keys.epoch

    def chain(self):
        return self.keys.chain()


def seal(crypto, device_keys, record):
    """The record as COSE_Encrypt0 under the device's current epoch key, its IV from the seq."""
    iv = keys.iv(crypto, device_keys.device_id, record[K_SEQ])
    return cose.seal(crypto.aead(device_keys.key), cbor.encode(record), iv, kid=device_keys.kid())
