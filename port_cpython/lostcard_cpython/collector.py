"""The collector: an ASGI app (Starlette) that stores each incident once and acknowledges with
a MAC only after its transaction committed (docs/SYNC.md). Served by uvicorn.

    POST /v1/batch   CBOR batch in, CBOR reply out; 400 malformed, 408 too slow, 413 too large,
                     429 busy (Retry-After), 503 not stored (collector_health)
    POST /v1/update  CBOR fetch in, a chunk of a policy or watchlist update out (updates.py);
                     400, 403, 408, 413, 429, 503 as /v1/batch
    GET  /v1/health  {"status": "ok"}, or 503 {"status": "degraded", "reason": ...}
    GET  /metrics    Prometheus figures, with --metrics-token-file only (lostcard_cpython.metrics)

Slow, idle and greedy clients are collector_server's.
"""

import asyncio
import hashlib
import logging
import os
import signal
import threading
import time

from anyio import CapacityLimiter, to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lostcard import protocol, record, vocab
from lostcard.collector import fleet, intake, record_check, updates
from lostcard.errors import LostcardError, RecordError
from lostcard.protocol import ProtocolError

from . import alerts, collector_server, crypto, fastcbor, group_commit
from .collector_health import StoreHealth
from .collector_store import DatabaseError
from .report_analysis import NOT_AUTHENTIC

MAX_BODY = 64 * 1024
# a batch's bytes besides its records' (at most 13 bytes of framing for each of MAX_RECORDS, the
# device id, nonce, gaps, MAC): a reply offers the records max_body leaves room for
BATCH_OVERHEAD = 4096
MAX_ACK_KEYS = 100000  # cached ack keys of authentic devices (32 bytes each)
MAX_AEADS = 10000  # cached AEAD objects of record keys (each (device, epoch) one)
MAX_STORED_GAPS = 100000  # gap counts remembered per (device, incarnation)
MAX_OBJECT_MACS = 100000  # object MACs of (device, incarnation, kind, version) made (16 bytes each)
NEWEST_EVERY = 1.0  # seconds between reads of the newest versions: another process may publish
READ_DEADLINE = 10.0  # seconds to receive a body
WARN_EVERY = 60.0  # seconds between warnings of quarantined batches: a flood logs one a minute
# Test hook (fault tests only): "die_before_commit:N" or "die_after_commit:N" ends the process
# abruptly while handling the N-th batch, as a crash or a power cut would.
FAULT_ENV = "LOSTCARD_COLLECTOR_FAULT"
log = logging.getLogger("lostcard.collector")


