"""Alerts: one JSON POST to `--alert-url` per event worth a person's attention
(docs/MONITORING.md has the kinds, their rules and their JSON).

    ring       a card token declined card_compromised at a second terminal: a possible skimming
               ring (the report's "cards compromised at several terminals"); once per token
    tamper     an incident whose terminal detected tampering; once per terminal and UTC day
    rate_jump  a terminal's card_compromised or device_fault incidents in the last 24 hours (its
               clock, up to the collector's) number at least RATE_MIN and at least RATE_FACTOR
               times its daily average over the 7 days before; once per terminal, cause and day

Each alert is a row of the store's outbox, its key unique, written in the transaction that
stores the incidents raising it (collector_store.raise_alerts, in group_commit's writer): a
replay, a restart or a second collector on the same PostgreSQL raises none twice. The Sender
thread posts what is due, oldest first, under a lease (one process posts a given alert at a
time), marks it sent on a 2xx, and backs off otherwise. An alert carries no card secret: a card
is its last 4 digits and the first 8 hex digits of its token, as the report shows it.
"""

import hashlib
import json
import threading
import time
from datetime import datetime, timezone

from lostcard import record

from .report_analysis import DAY, shown

RATE_CAUSES = ("card_compromised", "device_fault")
RATE_MIN = 5  # incidents in the last 24 h before a rate can be said to jump
RATE_FACTOR = 3  # times the daily average of the 7 days before
RATE_WINDOW = DAY  # seconds of "recent" incidents; the baseline is the BASELINE_DAYS before
BASELINE_DAYS = 7
TERMINALS_LISTED = 50  # of a ring's, in its alert
POLL = 1.0  # seconds between looks at the outbox: another collector's alerts are due too
BACKOFF = (1.0, 600.0)  # seconds after a first failed post, and at most (doubling between)
LEASE = 60.0  # seconds an alert being posted is held from other senders
POST_TIMEOUT = 10.0
DUE_AT_ONCE = 20  # alerts read from the outbox per look
TAMPER = record.FACTS.index("tamper")


def tamper_fact(r):
    """Whether an opened record's facts say its terminal detected tampering (whatever cause
    won: the report counts these too)."""
    facts = r.get(record.K_FACTS) or []
    return len(facts) > TAMPER and facts[TAMPER] is True


def candidates(batches):
    """(device, seq, time, cause, token, last4, tamper) of the batches' incidents that may raise
    an alert. `batches` as store_batches takes them, a 9th item the seqs of their records whose
    facts say tampering (Collector.check, tamper_fact)."""
    found = []
    for batch in batches:
        tampers = set(batch[8]) if len(batch) > 8 else set()
        for row in batch[2]:
            device, seq, t, cause, token, last4 = row[0], row[1], row[2], row[3], row[7], row[8]
            tamper = seq in tampers or row[4] == "tamper_detected"
            if tamper or cause in RATE_CAUSES:
                found.append((device, seq, t, cause, token, last4, tamper))
    return found


def jumped(last_day, before):
    """The rate rule: `last_day` incidents in the last 24 h against `before` in the 7 days
    before them."""
    return last_day >= RATE_MIN and last_day * BASELINE_DAYS >= RATE_FACTOR * before


def _iso(t):
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _alert(key, now, kind, text, **fields):
    """(key, JSON body): `id` names the alert without its key (which may hold a whole token), so
    that a receiver can drop the rare second post (docs/MONITORING.md)."""
    body = {"id": hashlib.sha256(key.encode()).hexdigest()[:32], "kind": kind,
            "raised": _iso(now), **fields, "text": text}
    return key, json.dumps(body, ensure_ascii=False, sort_keys=True)


def ring(token, last4, terminals, now):
    card = "card ..%s token %s" % (last4 or "????", shown(token))
    return _alert("ring:" + token.hex(), now, "ring",
                  "%s declined as compromised at %d terminals: %s" % (
                      card, len(terminals), ", ".join(terminals[:TERMINALS_LISTED])),
                  token=shown(token), last4=last4, terminal_count=len(terminals),
                  terminals=terminals[:TERMINALS_LISTED])


def tamper(device, seq, t, now):
    day = _iso(now)[:10]
    return _alert("tamper:%s:%s" % (device, day), now, "tamper",
                  "terminal %s detected tampering (incident %d)" % (device, seq),
                  terminal=device, seq=seq, time=_iso(t), day=day)


def rate_key(device, cause, now):
    return "rate:%s:%s:%s" % (device, cause, _iso(now)[:10])


def rate_jump(device, cause, last_day, before, now):
    return _alert(rate_key(device, cause, now), now, "rate_jump",
                  "terminal %s: %d %s incidents in the last 24 h, %d in the 7 days before" % (
                      device, last_day, cause, before),
                  terminal=device, cause=cause, last_24h=last_day, previous_7_days=before)


class Sender:
    """Posts the outbox's due alerts to `url` in a thread of its own, until stop()."""

    def __init__(self, store, url, poll=POLL, backoff=BACKOFF):
        from .collector_server import Warnings

        from urllib.parse import urlsplit

        self.store, self.url, self.poll = store, url, poll
        # as logs show it: a webhook's path or user part is often its secret
        self.host = urlsplit(url).netloc.rpartition("@")[2]
        self.first, self.most = backoff
        self.stopped = threading.Event()
        self.warnings = Warnings()
        self.thread = threading.Thread(target=self._run, name="lostcard-alerts", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        self.thread.join()

    def _run(self):
        import httpx

        with httpx.Client(timeout=POST_TIMEOUT) as client:
            wait = 0.0
            while not self.stopped.wait(wait):
                try:
                    wait = self.round(client)
                except Exception as exc:  # a database gone (503s say it too): try again later
                    self.warnings.note("alerts not read from the outbox: %s: %s"
                                       % (type(exc).__name__, exc))
                    wait = self.poll

    def round(self, client):
        """Post the due alerts, oldest first; the seconds to wait before the next round (a
        failed post's backoff: the receiver is down for the rest too)."""
        now = _ms()
        for key, body in self.store.due_alerts(now, DUE_AT_ONCE):
            attempts = self.store.claim_alert(key, now, now + int(LEASE * 1000))
            if attempts is None:  # another collector's sender holds or sent it
                continue
            why = self._post(client, body)
            if why is None:
                self.store.alert_sent(key, int(time.time()))
                continue
            delay = min(self.first * 2 ** attempts, self.most)
            self.store.alert_failed(key, _ms() + int(delay * 1000))
            self.warnings.note("alerts not delivered to %s (%s): each retried, backing off "
                               "up to %d s" % (self.host, why, self.most))
            return delay
        return self.poll

    def _post(self, client, body):
        """None if the receiver took `body` (2xx), else why not."""
        import httpx

        try:
            answer = client.post(self.url, content=body.encode("utf-8"),
                                 headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return None if 200 <= answer.status_code < 300 else "HTTP %d" % answer.status_code


def _ms():
    return int(time.time() * 1000)
