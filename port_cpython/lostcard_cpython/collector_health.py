"""Whether the collector's store takes writes: a batch whose store failed (disk full, an I/O
error, a read-only file) gets 503 with the reason and no acknowledgement, and `/v1/health`
answers 503 {"status": "degraded", "reason": ...} until a write succeeds again, a batch's or the
health check's own probe (docs/SYNC.md, "Storage faults"). A load balancer that takes a degraded
collector out of rotation still sees it come back."""

from starlette.responses import JSONResponse

from .collector_store import DatabaseError


class StoreHealth:
    def __init__(self, store, warn, stuck=lambda: None):
        """`stuck()`: how long the writer's commit has run past its deadline, else None."""
        self.store, self.warn, self.stuck = store, warn, stuck
        self.reason = None  # why the last write failed; None once one succeeded

    def failed(self, exc):
        """The 503 of a batch whose store raised `exc` (a DatabaseError): nothing acknowledged,
        the terminal keeps its records and sends them again."""
        self.reason = "storage: %s" % " ".join(str(exc).split())
        # one line a minute per reason: SQLite's are a few fixed phrases ("disk I/O error")
        self.warn("batches not stored (%s)" % self.reason, "a batch was not stored (%s): "
                  "answered 503, nothing acknowledged" % self.reason)
        return JSONResponse({"error": "%s: nothing acknowledged, send again later" % self.reason},
                            status_code=503)

    def stored(self):
        self.reason = None

    def status(self):
        """The health response (in a thread: it may write)."""
        stuck = self.stuck()
        if stuck is not None:  # a probe would only wait behind it
            return JSONResponse({"status": "degraded", "reason": "writer: a commit running for "
                                 "%d s" % stuck}, status_code=503)
        try:
            if self.reason is not None:
                self.store.write_probe()
                self.reason = None
            self.store.health()
        except DatabaseError as exc:
            self.reason = "storage: %s" % " ".join(str(exc).split())
        if self.reason is not None:
            return JSONResponse({"status": "degraded", "reason": self.reason}, status_code=503)
        return JSONResponse({"status": "ok"})