class Collector:
    def __init__(self, store, fleet_secret):
        self.store = store
        self.fleet_secret = fleet_secret
        self.fleet = fleet.FleetKeys(crypto, fleet_secret)
        self.crypto = AeadCache(crypto)
        self.keys_lock = threading.Lock()  # FleetKeys caches as it derives
        self.ack_keys = {}  # device -> ack key, of devices whose batches authenticated
        self.batches = 0  # checked so far: the fault hook's N-th batch
        self.count_lock = threading.Lock()
        self.stored_gaps = {}  # (device, incarnation) -> gap counts last committed
        self.warn_lock = threading.Lock()
        self.warned = {}  # kind -> (monotonic time of the last warning, batches not reported)
        fault = os.environ.get(FAULT_ENV, "")
        self.fault, _, at = fault.partition(":")
        self.fault_at = int(at) if at else 0
        self.newest_lock = threading.Lock()
        self.newest_read = None  # monotonic time of the last read of the newest versions
        self.newest = {}  # kind -> (newest version, its body), as last read
        self.object_macs = {}  # (device, incarnation, kind, version) -> object header

    def _die_if(self, moment, batches):
        if self.fault == moment and any(b.number == self.fault_at for b in batches):
            os._exit(70)

    def authenticate(self, device, nonce, lane, items, items_digest, gaps, mac, said=None):
        """(ack key, incarnation) of the batch if its request MAC checks under the ack key of the
        incarnation its first record names, or of the one before (a terminal past its 2**24
        numbers: its records are then quarantined with the reason); NotAuthenticated if not.
        At most two HKDFs for a device not yet seen; only keys that authenticated are cached, so
        made-up device ids fill nothing."""
        named = fleet.incarnation(items[0][0])
        return self._key_of(device, [i for i in (named, named - 1)
                                     if 0 <= i <= fleet.MAX_INCARNATION], lambda key:
                            intake.check_request(crypto, key, device, nonce, lane, items_digest,
                                                 gaps, mac, said), "batch")

    def _key_of(self, device, incarnations, check, what):
        """(ack key, incarnation): the first of `incarnations` under whose ack key check(key)
        raises no NotAuthenticated; that refusal (logged) if none."""
        refusal = intake.NotAuthenticated("%s not authenticated: its sequence numbers name no "
                                          "incarnation" % what)
        for incarnation in incarnations:
            key = self.ack_keys.get((device, incarnation)) or fleet.ack_key(
                crypto, self.fleet_secret, device, incarnation)
            try:
                check(key)
            except intake.NotAuthenticated as exc:
                refusal = exc
                continue
            if (device, incarnation) not in self.ack_keys:
                if len(self.ack_keys) >= MAX_ACK_KEYS:
                    self.ack_keys.clear()
                self.ack_keys[(device, incarnation)] = key
            return key, incarnation
        self._warn("refused %ses" % what, "%s from %s refused: %s" % (what, device, refusal))
        raise refusal

    def check(self, device, incarnation, lane, items, gaps, said=None, offer=False):
        """Open and check one batch of `lane` that authenticated as (device, incarnation), in an
        ingest thread: the Checked batch for the writer, with the store's high-water of (device,
        incarnation) before the batch (for the reply: below the terminal's cursor, a restore
        took records away and it sends them again; after the batch, its records would hide the
        hole; a terminal has one batch in flight at a time). Every record is acknowledged: stored, found
        already stored, or quarantined; no key is out of reach (fleet.FleetKeys), and a record
        naming another incarnation is quarantined before any key is derived. Gaps count only
        from a batch in which a record of the device opened, and only when they grew. `said`:
        the batch's updates (key 7), stored with it; `offer`: read the updates the reply
        offers too (Collector.offer)."""
        with self.count_lock:
            self.batches += 1
            number = self.batches
        rows, quarantined, tampers = [], [], []
        now = int(time.time())
        acked = 0
        opened = False
        for seq, sealed in items:
            try:
                with self.keys_lock:  # per record: one batch's key work holds up no other long
                    r = record_check.open_sealed(self.crypto, self.fleet, sealed,
                                                 fastcbor.decode, device, incarnation)
                if r[record.K_SEQ] != seq:
                    raise RecordError("sequence number differs from the batch's")
                rows.append(_row(device, seq, r, now, sealed))
                if alerts.tamper_fact(r):
                    tampers.append(seq)
                opened = True
            except Exception as exc:  # whatever a sealed record holds, it blocks nothing
                quarantined.append(_quarantine(device, sealed, exc))
            acked = seq
        if not opened or gaps is None or not self.gaps_grew(device, incarnation, gaps):
            gaps = None
        return Checked(number, device, incarnation, lane, rows, quarantined, gaps, acked,
                       self.store.high_water(device, incarnation), said,
                       self.offer() if offer else None, tampers)

    def gaps_grew(self, device, incarnation, gaps):
        """Whether a count in `gaps` is above what this process last committed for (device,
        incarnation): the store's counts only grow, so a batch that repeats them (nearly every
        one) writes no gaps row."""
        held = self.stored_gaps.get((device, incarnation))
        return held is None or any(g > h for g, h in zip(gaps, held))

    def commit(self, batches):
        """Store Checked `batches` in one transaction (the writer's thread); each one's
        quarantined count, once durable. The fault hook names the N-th batch checked."""
        self._die_if("die_before_commit", batches)
        counts = self.store.store_batches([(b.device, b.incarnation, b.rows, b.quarantined,
                                            b.gaps, b.lane, b.acked, b.said, b.tampered)
                                           for b in batches])
        self._die_if("die_after_commit", batches)
        for b, count in zip(batches, counts):
            if isinstance(count, Exception):  # this batch failed alone (PgStore.store_batches)
                continue
            if b.gaps is not None:
                if len(self.stored_gaps) >= MAX_STORED_GAPS:
                    self.stored_gaps.clear()
                held = self.stored_gaps.get((b.device, b.incarnation)) or b.gaps
                self.stored_gaps[(b.device, b.incarnation)] = [max(g, h) for g, h in
                                                               zip(b.gaps, held)]
            if count:  # the store quarantines a record under a sequence number already used too
                reason = b.quarantined[0][2] if b.quarantined else "sequence number reused"
                self._warn("batches with quarantined records",
                           "terminal %s: records quarantined: %d (%s)%s" % (
                               b.device, count, reason, "; its requests authenticate, so its "
                               "flash was altered or its keys are in other hands?"
                               if reason.startswith(NOT_AUTHENTIC) else ""))
        return counts

    def ingest(self, device, incarnation, lane, items, gaps):
        """Check and commit one batch on its own (no writer): (acknowledged seq, quarantined
        count)."""
        checked = self.check(device, incarnation, lane, items, gaps)
        return checked.acked, self.commit([checked])[0]

    def _warn(self, kind, line):
        """One line per kind of trouble at most every WARN_EVERY seconds (with how many batches it
        did not report): an operator must see a terminal, a fleet under another secret or a
        forger at work, and a flood must not flood the log. Batches run in threads."""
        with self.warn_lock:
            at, unwarned = self.warned.get(kind, (None, 0))
            now = time.monotonic()
            if at is not None and now - at < WARN_EVERY:
                self.warned[kind] = (at, unwarned + 1)
                return
            self.warned[kind] = (now, 0)
        log.warning("%s%s", line, "; %d more %s since the last warning" % (unwarned, kind)
                    if unwarned else "")

    def reply(self, key, device, nonce, checked, items_digest, quarantined, accepts):
        """The reply to a Checked batch once committed: its ack, the store's high-water from
        before it, the largest batch the collector `accepts` and the updates it offers."""
        return intake.encode_reply(crypto, key, device, nonce, checked.acked, items_digest,
                                   quarantined, checked.high, accepts, checked.offer)

    def offer(self):
        """[newest policy version, newest watchlist version], or None when the store cannot say
        (the batch is stored and acknowledged all the same; its terminal keeps the last offer
        it verified)."""
        try:
            newest = self.newest_objects()
        except DatabaseError as exc:
            self._warn("replies without an offer", "no update offered: storage: %s" % exc)
            return None
        return [newest[kind][0] for kind in updates.KINDS]

    def newest_objects(self):
        """{kind: (newest version, its body)} (0, b"" where none is published), read from the
        store at most every NEWEST_EVERY seconds: what another process publishes is served
        within a second, and a fleet of replies costs no query each. A body is read once per
        version (a published version never changes)."""
        with self.newest_lock:
            now = time.monotonic()
            if self.newest_read is not None and now - self.newest_read < NEWEST_EVERY:
                return self.newest
            newest = {}
            for kind, version in self.store.newest_versions().items():
                held = self.newest.get(kind)
                if held is not None and held[0] == version:
                    newest[kind] = held
                else:
                    newest[kind] = (version, self.store.published(kind, version) or b"")
            self.newest, self.newest_read = newest, now
            return newest

    def fetch_key(self, device, nonce, kind, version, offset, said, mac):
        """(ack key, incarnation) a fetch's MAC checks under: the device's newest incarnation
        the store knows (a fetch names none), or the one after it (a terminal provisioned again
        that has sent no batch yet); NotAuthenticated if neither. Only keys that authenticated
        are cached."""
        known = self.store.incarnation_of(device)
        return self._key_of(device, [i for i in (known, known + 1)
                                     if i <= fleet.MAX_INCARNATION], lambda key:
                            intake.check_fetch(crypto, key, device, nonce, kind, version, offset,
                                               said, mac), "fetch")

    def fetch(self, key, device, incarnation, nonce, kind, version, offset, said):
        """The reply to an authenticated fetch, once what the terminal `said` it runs is stored:
        the newest `kind`'s chunk at `offset`, from 0 if it asked for an older version;
        ProtocolError for an offset past the object's end."""
        self.store.record_updates(device, incarnation, said)
        newest, body = self.newest_objects()[kind]
        if not newest:
            return intake.encode_fetch_reply(crypto, key, device, nonce, 0, 0, 0, b"")
        if version not in (0, newest):
            offset = 0  # not the newest any more: the terminal starts the newest over
        length = protocol.HEADER_LEN + len(body)
        if offset > length:
            raise ProtocolError("fetch offset %d is past the object's %d bytes" % (offset,
                                                                                  length))
        chunk = updates.chunk(self.object_header(key, device, incarnation, kind, newest, body),
                              body, offset)
        return intake.encode_fetch_reply(crypto, key, device, nonce, newest, length, offset,
                                         chunk)

    def object_header(self, key, device, incarnation, kind, version, body):
        """The object's header for this device (its object MAC hashes the whole body), made once
        per (device, incarnation, kind, version): a download of 64 chunks hashes it once."""
        made = self.object_macs.get((device, incarnation, kind, version))
        if made is None:
            if len(self.object_macs) >= MAX_OBJECT_MACS:
                self.object_macs.clear()
            made = self.object_macs[(device, incarnation, kind, version)] = updates.header(
                crypto, key, device, kind, version, body)
        return made


