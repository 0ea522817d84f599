"""GET /metrics (lostcard_cpython.metrics): off without a token, 401 without the right bearer
token, and with it the store's figures in the Prometheus exposition format, the same from two
collectors on one database; a bad token file is one line, exit 2."""

import asyncio
import re
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lostcard.protocol import POLICY, WATCHLIST
from lostcard_cpython import alerts, paths
from lostcard_cpython.collector import make_app
from lostcard_cpython.collector_store import open_store
from test_cli_bad_input import USAGE, assert_one_line, lostcard
from test_sync import ITEMS, SECRET, _body, _device

TOKEN = "s3cret-metrics-token-0123456789"


def _get(app, path, headers=None):
    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://collector") as client:
            return await client.get(path, headers=headers or {})
    return asyncio.run(run())


def _post(app, body):
    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://collector") as client:
            return await client.post("/v1/batch", content=body)
    return asyncio.run(run())


def _samples(text):
    """{(name, sorted labels): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _sync_one_batch(app, tmp_path, device):
    q, _ = _device(tmp_path, device, items=ITEMS[:4])
    lane = next(lane for lane in (1, 2, 3) if list(q.pending(lane)))
    reply = _post(app, _body(q, [list(i) for i in q.pending(lane)], lane=lane))
    assert reply.status_code == 200


def test_metrics_are_off_without_a_token_file(tmp_path):
    store = open_store(str(tmp_path / "c.db"))
    assert _get(make_app(store, SECRET), "/metrics").status_code == 404
    store.close()


@pytest.mark.parametrize("headers", [
    None, {"authorization": "Bearer " + TOKEN[:-1]}, {"authorization": "Bearer " + TOKEN + "x"},
    {"authorization": "Basic " + TOKEN}, {"authorization": TOKEN}, {"authorization": "Bearer"}])
def test_metrics_want_the_bearer_token(tmp_path, headers):
    store = open_store(str(tmp_path / "c.db"))
    answer = _get(make_app(store, SECRET, metrics_token=TOKEN), "/metrics", headers)
    store.close()
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert "lostcard" not in answer.json()["error"]


def test_metrics_show_the_stores_figures_and_the_ingest_latency(tmp_path, new_db):
    db = new_db()
    store = open_store(db)
    app = make_app(store, SECRET, metrics_token=TOKEN)
    _sync_one_batch(app, tmp_path, "T-M-1")
    _sync_one_batch(app, tmp_path, "T-M-2")
    store.store_batch("T-M-3", [], [("T-M-3", b"d" * 32, "authentication failed: tag", b"x")],
                      [2, 0, 1, 3, 0])
    answer = _get(app, "/metrics", {"authorization": "Bearer " + TOKEN})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = _samples(answer.text)
    incidents = {labels: v for (name, labels), v in samples.items()
                 if name == "lostcard_incidents_total"}
    want = {(("cause", c), ("terminal", d)): float(n) for d, c, n in store.incident_counts()}
    assert incidents == want and sum(want.values()) == store.stats()["incidents"]
    assert {dict(labels)["terminal"] for labels in incidents} == {"T-M-1", "T-M-2"}
    assert samples[("lostcard_quarantined_total",
                    (("reason", "authentication failed: tag"),))] == 1
    assert samples[("lostcard_quarantined_total", (("reason", "unrecorded"),))] == 0
    assert [samples[("lostcard_known_gaps_total", (("kind", k),))] for k in (
        "evicted_1", "evicted_2", "evicted_3", "corrupt", "lost_to_restore")] == [2, 0, 1, 3, 0]
    assert samples[("lostcard_ingest_seconds_count", ())] == 2  # this process's batches
    assert samples[("lostcard_alerts", (("state", "pending"),))] == 0
    store.close()


def test_a_scrape_does_not_wait_for_the_writers_lock(tmp_path):
    store = open_store(str(tmp_path / "c.db"))
    app = make_app(store, SECRET, metrics_token=TOKEN)
    answers = []
    with store.lock:  # as while the writer commits a group
        scrape = threading.Thread(target=lambda: answers.append(_get(
            app, "/metrics", {"authorization": "Bearer " + TOKEN})), daemon=True)
        scrape.start()
        scrape.join(60)
    store.close()
    assert [a.status_code for a in answers] == [200]


def test_two_collectors_on_one_postgresql_report_the_same_fleet_figures(tmp_path, pg_url):
    stores = [open_store(pg_url), open_store(pg_url)]
    apps = [make_app(store, SECRET, metrics_token=TOKEN) for store in stores]
    _sync_one_batch(apps[0], tmp_path, "T-PG-M-1")
    _sync_one_batch(apps[1], tmp_path, "T-PG-M-2")
    figures = []
    for app in apps:
        samples = _samples(_get(app, "/metrics", {"authorization": "Bearer " + TOKEN}).text)
        figures.append({k: v for k, v in samples.items()
                        if not k[0].startswith("lostcard_ingest")})
        assert samples[("lostcard_ingest_seconds_count", ())] == 1
    for store in stores:
        store.close()
    assert figures[0] == figures[1]
    assert {dict(k[1])["terminal"] for k in figures[0] if k[0] == "lostcard_incidents_total"} \
        == {"T-PG-M-1", "T-PG-M-2"}


def _scrape(store):
    answer = _get(make_app(store, SECRET, metrics_token=TOKEN), "/metrics",
                  {"authorization": "Bearer " + TOKEN})
    store.close()
    return answer.text


def test_the_terminals_behind_on_an_update_are_counted(tmp_path, new_db):
    store = open_store(new_db())
    store.publish(POLICY, b"{}")
    store.publish(WATCHLIST, b"")
    store.publish(WATCHLIST, b"")
    for device, versions in (("T-1", [1, 2, None]), ("T-2", [1, 1, None]),
                             ("T-3", [0, 0, [POLICY, 1, "policy check failed"]])):
        store.record_updates(device, 0, versions)
    samples = _samples(_scrape(store))
    assert samples[("lostcard_terminals_behind", (("update", "policy"),))] == 1
    assert samples[("lostcard_terminals_behind", (("update", "watchlist"),))] == 2


def test_the_monitoring_doc_names_every_metric_and_the_rate_rule(tmp_path):
    doc = (paths.ROOT / "docs" / "MONITORING.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `(lostcard_\w+)` \|", doc, re.M))
    served = {f.name + ("_total" if f.type == "counter" else "")
              for f in text_string_to_metric_families(_scrape(open_store(
                  str(tmp_path / "c.db"))))}
    assert named == served and len(named) == 6
    assert "at least %d and at least %d times its daily average over the %d days before" % (
        alerts.RATE_MIN, alerts.RATE_FACTOR, alerts.BASELINE_DAYS) in " ".join(doc.split())


@pytest.mark.parametrize("content", [None, b"", b"short", b"\xff" * 20, b"two words here ok!"])
def test_a_bad_metrics_token_file_is_one_line_and_exit_2(tmp_path, content):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    token = tmp_path / "metrics.token"
    if content is not None:
        token.write_bytes(content)
    proc = lostcard("collector", "serve", "--db", str(tmp_path / "c.db"), "--fleet-secret-file",
                    str(secret), "--port", "0", "--metrics-token-file", str(token), cwd=tmp_path)
    assert "--metrics-token-file" in assert_one_line(proc, USAGE)
    assert not (tmp_path / "c.db").exists()
