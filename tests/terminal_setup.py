"""A provisioned terminal for the end-to-end tests: fleet secret, provisioning file, config and a
file of declines (the first `count` scenarios), as the README's "Flashing a terminal" makes them."""

import json
import sqlite3
import subprocess
import sys

from lostcard_cpython import scenarios

SECRET = bytes(range(40, 72))
DEVICE = "T-E2E-0001"


def lostcard(*args):
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli"] + list(args),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def provisioned_terminal(tmp_path, url, count, **config):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    lostcard("provision", "--fleet-secret-file", str(secret), "--device-id", DEVICE,
             "--out", str(tmp_path / "prov.cbor"))
    config = {"device_id": DEVICE, "queue_dir": str(tmp_path / "queue"),
              "token_key": "5a" * 32, "provisioning": str(tmp_path / "prov.cbor"),
              "collector_url": url, "sync_spread_s": 0, **config}
    (tmp_path / "lostcard.json").write_text(json.dumps(config))
    events = [item["event"] for item in scenarios.load()][:count]
    with open(tmp_path / "declines.jsonl", "w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")
    return secret, events


def status(proc):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])




def stored_incidents(db_path, device):
    """(seq, cause) of the device's incidents in the collector's database, and the quarantine's size."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT seq, cause FROM incidents WHERE device = ? ORDER BY seq",
                          (device,)).fetchall()
        quarantined = db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
    return rows, quarantined


def assert_shown_in_order(stdout, events):
    """Every decline shown on the terminal's two lines, in order, as CPython decides it."""
    from lostcard.decision import classify

    lines = stdout.splitlines()
    for n, event in enumerate(events):
        operator = classify(event)["messages"]["operator"]
        assert lines[2 * n:2 * n + 2] == [operator["zh"], operator["en"]]


def assert_collected_once(db_path, events):
    """The collector holds each incident once, none lost, with CPython's causes, none quarantined."""
    from lostcard.decision import classify

    rows, quarantined = stored_incidents(db_path, DEVICE)
    first = rows[0][0]  # the provisioning's first number: a random incarnation << 24
    assert first >> 24 > 0 and [seq for seq, _ in rows] == list(range(first, first + len(events)))
    assert [cause for _, cause in rows] == [classify(e)["cause"] for e in events]
    assert quarantined == 0