class AeadCache:
    """The crypto module, with each record key's AEAD object kept (at most MAX_AEADS, then
    started again): a batch's records share one (device, epoch), and a terminal's next batch
    too. Used under the collector's keys lock."""

    def __init__(self, crypto_module):
        self.module = crypto_module
        self.hmac_sha256 = crypto_module.hmac_sha256  # per record: no __getattr__ on the way
        self.aeads = {}

    def aead(self, key):
        held = self.aeads.get(key)
        if held is None:
            if len(self.aeads) >= MAX_AEADS:
                self.aeads.clear()
            held = self.aeads[key] = self.module.aead(key)
        return held

    def __getattr__(self, name):  # the rest of the crypto contract, as it is
        return getattr(self.module, name)


class Checked:
    """One batch opened and checked, ready for the writer."""

    __slots__ = ("number", "device", "incarnation", "lane", "rows", "quarantined", "gaps",
                 "acked", "high", "said", "offer", "tampered")

    def __init__(self, number, device, incarnation, lane, rows, quarantined, gaps, acked, high,
                 said=None, offer=None, tampered=()):
        self.number, self.device, self.incarnation, self.lane = number, device, incarnation, lane
        self.rows, self.quarantined, self.gaps, self.acked = rows, quarantined, gaps, acked
        self.high, self.said, self.offer = high, said, offer
        self.tampered = tampered  # seqs whose facts say tampering (alerts)


