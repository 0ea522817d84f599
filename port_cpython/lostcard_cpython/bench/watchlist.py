"""The watchlist lookup in `lostcard bench device`: a full list (4,094 keyed tokens of made-up
cards) installed through lostcard.update into a terminal's queue directory, then looked up on
MicroPython and CPython (port_mpy/tools/lostcard_tools/bench_watchlist.py), half the tokens
asked on the list."""

import hashlib
import json
import os
import subprocess
import sys

from lostcard import update
from lostcard.protocol import OBJECT_MAGIC, WATCHLIST, object_mac

from .. import crypto
from ..errors import Failed
from ..paths import PORT_MPY
from ..storage import DirStorage
from .harness import micropython_result

KEY = b"\x66" * 32  # the bench terminal's ack key
DEVICE = "BENCH-W"
ENTRIES = 4094  # the most a watchlist holds
LOOKUPS = 1000


def _install(queue_dir, tokens):
    body = b"".join(sorted(t[:15] + bytes((1 + t[15] % 255,)) for t in tokens))
    mac = object_mac(crypto, KEY, DEVICE, WATCHLIST, 1, hashlib.sha256(body).digest())
    obj = (OBJECT_MAGIC + bytes((WATCHLIST, 0, 0, 0)) + (1).to_bytes(4, "big")
           + len(body).to_bytes(4, "big") + mac + body)
    storage = DirStorage(queue_dir)
    update.add_chunk(storage, WATCHLIST, 1, len(obj), 0, obj)  # whole: fetching is not timed
    update.install(storage, WATCHLIST, crypto, KEY, DEVICE)


def _cpython(args):
    env = dict(os.environ, PYTHONPATH=str(PORT_MPY))
    proc = subprocess.run([sys.executable] + args, capture_output=True, text=True, env=env,
                          timeout=600)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise Failed("CPython watchlist bench failed: %s" % last[0])
    return json.loads(proc.stdout.splitlines()[-1])


def measure(bundle, tmp):
    """(MicroPython's result, CPython's): lookups, found, median and worst us and bytes."""
    tokens = [crypto.hmac_sha256(b"\x77" * 32, b"4000%012d" % n)[:16]
              for n in range(ENTRIES + LOOKUPS // 2)]
    queue_dir = os.path.join(tmp, "watch-queue")
    _install(queue_dir, tokens[:ENTRIES])
    asked = tokens[:ENTRIES:ENTRIES // (LOOKUPS // 2)][:LOOKUPS // 2] + tokens[ENTRIES:]
    path = os.path.join(tmp, "tokens.txt")
    with open(path, "w") as f:
        f.write("".join(t.hex() + "\n" for t in asked))
    args = ["-m", "lostcard_tools.bench_watchlist", queue_dir, path]
    return micropython_result(bundle, args), _cpython(args)
