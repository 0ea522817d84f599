"""`lostcard cose open`, `lostcard inspect` and `lostcard bench records`, run as a user runs them."""

import json
import subprocess
import sys

from lostcard import keys, record, sealing
from lostcard.decision import classify
from lostcard_cpython import crypto, paths
from lostcard.collector.fleet import device_root, first_chain

VECTOR = paths.FIXTURES / "vectors" / "cose" / "aes-ccm-enc-01.json"
KEY = "849b57219dae48de646d07dbb533566e"
SECRET = bytes(range(32))


def lostcard(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args], input=stdin,
                          capture_output=True, timeout=600)


def _vector_bytes():
    return bytes.fromhex(json.loads(VECTOR.read_text())["output"]["cbor"])


def test_cose_open_prints_the_plaintext_as_hex_from_binary_or_hex_input(tmp_path):
    message = _vector_bytes()
    binary = tmp_path / "m.cose"
    binary.write_bytes(message)
    for args, stdin in (((str(binary),), b""), (("-",), message.hex().encode() + b"\n")):
        proc = lostcard("cose", "open", "--key-hex", KEY, *args, stdin=stdin)
        assert proc.returncode == 0, proc.stderr
        assert bytes.fromhex(proc.stdout.decode().strip()) == b"This is the content."


def test_cose_open_says_authentication_failed_on_any_tamper():
    message = bytearray(_vector_bytes())
    message[20] ^= 0x04
    proc = lostcard("cose", "open", "--key-hex", KEY, stdin=bytes(message))
    assert proc.returncode == 1 and b"authentication failed" in proc.stderr
    assert proc.stdout == b""
    proc = lostcard("cose", "open", "--key-hex", "00" * 16, stdin=_vector_bytes())
    assert proc.returncode == 1 and b"authentication failed" in proc.stderr
    proc = lostcard("cose", "open", "--key-hex", "zz", stdin=_vector_bytes())
    assert proc.returncode == 2 and b"not hex" in proc.stderr


def _sealed_incident():
    item = json.loads(paths.SCENARIOS.read_text(encoding="utf-8").splitlines()[0])
    chain = first_chain(crypto, device_root(crypto, SECRET, "T-0009"))
    device = keys.DeviceKeys(crypto, "T-0009", 0, chain)
    device.advance()
    r = record.build(item["event"], classify(item["event"]), "T-0009", 77, crypto, b"k" * 32)
    return sealing.seal(crypto, device, r), item


def test_inspect_opens_a_sealed_incident_with_the_fleet_secret(tmp_path):
    sealed, item = _sealed_incident()
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex() + "\n")
    proc = lostcard("inspect", "--fleet-secret-file", str(secret), stdin=sealed)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    decision = classify(item["event"])
    assert shown["device"] == "T-0009" and shown["seq"] == 77 and shown["epoch"] == 1
    assert (shown["cause"], shown["subcause"], shown["action"]) == \
        (decision["cause"], decision["subcause"], decision["action"])
    assert shown["card"]["last4"] == item["event"]["card"]["pan"][-4:]
    assert item["event"]["card"]["pan"] not in proc.stdout.decode()
    assert shown["facts"]["entry_mode"] == item["event"]["card"]["entry_mode"]


def test_inspect_refuses_the_wrong_secret(tmp_path):
    sealed, _ = _sealed_incident()
    secret = tmp_path / "other.secret"
    secret.write_bytes(b"\x01" * 32)  # raw bytes: only with --raw-secret
    proc = lostcard("inspect", "--fleet-secret-file", str(secret), stdin=sealed)
    assert proc.returncode == 2 and b"not hex" in proc.stderr
    proc = lostcard("inspect", "--fleet-secret-file", str(secret), "--raw-secret", stdin=sealed)
    assert proc.returncode == 1 and b"authentication failed" in proc.stderr


def test_bench_records_prints_both_interpreters_and_sizes():
    proc = lostcard("bench", "records", "--runs", "2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "build + seal, median per incident (us)" in out and "MicroPython" in out
    assert "incident size, median (bytes)" in out


def test_bench_queue_prints_speed_and_flash_cost_beside_bare_littlefs():
    proc = lostcard("bench", "queue", "--runs", "100")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "appends per second" in out and "write amplification" in out
    assert "blocks erased per record" in out and "bare append" in out
