"""The collector's GET /metrics in the Prometheus exposition format (prometheus_client), behind
a bearer token (docs/MONITORING.md: the names, the labels, and why a token).

The fleet's figures are read from the store at each scrape (StoreFigures), so several collector
processes on one PostgreSQL all report the same ones; only the ingest latency is the process's
own (a Histogram observed by the batch handler).
"""

import hmac

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from lostcard.errors import LostcardError

# seconds from a batch's body received to its commit: the writer's group commit is ~ms, a disk
# or a database in trouble seconds
INGEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MIN_TOKEN = 16  # characters of a metrics token


def read_token(path):
    """The bearer token in `path` (its first line, stripped), or one line saying what is
    wrong with it."""
    try:
        with open(path, "rb") as f:
            text = f.read(4096).decode("ascii").strip()
    except OSError as exc:
        raise LostcardError("--metrics-token-file %s: %s" % (path, exc.strerror)) from None
    except UnicodeDecodeError:
        text = ""
    if len(text) < MIN_TOKEN or not text.isprintable() or " " in text:
        raise LostcardError("--metrics-token-file %s: want one token of at least %d printable "
                            "ASCII characters, no spaces (e.g. `lostcard keygen --out %s`)"
                            % (path, MIN_TOKEN, path))
    return text


class StoreFigures:
    """A prometheus_client custom collector: the store's aggregates, read when scraped."""

    def __init__(self, store):
        self.store = store

    def describe(self):  # registering asks; the answer must not read the database
        return []

    def collect(self):
        stats = self.store.stats()
        incidents = CounterMetricFamily(
            "lostcard_incidents", "Incidents stored, by cause and terminal",
            labels=["cause", "terminal"])
        for device, cause, count in self.store.incident_counts():
            incidents.add_metric([cause, device], count)
        yield incidents
        quarantined = CounterMetricFamily(
            "lostcard_quarantined", "Records quarantined, by reason (unrecorded: past the rows "
            "kept per terminal, counted only)", labels=["reason"])
        reasons = stats["quarantine_reasons"]
        for reason, count in sorted(reasons.items()):
            quarantined.add_metric([reason], count)
        quarantined.add_metric(["unrecorded"], stats["quarantined"] - sum(reasons.values()))
        yield quarantined
        gaps = CounterMetricFamily(
            "lostcard_known_gaps", "Records lost before upload, as the terminals report them "
            "(evicted_1..3: evicted from that priority lane; corrupt), or lost to a restore",
            labels=["kind"])
        known = stats["known_gaps"]
        for lane, count in sorted(known["evicted"].items()):
            gaps.add_metric(["evicted_%d" % lane], count)
        gaps.add_metric(["corrupt"], known["corrupt"])
        gaps.add_metric(["lost_to_restore"], known["lost_to_restore"])
        yield gaps
        behind = GaugeMetricFamily(
            "lostcard_terminals_behind", "Terminals running an older policy or watchlist than "
            "the newest published", labels=["update"])
        for update, count in sorted(self.store.behind_counts().items()):
            behind.add_metric([update], count)
        yield behind
        alerts = GaugeMetricFamily("lostcard_alerts", "Alerts in the outbox, pending or sent",
                                   labels=["state"])
        for state, count in sorted(self.store.alert_counts().items()):
            alerts.add_metric([state], count)
        yield alerts


class Metrics:
    """The registry of one collector process and its token; the store's figures read through
    the store's reader (a connection of its own)."""

    def __init__(self, store, token):
        self.token = token
        # no `_created` series: in the text format one more gauge per histogram, which nothing
        # reads (the process's start is no news to a scraper)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(StoreFigures(store.reader()))
        self.ingest = Histogram("lostcard_ingest_seconds", "Seconds from a batch's body "
                                "received to its commit, in this collector process",
                                buckets=INGEST_BUCKETS, registry=self.registry)

    def allowed(self, authorization):
        """Whether the request's Authorization header carries the token (compared in constant
        time: its timing says nothing of how much of a guess was right)."""
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode())

    def exposition(self, accept):
        """(body, content type): every figure now (reads the database), in the format the
        scraper's Accept header asks for (Prometheus text, or OpenMetrics)."""
        from prometheus_client.exposition import choose_encoder

        encode, kind = choose_encoder(accept)
        return encode(self.registry), kind
