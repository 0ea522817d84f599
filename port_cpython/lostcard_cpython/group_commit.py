"""Group commit: one writer thread for the collector's store, many verifiers (docs/SYNC.md).

Requests open and check their records in the ingest threads, then hand the checked batch to the
Writer and wait. The writer takes every batch waiting, commits them in one transaction (one
fsync for them all) and then answers each request: its quarantined count, or the exception that
failed the commit, to every batch of that group. A request acknowledges only after that answer,
so no ack is ever sent for records that are not durable. One thread: SQLite takes one writer,
and a second would only wait on its lock.
"""

import asyncio
import threading
import time

MAX_GROUP = 256  # batches in one transaction (the in-flight bound keeps it far lower today)
# seconds a request waits for the commit holding its batch: past it, 503 (nothing acknowledged)
# and the writer reported stuck (a COMMIT that cannot finish: a stalled disk, a missing standby)
COMMIT_DEADLINE = 60


class Writer:
    def __init__(self, commit):
        """`commit(batches)`: stores them in one transaction, returns each one's result (or the
        exception that failed that batch alone)."""
        self.commit_group = commit
        self.lock = threading.Condition()
        self.waiting = []  # (batch, future, its loop): batches ready, in arrival order
        self.thread = None
        self.since = None  # when the commit running now began (time.monotonic)

    def stuck(self):
        """How long the commit running now has run, if past COMMIT_DEADLINE; else None."""
        since = self.since
        if since is not None and time.monotonic() - since > COMMIT_DEADLINE:
            return time.monotonic() - since
        return None

    async def commit(self, batch):
        """`batch`'s result, once the transaction that holds it committed; the exception that
        failed that transaction otherwise; asyncio.TimeoutError past COMMIT_DEADLINE (the batch
        may still commit: it is not acknowledged, and its terminal sends it again)."""
        return await asyncio.wait_for(self._commit(batch), COMMIT_DEADLINE)

    async def _commit(self, batch):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.lock:
            self.waiting.append((batch, future, loop))
            if self.thread is None:  # started here: the app is made before any loop runs
                self.thread = threading.Thread(target=self._run, name="lostcard-writer",
                                               daemon=True)
                self.thread.start()
            self.lock.notify()
        return await future

    def _run(self):
        while True:
            with self.lock:
                while not self.waiting:
                    self.lock.wait()
                group, self.waiting = self.waiting[:MAX_GROUP], self.waiting[MAX_GROUP:]
            self.since = time.monotonic()
            try:
                results = [(r, None) if isinstance(r, Exception) else (None, r)  # failed alone
                           for r in self.commit_group([g[0] for g in group])]
            except Exception as exc:  # the whole group failed: none of it is acknowledged
                results = [(exc, None)] * len(group)
            self.since = None
            for (_, future, loop), (exc, result) in zip(group, results):
                try:
                    loop.call_soon_threadsafe(_settle, future, exc, result)
                except RuntimeError:  # its loop closed meanwhile: nobody waits for the answer
                    pass


def _settle(future, exc, result):
    if future.done():  # the request was cancelled (its client went away)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
