"""Alerts (lostcard_cpython.alerts): the events the store's outbox raises, each once, on both
backends (tests/pg.py), also with two collectors on one PostgreSQL; the sender's lease and
backoff; and a real collector posting to a receiver on loopback that fails and then recovers,
across a restart."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lostcard import record
from lostcard_cpython import alerts, scenarios
from lostcard_cpython.collector_store import open_store
from lostcard_cpython.local_collector import LocalCollector
from test_cli_bad_input import USAGE, assert_one_line, lostcard
from test_sync import SECRET, _device, _drain

DAY = 86400
TOKEN = bytes(range(16))
ITEMS = scenarios.load()


def _row(device, seq, cause="card_compromised", t=None, token=TOKEN, subcause="reported_lost"):
    return (device, seq, t, cause, subcause, "retain_card", 1, token, "0042", "p", 0,
            b"sealed %s %d" % (device.encode(), seq))


def _store(store, device, rows, tampered=()):
    store.store_batches([(device, 0, rows, [], None, None, 0, None, list(tampered))])


def _outbox(store):
    """{kind: [body]} of every alert in the outbox, due or not."""
    found = {}
    for _, body in store.due_alerts(1 << 62, 1000):
        body = json.loads(body)
        found.setdefault(body["kind"], []).append(body)
    return found


def test_a_token_compromised_at_a_second_terminal_raises_one_ring_alert(new_db):
    store = open_store(new_db())
    _store(store, "T-1", [_row("T-1", 1), _row("T-1", 2)])
    assert _outbox(store) == {}  # one terminal: not a ring
    _store(store, "T-2", [_row("T-2", 1)])
    _store(store, "T-2", [_row("T-2", 1)])  # a replay
    _store(store, "T-3", [_row("T-3", 1), _row("T-3", 2, cause="network_fault", token=None)])
    rings = _outbox(store)["ring"]
    store.close()
    assert len(rings) == 1
    ring = rings[0]
    assert ring["terminals"] == ["T-1", "T-2"] and ring["terminal_count"] == 2
    # the card as the report shows it: last 4, 8 hex digits of its token; never the whole token
    assert ring["token"] == TOKEN.hex()[:8] and ring["last4"] == "0042"
    assert TOKEN.hex()[8:16] not in json.dumps(ring)
    assert "T-1, T-2" in ring["text"] and len(ring["id"]) == 32


def test_a_tamper_raises_one_alert_per_terminal_and_day(new_db):
    store = open_store(new_db())
    _store(store, "T-1", [_row("T-1", 1, "device_fault", subcause="tamper_detected")])
    _store(store, "T-1", [_row("T-1", 2, "device_fault", subcause="tamper_detected")])
    # the fact under another cause counts too (Collector.check says which seqs have it)
    _store(store, "T-2", [_row("T-2", 1, "network_fault", token=None)], tampered=[1])
    _store(store, "T-3", [_row("T-3", 1, "network_fault", token=None)])
    tampers = _outbox(store)["tamper"]
    store.close()
    assert sorted((t["terminal"], t["seq"]) for t in tampers) == [("T-1", 1), ("T-2", 1)]
    assert all(t["day"] == time.strftime("%Y-%m-%d", time.gmtime()) for t in tampers)


def test_the_tamper_fact_is_read_from_the_record():
    facts = [None] * alerts.TAMPER
    assert alerts.tamper_fact({record.K_FACTS: facts + [True]})
    assert not alerts.tamper_fact({record.K_FACTS: facts + [False]})
    assert not alerts.tamper_fact({record.K_FACTS: facts}) and not alerts.tamper_fact({})


@pytest.mark.parametrize("last_day, before, raised", [
    (5, 0, True),     # a new terminal with 5 in a day
    (4, 0, False),    # under RATE_MIN
    (6, 14, True),    # 6 >= 3 x 2 a day
    (5, 14, False),   # 5 < 3 x 2 a day
    (5, 11, True),    # 5 >= 3 x 11/7
])
def test_the_rate_rule(last_day, before, raised):
    assert alerts.jumped(last_day, before) == raised


def test_a_terminals_rate_jump_is_raised_once_a_day_by_its_cause(new_db):
    store = open_store(new_db())
    now = int(time.time())
    # T-1: 14 device faults over the week before, then 5 today: 5 < 3 x 2 a day, no jump
    week = [_row("T-1", n, "device_fault", now - 2 * DAY - n * 3600, None) for n in range(14)]
    _store(store, "T-1", week)
    _store(store, "T-1", [_row("T-1", 100 + n, "device_fault", now - n * 60, None)
                          for n in range(5)])
    assert "rate_jump" not in _outbox(store)
    _store(store, "T-1", [_row("T-1", 200, "device_fault", now - 30, None)])  # 6: a jump
    # T-2: 5 compromised cards today and none before; then more the same day: one alert;
    # incidents without a trusted time and from the future do not count
    _store(store, "T-2", [_row("T-2", n, t=now - n, token=bytes([n]) * 16) for n in range(4)])
    _store(store, "T-2", [_row("T-2", 10, t=None), _row("T-2", 11, t=now + DAY)])
    assert [a["terminal"] for a in _outbox(store)["rate_jump"]] == ["T-1"]
    for seq in (20, 21):
        _store(store, "T-2", [_row("T-2", seq, t=now - 5, token=bytes([seq]) * 16)])
    jumps = sorted(_outbox(store)["rate_jump"], key=lambda a: a["terminal"])
    store.close()
    assert [(a["terminal"], a["cause"], a["last_24h"], a["previous_7_days"]) for a in jumps] == [
        ("T-1", "device_fault", 6, 14), ("T-2", "card_compromised", 5, 0)]


def test_the_outbox_leases_backs_off_and_keeps_what_was_sent(new_db):
    store = open_store(new_db())
    _store(store, "T-1", [_row("T-1", 1, "device_fault", subcause="tamper_detected")])
    [(key, body)] = store.due_alerts(10**15, 10)
    assert store.alert_counts() == {"pending": 1, "sent": 0}
    assert store.claim_alert(key, 10**15, 10**15 + 60000) == 0
    assert store.claim_alert(key, 10**15, 10**15 + 60000) is None  # held by the first sender
    assert store.due_alerts(10**15, 10) == []
    store.alert_failed(key, 10**15 + 5000)
    assert store.due_alerts(10**15 + 4999, 10) == []
    assert store.claim_alert(key, 10**15 + 5000, 10**15 + 9000) == 1  # one failed attempt
    store.alert_sent(key, 1)
    assert store.due_alerts(1 << 62, 10) == [] and store.claim_alert(key, 1 << 62, 1) is None
    assert store.alert_counts() == {"pending": 0, "sent": 1}
    store.close()


class OutboxStub:
    """An outbox of alerts "a", "b", "c": "a" held by another sender, the others with their
    failed attempts so far."""

    def __init__(self, attempts):
        self.attempts, self.sent, self.failed = attempts, [], []

    def due_alerts(self, now, limit):
        return [(key, '{"id": "%s"}' % key) for key in ("a", "b", "c")]

    def claim_alert(self, key, now, until):
        return self.attempts.get(key)

    def alert_sent(self, key, now):
        self.sent.append(key)

    def alert_failed(self, key, due):
        self.failed.append(key)


class ClientStub:
    def __init__(self, answers):
        self.answers, self.posted = list(answers), []

    def post(self, url, content, headers):
        self.posted.append(json.loads(content)["id"])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return type("Answer", (), {"status_code": answer})


@pytest.mark.parametrize("answer", [500, 404, 302, httpx.ConnectError("refused")])
def test_the_sender_skips_what_another_holds_marks_what_was_taken_and_backs_off(answer, caplog):
    store = OutboxStub({"b": 0, "c": 5})
    client = ClientStub([204, answer])
    sender = alerts.Sender(store, "http://user:pw@127.0.0.1:9/hook/T0KEN", poll=0.5,
                           backoff=(1.0, 8.0))
    assert sender.round(client) == 8.0  # 1 s doubled 5 times, capped at 8
    # the log names the receiver's host, never a webhook's secret path or password
    assert "alerts not delivered to 127.0.0.1:9 (" in caplog.text
    assert "T0KEN" not in caplog.text and "pw" not in caplog.text
    assert client.posted == ["b", "c"] and store.sent == ["b"] and store.failed == ["c"]
    sender.store = store = OutboxStub({"b": 1, "c": 0})
    assert sender.round(ClientStub([answer])) == 2.0 and store.failed == ["b"]  # the rest wait
    assert sender.round(ClientStub([200, 201])) == 0.5  # all delivered: look again after poll
    assert store.sent == ["b", "c"]


def test_two_collectors_storing_a_rings_halves_at_once_raise_it_once(pg_url):
    open_store(pg_url).close()
    stores = [open_store(pg_url) for _ in range(2)]
    for n in range(8):
        token = bytes([n]) * 16
        start = threading.Barrier(2)

        def write(i):
            start.wait()
            _store(stores[i], "T-%d" % i, [_row("T-%d" % i, n, token=token)])
        threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    rings = _outbox(stores[0])["ring"]
    for store in stores:
        store.close()
    assert sorted(r["token"] for r in rings) == [bytes([n]).hex() * 4 for n in range(8)]


class Receiver:
    """An alert receiver on loopback: answers the first `failures` posts 500, then 200; keeps
    every body it took."""

    def __init__(self, failures):
        self.failures, self.refused, self.taken = failures, 0, []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.arrived:
                    ok = receiver.refused >= receiver.failures
                    if ok:
                        receiver.taken.append(body)
                    else:
                        receiver.refused += 1
                    receiver.arrived.notify_all()
                self.send_response(200 if ok else 500)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, condition, timeout=60):
        with self.arrived:
            assert self.arrived.wait_for(lambda: condition(self.taken), timeout), self.taken

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class AlertingCollector(LocalCollector):
    def __init__(self, db, secret_file, alert_url):
        super().__init__(db, secret_file)
        self.alert_url = alert_url

    def command(self):
        return super().command() + ["--alert-url", self.alert_url]


def _items(*ids):
    return [item for item in ITEMS if item["event"]["id"] in ids]


def test_a_collector_posts_each_alert_once_through_a_failing_receiver_and_a_restart(
        tmp_path, new_db):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    db = new_db()
    receiver = Receiver(failures=2)
    collector = AlertingCollector(db, secret, receiver.url).start()
    try:
        # one card (the same PAN, so the same token) compromised at two terminals; a tamper
        for device, ids in (("T-AL-1", ("chip-host-41-lost",)),
                            ("T-AL-2", ("conflict-chip-card-swiped-healthy-reader",)),
                            ("T-AL-3", ("tamper-detected-terminal-decline",))):
            q, seqs = _device(tmp_path, device, items=_items(*ids))
            assert _drain(q, collector.url) == len(seqs)
        receiver.wait_for(lambda taken: len(taken) == 2)
        collector.stop()
        assert receiver.refused == 2  # each attempt that failed came back later
        collector.start()
        q, _ = _device(tmp_path, "T-AL-4", items=_items("conflict-tamper-network-down-no-answer"))
        _drain(q, collector.url)
        # oldest first: had the restart sent an alert again, it would have come before this one
        receiver.wait_for(lambda taken: any(a.get("terminal") == "T-AL-4" for a in taken))
    finally:
        collector.stop()
        receiver.close()
    kinds = sorted((a["kind"], a.get("terminal") or ",".join(a["terminals"]))
                   for a in receiver.taken)
    assert kinds == [("ring", "T-AL-1,T-AL-2"), ("tamper", "T-AL-3"), ("tamper", "T-AL-4")]
    assert len({a["id"] for a in receiver.taken}) == 3
    store = open_store(db, readonly=True)
    assert store.alert_counts() == {"pending": 0, "sent": 3}
    store.close()
    for alert in receiver.taken:  # no card number in any alert
        assert not any(item["event"]["card"]["pan"] in json.dumps(alert)
                       for item in ITEMS if "pan" in item["event"].get("card", {}))


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "http://", "hook", "http://h:0/"])
def test_a_bad_alert_url_is_one_line_and_exit_2_before_anything_is_made(tmp_path, url):
    secret = tmp_path / "fleet.secret"
    secret.write_text(SECRET.hex())
    proc = lostcard("collector", "serve", "--db", str(tmp_path / "c.db"), "--fleet-secret-file",
                    str(secret), "--port", "0", "--alert-url", url, cwd=tmp_path)
    assert "--alert-url" in assert_one_line(proc, USAGE)
    assert not (tmp_path / "c.db").exists()
