"""Upgrades never drop a backlog: a queue written by format version 1 (fixtures/queue-v1) opens
with the current code and gives back every record it held; and the `lostcard queue` commands."""

import shutil
import subprocess
import sys

from lostcard import cose, record, sealing
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.decision import classify
from lostcard.queue import Queue
from lostcard_cpython import crypto, paths, scenarios
from lostcard_cpython.storage import DirStorage
from lostcard.collector.fleet import parse_kid

GOLDEN = paths.FIXTURES / "queue-v1"
SECRET = bytes(range(32))
DEVICE = "T-GOLDEN-1"


def _copy(tmp_path):
    target = tmp_path / "queue"
    shutil.copytree(GOLDEN, target, ignore=shutil.ignore_patterns("README.md"))
    return str(target)


def test_a_version_1_queue_opens_without_loss(tmp_path):
    q = Queue(DirStorage(_copy(tmp_path)),
              lambda e, c: sealing.Sealer(crypto, DEVICE, e, c), rotate_bytes=600)
    fleet = FleetKeys(crypto, SECRET)
    seqs = {}
    for lane in (1, 2, 3):
        seqs[lane] = []
        for seq, sealed in q.pending(lane):
            assert record_check.open_sealed(crypto, fleet, sealed)[record.K_SEQ] == seq
            seqs[lane].append(seq)
    assert sorted(seqs[2] + seqs[3]) == list(range(2, 13))  # 12 appended, the first acknowledged
    assert q.stats()["epoch"] == 3 and q.stats()["corrupt"] == 0
    # and it goes on: the next number is above everything it held, sealed under the persisted epoch
    item = scenarios.load()[0]
    seq = q.append(record.build(item["event"], classify(item["event"]), DEVICE, 0, crypto,
                                b"golden-token-key"), 1)
    assert seq > 12
    sealed = [s for n, s in q.pending(1) if n == seq][0]
    assert parse_kid(cose.parse(sealed)[1].get(4)) == (DEVICE, 3)
    assert record_check.open_sealed(crypto, fleet, sealed)[record.K_SEQ] == seq


def lostcard(*args):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_queue_commands_show_status_records_and_files(tmp_path):
    path = _copy(tmp_path)
    status = lostcard("queue", "status", "--dir", path)
    assert status.returncode == 0 and '"records": 11' in status.stdout
    assert '"evicted"' in status.stdout and '"free_budget"' in status.stdout
    listing = lostcard("queue", "list", "--dir", path)
    assert listing.returncode == 0 and len(listing.stdout.strip().splitlines()) == 12
    files = lostcard("queue", "inspect", "--dir", path)
    assert files.returncode == 0 and "epoch 3" in files.stdout and "corrupt" in files.stdout
    missing = lostcard("queue", "status", "--dir", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no queue directory" in missing.stderr