def _row(device, seq, r, now, sealed):
    card = r.get(record.K_CARD) or {}
    return (device, seq, r.get(record.K_TIME), vocab.CAUSES[r[record.K_CAUSE]],
            record_check.stored_name(record.SUBCAUSES, r[record.K_SUBCAUSE]),
            vocab.ACTIONS[r[record.K_ACTION]],
            r[record.K_PRIORITY], card.get(3), card.get(1), r[record.K_POLICY], now, sealed)


def _quarantine(device, sealed, exc):
    reason = (str(exc) or type(exc).__name__)[:120]
    return (device, hashlib.sha256(sealed).digest(), reason, sealed)


def _error(status, why):
    return JSONResponse({"error": why}, status_code=status)


def make_app(store, fleet_secret, max_body=MAX_BODY, metrics_token=None):
    """The app; GET /metrics too if `metrics_token` (lostcard_cpython.metrics)."""
    collector = Collector(store, fleet_secret)
    accepts = max_body - BATCH_OVERHEAD
    writer = group_commit.Writer(collector.commit)
    storage = StoreHealth(store, collector._warn, writer.stuck)
    backpressure = collector_server.Backpressure()
    ingest_threads = CapacityLimiter(collector_server.INGEST_THREADS)
    ingesting = set()  # (device, incarnation) of the batches in flight

    fetching = set()  # (device, incarnation) of the fetches in flight

    async def read_body(request, limit):
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return None
        return body

    async def receive(request, limit):
        """(body, None), or (None, the error response) for a body that is not `limit` bytes or
        less, in READ_DEADLINE."""
        length = request.headers.get("content-length")
        if length is not None and not length.isdigit():
            return None, _error(400, "content-length is not a number")
        if length is not None and int(length) > limit:
            return None, _error(413, "body larger than %d bytes" % limit)
        try:
            body = await asyncio.wait_for(read_body(request, limit), READ_DEADLINE)
        except asyncio.TimeoutError:
            return None, _error(408, "body not received in %d s" % READ_DEADLINE)
        if body is None:
            return None, _error(413, "body larger than %d bytes" % limit)
        return body, None

    def busy():
        return JSONResponse({"error": "collector busy: retry later"}, status_code=429,
                            headers={"retry-after": backpressure.retry_after()})

    async def batch(request):
        body, refused = await receive(request, max_body)
        if refused is not None:
            return refused
        try:
            device, nonce, lane, items, gaps, mac, said = intake.decode_batch(body, max_body)
        except intake.NotAuthenticated as exc:
            return _error(403, str(exc))
        except ProtocolError as exc:
            return _error(400, str(exc))
        digest = protocol.digest(items)
        try:  # before anything is stored or any record key derived
            key, incarnation = collector.authenticate(device, nonce, lane, items, digest, gaps,
                                                      mac, said)
        except intake.NotAuthenticated as exc:
            return _error(403, str(exc))
        # one batch per terminal at a time: a terminal sends one, so a second is a replay (from
        # anyone who saw one on the link) and must not take the fleet's places in flight
        if (device, incarnation) in ingesting or not backpressure.enter():
            return busy()
        ingesting.add((device, incarnation))
        started = time.perf_counter()
        try:
            # the high-water the reply carries is read before the batch is stored (Collector.check)
            checked = await to_thread.run_sync(collector.check, device, incarnation, lane, items,
                                               gaps, said, True, limiter=ingest_threads)
            quarantined = await writer.commit(checked)  # the ack waits for the commit that holds it
        except DatabaseError as exc:  # the storage failed: 503 and health degraded (no ack)
            return storage.failed(exc)
        except asyncio.TimeoutError:  # its commit has not finished: no ack; health degraded
            return storage.failed(TimeoutError("the commit did not finish within %d s"
                                               % group_commit.COMMIT_DEADLINE))
        except Exception as exc:  # a commit that failed otherwise: its group gets 503, no ack
            collector._warn("failed commits", "batches not stored, answered 503: %s: %s"
                            % (type(exc).__name__, exc))
            return _error(503, "storage failed: retry later")
        finally:
            ingesting.discard((device, incarnation))
            backpressure.leave()
        storage.stored()
        if metrics is not None:
            metrics.ingest.observe(time.perf_counter() - started)
        return Response(collector.reply(key, device, nonce, checked, digest, quarantined,
                                        accepts), media_type="application/cbor")

    async def update(request):
        body, refused = await receive(request, intake.MAX_FETCH)
        if refused is not None:
            return refused
        try:
            device, nonce, kind, version, offset, mac, said = intake.decode_fetch(body)
        except intake.NotAuthenticated as exc:
            return _error(403, str(exc))
        except ProtocolError as exc:
            return _error(400, str(exc))
        try:
            key, incarnation = await run_in_threadpool(collector.fetch_key, device, nonce, kind,
                                                       version, offset, said, mac)
        except intake.NotAuthenticated as exc:
            return _error(403, str(exc))
        except DatabaseError as exc:
            return storage.failed(exc)
        if (device, incarnation) in fetching or not backpressure.enter():
            return busy()
        fetching.add((device, incarnation))
        try:
            reply = await to_thread.run_sync(collector.fetch, key, device, incarnation, nonce,
                                             kind, version, offset, said,
                                             limiter=ingest_threads)
        except ProtocolError as exc:
            return _error(400, str(exc))
        except DatabaseError as exc:
            return storage.failed(exc)
        finally:
            fetching.discard((device, incarnation))
            backpressure.leave()
        storage.stored()  # what it said is stored: the database takes writes
        return Response(reply, media_type="application/cbor")

    async def health(request):
        return await run_in_threadpool(storage.status)

    async def metrics_page(request):
        if not metrics.allowed(request.headers.get("authorization")):
            return JSONResponse({"error": "a bearer token is required"}, status_code=401,
                                headers={"www-authenticate": 'Bearer realm="lostcard"'})
        try:
            body, kind = await run_in_threadpool(metrics.exposition,
                                                 request.headers.get("accept"))
        except DatabaseError as exc:
            return _error(503, "database: %s" % type(exc).__name__)
        return Response(body, headers={"content-type": kind})

    routes = [Route("/v1/batch", batch, methods=["POST"]),
              Route("/v1/update", update, methods=["POST"]),
              Route("/v1/health", health, methods=["GET"])]
    metrics = None
    if metrics_token is not None:
        from .metrics import Metrics

        metrics = Metrics(store, metrics_token)
        routes.append(Route("/metrics", metrics_page, methods=["GET"]))
    app = Starlette(routes=routes)
    app.state.writer = writer
    return app


