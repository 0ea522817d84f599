"""A commit that cannot finish (a stalled disk, a synchronous standby that is not there) does not
hold every terminal's request forever: past the writer's deadline the batch is answered 503 with
nothing acknowledged, /v1/health says degraded (a writer stuck) without waiting behind it, and
once the commit ends the collector is healthy again."""

import asyncio

import httpx

from lostcard_cpython import group_commit
from lostcard_cpython.collector import make_app
from test_group_commit import GatedStore, _until
from test_sync import SECRET, _body, _device


def test_a_commit_past_the_deadline_is_503_and_health_says_the_writer_is_stuck(
        tmp_path, monkeypatch):
    monkeypatch.setattr(group_commit, "COMMIT_DEADLINE", 0.5)
    store = GatedStore(str(tmp_path / "c.db"))  # its first commit waits for `release`
    app = make_app(store, SECRET)
    queue = _device(tmp_path, "T-A", count=4)[0]
    body = _body(queue, [list(i) for i in queue.pending(3)], lane=3)

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://collector") as client:
            reply = await client.post("/v1/batch", content=body)
            stuck = await client.get("/v1/health")
            store.release.set()
            await _until(lambda: app.state.writer.since is None)
            return reply, stuck, await client.get("/v1/health")

    reply, stuck, after = asyncio.run(run())
    assert reply.status_code == 503 and "did not finish" in reply.json()["error"], reply.text
    assert stuck.status_code == 503 and stuck.json()["reason"].startswith("writer"), stuck.text
    assert after.status_code == 200, after.text
    store.close()
