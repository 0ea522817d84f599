"""Sealed incidents at the collector: opened, and bound to their kid and IV (malformed and
damaged records: test_record_check_refused.py).
"""

from lostcard import cbor, cose, keys
from lostcard.collector import record_check
from lostcard.errors import AuthenticationError, RecordError
from lostcard.collector.fleet import FleetKeys
import heap
from record_check_fixtures import SECRET, crypto, make_device, make_record, seal


def test_sealed_record_opens_at_the_collector():
    device = make_device()
    r = make_record(seq=42)
    sealed = seal(device, r)
    assert cose.parse(sealed)[1].get(4) == device.kid()
    fleet = FleetKeys(crypto, SECRET)  # one, as a collector holds (two outgrow 64 KiB)
    assert record_check.open_sealed(crypto, fleet, sealed) == r
    device.advance()
    r2 = make_record(seq=43)
    sealed = r = None
    heap.tidy()
    assert record_check.open_sealed(crypto, fleet, seal(device, r2)) == r2


def test_records_not_bound_to_their_kid_and_iv_are_refused():
    device = make_device()
    # a record claiming another device, sealed under this device's key
    wrong_device = seal(device, make_record(device_id="T-0002"))
    # a record whose sequence number is not the one in its IV
    r = make_record(seq=1)
    iv = keys.iv(crypto, "T-0001", 2)
    wrong_seq = cose.seal(crypto.aead(device.key), cbor.encode(r), iv, kid=device.kid())
    device = r = iv = None  # the records sealed: the fleet's keys get the heap (64 KiB)
    heap.tidy()
    fleet = FleetKeys(crypto, SECRET)
    for sealed, words in ((wrong_device, "device"), (wrong_seq, "sequence")):
        try:
            record_check.open_sealed(crypto, fleet, sealed)
            raise AssertionError("opened " + words)
        except RecordError as exc:
            assert words in exc.args[0]
        heap.tidy()


def test_a_record_under_another_fleet_secret_is_refused():
    # its own test (its own process on MicroPython): two FleetKeys at once outgrow 64 KiB
    try:
        record_check.open_sealed(crypto, FleetKeys(crypto, b"\x22" * 32),
                                 seal(make_device(), make_record(seq=1)))
        raise AssertionError("opened under another fleet secret")
    except AuthenticationError:
        pass


def test_a_kid_of_another_device_is_refused_before_any_key_is_derived():
    sealed = seal(make_device(), make_record())
    class NoKeys:
        def record_key(self, *args):
            raise AssertionError("derived a key")

    try:
        record_check.open_sealed(crypto, NoKeys(), sealed, device="T-0002")
        raise AssertionError("opened for another device")
    except RecordError as exc:
        assert "another device" in exc.args[0]


def _walked(catalog, number):
    """The name by walking the catalog string: how record_check found it before its tables."""
    at = 0
    for _ in range(number):
        at = catalog.find(" ", at + 1)
    return catalog[at + 1:catalog.find(" ", at + 1)]


def test_every_code_both_ways_in_every_catalog():
    from lostcard import record

    for catalog in (record.RULE_IDS, record.SUBCAUSES, record.BRANDS):
        count = catalog.count(" ") - 1
        for number in range(count):
            name = record_check.name_numbered(catalog, number)
            assert name == _walked(catalog, number) and name
            assert record.number_or_name(catalog, name) == number
            assert record_check.stored_name(catalog, number) == name
            assert record_check.stored_name(catalog, name) == name
        for bad in (count, count + 1, -1):
            try:
                record_check.name_numbered(catalog, bad)
                raise AssertionError("named %r" % (bad,))
            except RecordError:
                pass


def test_catalog_numbers_name_what_the_terminal_numbered():
    from lostcard import record

    names = record.BRANDS.split()
    assert [record_check.name_numbered(record.BRANDS, n) for n in range(len(names))] == names
    assert record_check.name_numbered(record.SUBCAUSES, record.number_or_name(
        record.SUBCAUSES, "reported_lost")) == "reported_lost"
    for bad in (len(names), -1, "1", None):
        try:
            record_check.name_numbered(record.BRANDS, bad)
            raise AssertionError("named %r" % (bad,))
        except RecordError:
            pass
