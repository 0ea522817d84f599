"""Group commit (lostcard_cpython.group_commit): batches that arrive while a commit runs are
committed together, each request answered only after the commit that holds its records, and a
failed commit answers every batch of its group 503 with no acknowledgement."""

import asyncio
import sqlite3
import threading

import cbor2
import httpx

from lostcard_cpython.collector import make_app
from lostcard_cpython.collector_store import SqliteStore
from test_sync import SECRET, _body, _device


class GatedStore(SqliteStore):
    """The first commit waits for `release`; a group holding `failing`'s batch fails."""

    def __init__(self, path):
        super().__init__(path)
        self.release, self.groups, self.failing = threading.Event(), [], None

    def store_batches(self, batches):
        self.groups.append([b[0] for b in batches])
        if len(self.groups) == 1:
            self.release.wait(30)
        if self.failing in self.groups[-1]:
            self.failing = None  # once: the terminal's retry is stored
            raise sqlite3.OperationalError("disk I/O error")
        return super().store_batches(batches)


async def _until(condition):
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_a_failed_group_commit_acknowledges_none_of_its_batches(tmp_path):
    store = GatedStore(str(tmp_path / "c.db"))
    app = make_app(store, SECRET)
    queues = {d: _device(tmp_path, d, count=4)[0] for d in ("T-A", "T-B", "T-C")}
    bodies = {d: _body(q, [list(i) for i in q.pending(3)] or [list(i) for i in q.pending(2)],
                       lane=3 if list(q.pending(3)) else 2) for d, q in queues.items()}
    store.failing = "T-C"

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://collector") as client:
            post = lambda d: asyncio.ensure_future(client.post("/v1/batch", content=bodies[d]))
            first = post("T-A")
            await _until(lambda: len(store.groups) == 1)  # T-A's commit holds the writer
            others = [post("T-B"), post("T-C")]
            await _until(lambda: len(app.state.writer.waiting) == 2)
            assert not first.done()  # no answer before its commit
            store.release.set()
            replies = [await first] + [await r for r in others]
            retry = await client.post("/v1/batch", content=bodies["T-C"])
            return replies, retry

    replies, retry = asyncio.run(run())
    # the two waiting went in one commit (in the order their checks ended)
    assert [sorted(group) for group in store.groups[:2]] == [["T-A"], ["T-B", "T-C"]]
    assert [r.status_code for r in replies] == [200, 503, 503]
    assert 1 in cbor2.loads(replies[0].content)
    for r in replies[1:]:  # no ack of any kind in a refusal
        assert r.json() == {"error": "storage: disk I/O error: nothing acknowledged, send "
                                     "again later"}
    assert retry.status_code == 200
    held = store.sequences()
    assert sorted(held) == ["T-A", "T-C"]  # T-B's batch was in the failed group: not stored
    store.close()


class RecordingStore(SqliteStore):
    def store_batches(self, batches):
        self.gaps = [b[4] for b in batches]
        return super().store_batches(batches)


def test_gaps_are_written_only_when_they_grew(tmp_path):
    from lostcard_cpython.collector import Collector

    store = RecordingStore(str(tmp_path / "c.db"))
    collector = Collector(store, SECRET)
    q, _ = _device(tmp_path, "T-G", count=3)
    items = [list(i) for lane in (1, 2, 3) for i in q.pending(lane)]
    written = []
    for gaps in ([0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 1, 0, 2], [0, 1, 0, 2]):
        collector.ingest("T-G", 0, 3, items, gaps)
        written.append(store.gaps[0])
    assert written == [[0, 1, 0, 0], None, None, [0, 1, 0, 2], None]
    assert store.stats()["known_gaps"] == {"evicted": {1: 0, 2: 1, 3: 0}, "corrupt": 2,
                                           "lost_to_restore": 0}
    store.close()
