"""Uploading the queue to the collector: one byte-bounded batch at a time, urgent lanes first,
forgetting records only for acknowledgements that verify (docs/SYNC.md).

`transport` and `random_bytes` are the platform's (lostcard/platform.py: Transport.post, fresh
nonces). Every step can be interrupted at any point: what was not acknowledged stays in the queue
and is sent again; the collector stores it once.
"""

from . import protocol
from .errors import SyncError

BATCH_PATH = "/v1/batch"


def backoff_delay(failures, uniform, base=1.0, cap=300.0):
    """The wait after the (`failures` + 1)-th failure in a row: exponential backoff with full
    jitter, a uniform time in [0, min(cap, base * 2**failures)], so that a fleet whose link came
    back at once spreads its retries out."""
    return uniform(0, min(cap, base * (1 << min(failures, 30))))


def retry_delay(exc, failures, uniform, cap=300.0):
    """backoff_delay, but never shorter than a busy collector's Retry-After, which transports
    pass as the SyncError's second argument (lostcard/platform.py)."""
    delay = backoff_delay(failures, uniform, cap=cap)
    if isinstance(exc, SyncError) and len(exc.args) > 1:
        return max(delay, exc.args[1] or 0)
    return delay


BATCH_BYTES = 1536  # records per batch until a collector says it accepts more, and the most a
# terminal sends unless told it has the heap for more (docs/DEVICE.md: a bigger batch is not
# heap-safe for the .mpy bundle at 64 KiB)


class Uploader:
    def __init__(self, queue, transport, crypto, random_bytes, device_id, ack_key,
                 batch_bytes=None, progress=None, last_failed=0, max_batch=None, updates=None):
        self.queue = queue
        self.transport = transport
        self.crypto = crypto
        self.random_bytes = random_bytes
        self.device_id = device_id
        self.ack_key = ack_key
        # bytes of records per batch: BATCH_BYTES, then min(max_batch, what the collector
        # accepts) once a reply says so under its MAC
        self.batch_bytes = batch_bytes or BATCH_BYTES
        self.max_batch = max_batch or BATCH_BYTES
        self.progress = progress
        # the lane whose batch failed last goes after the others: a lane the collector never
        # acknowledges (a record it fails on) must not hold back the rest of the backlog
        self.last_failed = last_failed
        self.updates = updates  # batch key 7: what the terminal runs (None: not sent)
        self.offer = None  # [policy, watchlist] the last acknowledgement offered, under its MAC

    def _batch(self):
        """(lane, [(seq, sealed)]) of the next batch, urgent lanes first; (None, []) if none."""
        # round robin from the lane after it: two failing lanes must not starve the third
        for lane in (1, 2, 3, 1, 2, 3)[self.last_failed:self.last_failed + 3]:
            batch = []
            size = 0
            for seq, sealed in self.queue.pending(lane):
                if batch and (size + len(sealed) > self.batch_bytes
                              or len(batch) >= protocol.MAX_RECORDS):
                    break
                batch.append((seq, sealed))
                size += len(sealed)
            if batch:
                return lane, batch
        return None, []

    def step(self):
        """Upload at most one batch; return how many records it acknowledged (0: nothing to do).

        Raises SyncError if the batch did not go through; nothing is forgotten then.
        """
        lane, batch = self._batch()
        if not batch:
            return 0
        self.last_failed = lane  # until the collector acknowledges some of it
        nonce = self.random_bytes(protocol.NONCE_LEN)
        items = [[q, s] for q, s in batch]
        digest = protocol.digest(items)
        body = protocol.encode_batch(self.crypto, self.ack_key, self.device_id, nonce, lane, items,
                                     self.queue.gaps(), digest, self.updates)
        status, reply = self.transport.post(BATCH_PATH, body)
        if status != 200:
            raise SyncError("collector answered %d" % status)
        verified = protocol.verified_ack(self.crypto, self.ack_key, self.device_id, nonce, digest,
                                         reply)
        if verified is None:
            raise SyncError("acknowledgement did not verify: nothing forgotten")
        acked, high, accepts = verified
        self.offer = protocol.verified_offer(self.crypto, self.ack_key, self.device_id, nonce,
                                             reply)
        last = batch[-1][0]
        acked = min(acked, last)  # never forget what this request did not carry
        done = len([1 for seq, _ in batch if seq <= acked])
        if done == 0:
            raise SyncError("collector acknowledged none of the batch")
        if high is None:
            self.queue.ack(lane, acked)
        else:
            # `high`: what the collector held before this batch. Below a lane's cursor, it was
            # restored from an older copy: the lane goes back to it and is sent again, this
            # batch with it, else the ack would pass over what it lost (docs/SYNC.md)
            for i in (1, 2, 3):
                if not self.queue.rewind(i, high[i - 1]) and i == lane:
                    self.queue.ack(lane, acked)
            self.batch_bytes = min(self.max_batch, accepts)
        self.last_failed = 0
        if self.progress is not None:
            self.progress(done, self.queue.stats()["records"])
        return done

    def run(self, sleep, uniform, max_failures=None):
        """Upload until the queue is empty; back off with full jitter on failures. Returns the
        number of records acknowledged; stops after `max_failures` failures in a row if given."""
        failures = 0
        total = 0
        while True:
            try:
                done = self.step()
            except SyncError as exc:
                if max_failures is not None and failures + 1 >= max_failures:
                    raise
                sleep(retry_delay(exc, failures, uniform))
                failures += 1
                continue
            failures = 0
            if done == 0:
                return total
            total += done
