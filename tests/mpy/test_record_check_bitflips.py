"""Every single bit flip of a sealed incident is refused at the collector.

A module of its own: under MicroPython's 64 KiB heap the flips' key derivations need the room
that the other refusal tests' data would hold.
"""

from lostcard import keys
from lostcard.collector import record_check
from lostcard.errors import AuthenticationError, RecordError
from lostcard.collector.fleet import FleetKeys
import heap
from record_check_fixtures import SECRET, crypto, make_device, make_record, seal


class NearKeys(FleetKeys):
    """FleetKeys refusing epochs past 64: a flipped epoch bit names up to epoch 32,768, whose key
    takes MicroPython minutes and the 64K heap's room to derive (tests/mpy/test_keys.py bounds that
    work); whether it opens under a wrong key is the same question as for epoch 1."""

    def record_key(self, device_id, incarnation, epoch):
        if epoch > 64:
            raise keys.KeyScheduleError("not derived in this test")
        return FleetKeys.record_key(self, device_id, incarnation, epoch)


def test_every_single_bit_flip_of_a_sealed_incident_fails():
    device = make_device()
    sealed = seal(device, make_record(seq=9))
    fleet = NearKeys(crypto, SECRET)
    assert record_check.open_sealed(crypto, fleet, sealed)[2] == 9
    # as the collector opens an authenticated batch's records: its device and incarnation
    # (flips naming another are refused before any key is derived)
    for i in range(len(sealed)):
        for bit in range(8):
            heap.tidy()  # each failed open's garbage: the 64K heap must not fragment
            flipped = bytearray(sealed)
            flipped[i] ^= 1 << bit
            try:
                record_check.open_sealed(crypto, fleet, bytes(flipped), device="T-0001",
                                         incarnation=0)
            except (AuthenticationError, RecordError, keys.KeyScheduleError):
                continue
            raise AssertionError("opened with byte %d bit %d flipped" % (i, bit))
