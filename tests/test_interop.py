"""Interop across the line: incidents sealed on real MicroPython open with `cryptography` and
with `pycose` on CPython, and pycose's messages open on MicroPython.

The MicroPython side runs the compiled bundle under a 64 KiB heap (the `bundle` fixture of
conftest.py, the `micropython` helper of micropython_process.py).
"""

import json

import cbor2
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from pycose.algorithms import AESCCM1664128
from pycose.headers import IV, KID, Algorithm
from pycose.keys import SymmetricKey
from pycose.messages import Enc0Message

from lostcard import keys, record, sealing, vocab
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.decision import classify
from lostcard_cpython import crypto, scenarios
from lostcard_tools.recorded import recorded_part
from lostcard.collector.fleet import device_root, first_chain
from micropython_process import micropython

SECRET = bytes(range(32))
TOKEN_KEY = b"\x5a" * 32
DEVICE = "T-INTEROP-7"
PER_EPOCH = 25


@pytest.fixture(scope="module")
def sealed_on_micropython(bundle, tmp_path_factory):
    items = scenarios.load()
    path = tmp_path_factory.mktemp("interop") / "decided.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            decision = recorded_part(classify(item["event"]))
            f.write(json.dumps({"event": item["event"], "decision": decision}) + "\n")
    proc = micropython(bundle, ["-m", "seal_for_interop", str(path), SECRET.hex(), TOKEN_KEY.hex(),
                                DEVICE, "1000", str(PER_EPOCH)])
    assert proc.returncode == 0, proc.stderr + proc.stdout[-400:]
    sealed = [bytes.fromhex(line) for line in proc.stdout.split()]
    assert len(sealed) == len(items)
    return items, sealed


def _record_key(epoch):
    return FleetKeys(crypto, SECRET).record_key(DEVICE, 0, epoch)


def test_micropython_seals_exactly_what_cpython_seals(sealed_on_micropython):
    items, sealed = sealed_on_micropython
    chain = first_chain(crypto, device_root(crypto, SECRET, DEVICE))
    device = keys.DeviceKeys(crypto, DEVICE, 0, chain)
    for n, (item, message) in enumerate(zip(items, sealed)):
        r = record.build(item["event"], classify(item["event"]), DEVICE, 1000 + n, crypto,
                         TOKEN_KEY)
        assert sealing.seal(crypto, device, r) == message, item["name"]
        if (n + 1) % PER_EPOCH == 0:
            device.advance()


def test_micropython_records_open_with_cryptography_alone(sealed_on_micropython):
    # everything here but the key schedule is cbor2 and cryptography: no lostcard COSE code
    items, sealed = sealed_on_micropython
    for n, message in enumerate(sealed):
        tag = cbor2.loads(message)
        assert tag.tag == 16
        protected, unprotected, ciphertext = tag.value
        assert cbor2.loads(protected) == {1: 10}
        kid, iv = unprotected[4], unprotected[5]
        assert kid == keys.kid(DEVICE, n // PER_EPOCH)
        aad = cbor2.dumps(["Encrypt0", protected, b""])
        plaintext = AESCCM(_record_key(n // PER_EPOCH), tag_length=8).decrypt(iv, ciphertext, aad)
        incident = cbor2.loads(plaintext)
        assert incident[record.K_DEVICE] == DEVICE and incident[record.K_SEQ] == 1000 + n
        assert iv[5:] == (1000 + n).to_bytes(8, "big")


def test_micropython_records_open_with_pycose(sealed_on_micropython):
    items, sealed = sealed_on_micropython
    for n, message in enumerate(sealed):
        msg = Enc0Message.decode(message)
        msg.key = SymmetricKey(k=_record_key(n // PER_EPOCH))
        incident = cbor2.loads(msg.decrypt())
        assert incident[record.K_SEQ] == 1000 + n
        assert record_check.name_numbered(record.SUBCAUSES, incident[record.K_SUBCAUSE]) \
            == classify(items[n]["event"])["subcause"]


def test_micropython_records_open_at_the_collector(sealed_on_micropython):
    items, sealed = sealed_on_micropython
    fleet = FleetKeys(crypto, SECRET)
    for n, message in enumerate(sealed):
        incident = record_check.open_sealed(crypto, fleet, message)
        assert vocab.CAUSES[incident[record.K_CAUSE]] == classify(items[n]["event"])["cause"]


def test_pycose_messages_open_on_micropython(bundle, tmp_path):
    key = bytes.fromhex("849b57219dae48de646d07dbb533566e")
    plaintexts = [b"", b"x", bytes(range(16)), bytes(range(200)), "挂失卡".encode()]
    lines = []
    for n, plaintext in enumerate(plaintexts):
        msg = Enc0Message(phdr={Algorithm: AESCCM1664128},
                          uhdr={KID: b"kid-%d" % n, IV: bytes([n]) * 13}, payload=plaintext)
        msg.key = SymmetricKey(k=key)
        lines.append(msg.encode().hex())
    # and one pycose message damaged in its tag
    damaged = bytearray(bytes.fromhex(lines[-1]))
    damaged[-1] ^= 1
    lines.append(damaged.hex())
    path = tmp_path / "messages.txt"
    path.write_text("\n".join(lines) + "\n")
    proc = micropython(bundle, ["-m", "open_for_interop", key.hex(), str(path)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [p.hex() for p in plaintexts] + ["authentication failed"]