def bind(host, port):
    """The listening socket, made first: a port in use or an unknown host fails before anything
    is created."""
    import socket

    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise LostcardError("cannot listen on %s: %s" % (host, exc.strerror)) from None
    # the protocol number too: asyncio sets TCP_NODELAY only on sockets whose proto is TCP, and
    # without it every reply waited out Nagle and the client's delayed ACK (44 ms, not 1 ms)
    sock = socket.socket(info[0], socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise LostcardError("cannot listen on %s port %d: %s" % (host, port, exc.strerror)) \
            from None
    return sock


def server_config(app, access_log=False, tls=None):
    """uvicorn's configuration of the collector: also the plain receiver's that `lostcard bench
    sync` measures it against, so that both are served alike."""
    import functools

    import uvicorn

    # no limit_concurrency: it answers 503 to everyone once idle sockets fill it; the protocol
    # bounds connections at accept instead, and the app answers load with 429
    gate = collector_server.Gate()
    protocol = functools.partial(collector_server.GuardedProtocol, gate=gate, tls=tls)
    logging.getLogger("uvicorn.error").addFilter(collector_server.QuietParserErrors(gate.warnings))
    return uvicorn.Config(app, log_config=None, log_level="warning", access_log=access_log,
                          http=protocol, loop="asyncio",
                          timeout_keep_alive=collector_server.KEEP_ALIVE)


def serve(sock, store, fleet_secret, access_log=False, tls=None, metrics_token=None,
          alert_url=None):
    """Serve on the bound `sock` until interrupted; https if `tls` (an ssl.SSLContext); GET
    /metrics if `metrics_token`; the outbox's alerts posted to `alert_url` if given."""
    import uvicorn

    from .fleet_secret import fingerprint

    config = server_config(make_app(store, fleet_secret, metrics_token=metrics_token),
                           access_log, tls)
    if access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    host, port = sock.getsockname()[:2]
    sender = alerts.Sender(store, alert_url) if alert_url else None
    log.info("collector listening on %s://%s:%d, database %s (%s, %d incidents), "
             "fleet secret %s; /metrics %s; alerts %s", "https" if tls else "http",
             host if ":" not in host else "[%s]" % host, port, store.path, store.describe(),
             store.stats()["incidents"], fingerprint(fleet_secret),
             "off" if metrics_token is None else "behind a bearer token",
             "to " + sender.host if sender else "kept in the database")
    collector_server.raise_fd_limit()
    server = uvicorn.Server(config)
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again: SIGTERM too
    # then ends as Ctrl-C does, through the caller's cleanup (the database closed) and the CLI
    signal.signal(signal.SIGTERM, _interrupt)
    if sender is not None:
        sender.start()
    try:
        server.run(sockets=[sock])
    finally:
        if sender is not None:
            sender.stop()
    if not server.started:
        raise LostcardError("the collector did not start (see the lines above)")


def _interrupt(signum, frame):
    raise KeyboardInterrupt
