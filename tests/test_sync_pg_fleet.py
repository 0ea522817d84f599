"""A collector fleet on one PostgreSQL: two `lostcard collector serve` processes share a database,
one terminal's batches alternate between them while one of them crashes before or after its
commit and is started again, and PostgreSQL itself stops while they serve and comes back.

Each time: every incident stored once, nothing the terminal forgot missing, and the collector
that saw the database go answers 503 (batches and health) until it returns, then serves again
without a restart."""

import threading

import httpx
import pytest
from lostcard.errors import SyncError

from lostcard_cpython.local_collector import LocalCollector
from lostcard_cpython.throwaway_pg import ThrowawayPostgres
from test_sync import SECRET, _body, _device, _drain, _pending, _stored, _uploader


def _collectors(tmp_path, url, n):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    return [LocalCollector(url, secret) for _ in range(n)]


@pytest.mark.parametrize("fault", ["die_before_commit:2", "die_after_commit:2"])
def test_two_collectors_one_devices_batches_alternating_one_crashing(tmp_path, pg_url, fault):
    crashing, steady = _collectors(tmp_path, pg_url, 2)
    crashing.start(fault)
    steady.start()
    try:
        q, seqs = _device(tmp_path, "T-PG-FLEET", count=30)
        turns, crashed = 0, 0
        while _pending(q) and turns < 40:
            collector = (crashing, steady)[turns % 2]
            turns += 1
            try:
                assert _uploader(q, collector.url).step() > 0
            except SyncError:  # the crash: nothing acknowledged, started again
                assert collector is crashing and crashing.wait_dead() == 70
                crashed += 1
                crashing.start()
        stored = _stored(pg_url, q.device_id)
        assert crashed == 1 and _pending(q) == []
        assert stored == sorted(seqs)  # every incident, each once
    finally:
        crashing.stop()
        steady.stop()


def test_the_same_batch_at_both_collectors_at_once_is_stored_once(tmp_path, pg_url):
    collectors = _collectors(tmp_path, pg_url, 2)
    for collector in collectors:
        collector.start()
    try:
        q, seqs = _device(tmp_path, "T-PG-RACE", count=6)
        body = _body(q, [[s, b] for s, b in q.pending(3)])
        replies = [None, None]

        def post(i):
            replies[i] = httpx.post(collectors[i].url + "/v1/batch", content=body, timeout=30)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in replies] == [200, 200]
        assert _stored(pg_url, q.device_id) == sorted(s for s, _ in q.pending(3))
    finally:
        for collector in collectors:
            collector.stop()


def test_postgresql_stopped_while_serving_gets_503_and_the_backlog_syncs_when_it_returns(
        tmp_path):
    server = ThrowawayPostgres()
    collector, = _collectors(tmp_path, server.create_database("fleet"), 1)
    collector.start()
    try:
        q, seqs = _device(tmp_path, "T-PG-AWAY", count=12)
        assert _uploader(q, collector.url).step() > 0
        before = _pending(q)
        server.stop()
        body = _body(q, [[s, b] for s, b in q.pending(3)][:2])
        for _ in range(2):  # each request answered, never hung: 503, with what failed
            reply = httpx.post(collector.url + "/v1/batch", content=body, timeout=30)
            assert reply.status_code == 503, reply.text
            assert reply.json()["error"].startswith("storage: ") and "nothing acknowledged" in \
                reply.json()["error"]
            health = httpx.get(collector.url + "/v1/health", timeout=30)
            assert health.status_code == 503 and health.json()["status"] == "degraded"
        with pytest.raises(SyncError, match="503"):
            _uploader(q, collector.url).step()
        assert _pending(q) == before  # the terminal forgot nothing
        server.start()
        assert httpx.get(collector.url + "/v1/health", timeout=30).status_code == 200
        _drain(q, collector.url)
        assert collector.proc.poll() is None  # the same process, never restarted
        assert _pending(q) == [] and _stored(server.url("fleet"), q.device_id) == sorted(seqs)
    finally:
        collector.stop()
        server.close()


def test_serve_names_postgresql_and_never_the_password_and_refuses_another_fleets_database(
        tmp_path, pg_server, pg_url):
    import subprocess
    import sys

    from lostcard_cpython.local_collector import free_port

    # trust authentication takes any password: enough to see that it is never shown
    url = pg_url.replace("postgres@", "postgres:s3cret@")
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    serve = [sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve", "--db", url,
             "--fleet-secret-file", str(secret)]
    proc = subprocess.Popen(serve + ["--port", str(free_port())], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    try:
        first = proc.stderr.readline().decode()
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[1].decode()
    assert "database %s (PostgreSQL 1" % pg_url in first, first
    assert "s3cret" not in first + rest
    secret.write_text("cd" * 32)  # another fleet's secret: refused before anything is written
    done = subprocess.run(serve + ["--port", str(free_port())], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "is not the one" in done.stderr and "s3cret" not in \
        done.stderr, done.stderr
