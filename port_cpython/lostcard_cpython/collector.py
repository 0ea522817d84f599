"""The collector: an ASGI app (Starlette) that stores each incident once and acknowledges with
a MAC only after its transaction committed (docs/SYNC.md). Served by uvicorn.

    POST /v1/batch   CBOR batch in, CBOR reply out; 400 malformed, 413 too large
    GET  /v1/health  {"status": "ok", "incidents": n}
"""

import hashlib
import os
import threading
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lostcard import keys, protocol, record, record_check
from lostcard.errors import LostcardError, RecordError
from lostcard.protocol import ProtocolError

from . import crypto, fastcbor
from .collector_store import SqliteStore

MAX_BODY = 64 * 1024
# Test hook (fault tests only): "die_before_commit:N" or "die_after_commit:N" ends the process
# abruptly while handling the N-th batch, as a crash or a power cut would.
FAULT_ENV = "LOSTCARD_COLLECTOR_FAULT"


class Collector:
    def __init__(self, store, fleet_secret):
        self.store = store
        self.fleet_secret = fleet_secret
        self.fleet = keys.FleetKeys(crypto, fleet_secret)
        self.keys_lock = threading.Lock()  # FleetKeys caches as it opens
        self.batches = 0
        fault = os.environ.get(FAULT_ENV, "")
        self.fault, _, at = fault.partition(":")
        self.fault_at = int(at) if at else 0

    def _die_if(self, moment):
        if self.fault == moment and self.batches == self.fault_at:
            os._exit(70)

    def ingest(self, device, lane, items, gaps):
        """Open, check and store one batch; return (acknowledged seq, quarantined count)."""
        self.batches += 1
        rows, quarantined = [], []
        now = int(time.time())
        for seq, sealed in items:
            try:
                with self.keys_lock:
                    r = record_check.open_sealed(crypto, self.fleet, sealed, fastcbor.decode)
                if r[record.K_DEVICE] != device:
                    raise RecordError("sealed by another device")
                if r[record.K_SEQ] != seq:
                    raise RecordError("sequence number differs from the batch's")
            except LostcardError as exc:
                reason = str(exc)[:120] or type(exc).__name__
                quarantined.append((device, hashlib.sha256(sealed).digest(), reason, sealed))
                continue
            card = r.get(record.K_CARD) or {}
            rows.append((device, seq, r.get(record.K_TIME), record.CAUSES[r[record.K_CAUSE]],
                         _name(record.SUBCAUSES, r[record.K_SUBCAUSE]),
                         record.ACTIONS[r[record.K_ACTION]], r[record.K_PRIORITY], card.get(3),
                         card.get(1), r[record.K_POLICY], now, sealed))
        self._die_if("die_before_commit")
        self.store.store_batch(device, rows, quarantined, gaps)
        self._die_if("die_after_commit")
        acked = max([seq for seq, _ in items] + [0])  # stored, already held, or quarantined
        return acked, len(quarantined)

    def reply(self, device, nonce, acked, quarantined):
        ack_key = keys.ack_key(crypto, self.fleet_secret, device)
        return protocol.encode_reply(crypto, ack_key, device, nonce, acked, quarantined)


def _name(catalog, value):
    return record.name_of(catalog, value) if isinstance(value, int) else value


def _error(status, why):
    return JSONResponse({"error": why}, status_code=status)


def make_app(store, fleet_secret, max_body=MAX_BODY):
    collector = Collector(store, fleet_secret)

    async def batch(request):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return _error(413, "body larger than %d bytes" % max_body)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return _error(413, "body larger than %d bytes" % max_body)
        try:
            device, nonce, lane, items, gaps = protocol.decode_batch(body, max_body)
            keys.check_device_id(device)
        except (ProtocolError, keys.KeyScheduleError) as exc:
            return _error(400, str(exc))
        acked, quarantined = await run_in_threadpool(collector.ingest, device, lane, items, gaps)
        return Response(collector.reply(device, nonce, acked, quarantined),
                        media_type="application/cbor")

    async def health(request):
        return JSONResponse({"status": "ok",
                             "incidents": (await run_in_threadpool(store.stats))["incidents"]})

    return Starlette(routes=[Route("/v1/batch", batch, methods=["POST"]),
                             Route("/v1/health", health, methods=["GET"])])


def serve(db_path, fleet_secret, host="127.0.0.1", port=8080):
    import uvicorn

    store = SqliteStore(db_path)
    uvicorn.run(make_app(store, fleet_secret), host=host, port=port, log_level="warning")
