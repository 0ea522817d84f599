"""`lostcard sync` says how many incidents it synced: each record once, also when a restored
collector makes the terminal rewind and send again what it had just been acknowledged (it said
"synced 38" with 36 stored)."""

import os

from lostcard_cpython import crypto
from lostcard_cpython.transport import HttpTransport
from lostcard_cpython.upload import CountingUploader
from test_resync import _append, _backup, _queue, _restore, _stored, _sync, env  # noqa: F401


def test_a_rewound_sync_counts_each_record_once(env):  # noqa: F811
    q = _queue(env["tmp"], "T-COUNT-1")
    url = env["collector"].url
    _append(q, 8)
    _sync(q, url)
    copy = str(env["tmp"] / "mid-day.db")
    _backup(env["db"], copy)
    late = _append(q, 8, start=8)
    _sync(q, url)
    _restore(env, copy)  # the collector forgets `late`; the terminal still holds it
    new = _append(q, 4, start=16)
    up = CountingUploader(q, HttpTransport(url, timeout=5), crypto, os.urandom, q.device_id,
                          q.ack_key, batch_bytes=700, max_batch=700)
    steps = up.run(lambda s: None, lambda a, b: 0.0, max_failures=3)
    assert sorted(seq for _, seq in up.acked) == sorted(late + new)
    assert steps > len(late + new)  # the first batch was acknowledged twice: counted once
    assert set(late + new) <= set(_stored(env["db"], q.device_id))
