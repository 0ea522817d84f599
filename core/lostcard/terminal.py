"""The one API a payment application calls on a terminal (docs/DEVICE.md).

    t = Terminal(config, platform)      # the port's Terminal passes its platform
    d = t.on_decline(event)             # classify, seal, queue durably; never the network
    t.sync_step()                       # at most one request to the collector, when due
    t.status()                          # for the terminal's status screen

`platform` is the port: what it must provide, each hook with its promises, is lostcard/platform.py.

With a small heap (config "resident": False, the MicroPython default) the work runs in phases
that never share the heap: deciding (classifier, record building), storing (sealing, queue) and
syncing (queue, protocol, HTTP). Each phase imports what it needs and drops it when it ends, so
the peak is the largest phase, not their sum. Frozen firmware, whose bytecode stays in flash,
and CPython set "resident": True and keep everything, the queue included, open.
"""

import gc
import os
import sys

from .errors import ConfigError, LostcardError

DEFAULT_BUDGET = 65536
DEFAULT_ROTATE = 1024
DEFAULT_CHECKIN = 3600  # seconds an idle terminal goes without word of updates before it asks
MAX_SYNC_DELAY = 300.0
INSTALLED = ((1, "policy.lcu"), (2, "watch.lcu"))  # lostcard.update's kinds and files


def config_number(config, key, default):
    value = config.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ConfigError(key + " must be a number, at least 0")
    return value


class Terminal:
    def __init__(self, config, platform):
        try:
            self.device_id = config["device_id"]
            self.queue_dir = config["queue_dir"]
            self.token_key = bytes.fromhex(config["token_key"])
        except KeyError as exc:
            raise ConfigError("config lacks %s" % exc.args[0])
        except (TypeError, ValueError):
            self.token_key = b""
        if len(self.token_key) != 32:
            raise ConfigError("token_key must be 32 bytes (64 hex digits)")
        self.url = config.get("collector_url")
        self.ca = config.get("collector_ca")  # a PEM file: what an https collector must prove
        if not isinstance(self.ca or "", str):
            raise ConfigError("collector_ca must be a path")
        scheme, sep, _ = str(self.url).lower().partition("://")
        if sep and scheme not in ("http", "https"):  # a typo (a platform may take other URLs)
            raise ConfigError("collector_url must start http:// or https://")
        if self.ca:
            if scheme == "http":  # the integrator meant TLS: do not send in clear
                raise ConfigError("collector_ca is for an https collector_url")
            try:
                os.stat(self.ca)
            except OSError:
                raise ConfigError("collector_ca %s: no such file" % self.ca)
        self.policy_path = config.get("policy")
        self.budget = config_number(config, "budget_bytes", DEFAULT_BUDGET)
        self.rotate = config_number(config, "rotate_bytes", DEFAULT_ROTATE)
        self.spread = config_number(config, "sync_spread_s", 60)
        self.max_batch = config_number(config, "max_batch_bytes", 0)  # 0: sync.BATCH_BYTES
        self.checkin = config_number(config, "checkin_s", DEFAULT_CHECKIN)  # 0: never
        self.resident = config.get("resident", False)
        self.platform = platform
        self.storage = platform.storage(self.queue_dir)
        self._policy = None
        self._queue = None  # resident mode only
        self._transport = None  # resident mode only
        # Queue.checkpoint() of the queue last closed in this power-on: a few dozen integers that
        # spare each phase's reopen the scan of every segment
        self._resume = None
        self.last_sync = None  # clock() of the last batch the collector acknowledged
        self.link = "unknown"  # "up" after an acknowledged batch, "down" after a failed one
        self._failures = 0
        self._last_failed = 0  # the lane that failed last: sync.Uploader sends it after the others
        self._batch_bytes = None  # the batch size the collector's last reply allowed (None: default)
        self._next_try = 0.0
        self.last_error = None
        self.torn_tails = 0  # since this boot
        # updates (docs/DEVICE.md "Updates"), per kind [policy, watchlist]: the versions
        # installed, the newest the collector told of, the one refused last (not fetched again)
        # and when the collector last told (clock(); None: not since boot)
        self._offer = [0, 0]
        self._skip = [0, 0]
        self._heard = [None, None]
        self.update_refused = None  # [kind, version, reason] until a reply to it comes back
        self.updating = False  # the last sync step fetched part of an update: more to fetch
        self._provision(config.get("provisioning"))
        # the versions installed, read as lostcard.update.installed reads them, without loading
        # it (and the protocol and CBOR with it) at boot: their names would stay in the heap
        from .watchlist import header, u32

        heads = [header(self.storage, name, b"LCU1" + bytes((kind,))) for kind, name in INSTALLED]
        self._versions = [u32(head, 8) if head else 0 for head in heads]
        self._the_policy()  # a bad policy file fails now, not at the first decline
        self._end_phase()

    # -- phases -------------------------------------------------------------------------------

    def _end_phase(self):
        """Drop the phase's modules so the next phase has the heap (resident mode: nothing)."""
        if self.resident:
            return
        keep = self.platform.keep
        for name in list(sys.modules):
            if name not in keep and name[:9] in ("lostcard.", "lostcard_"):
                del sys.modules[name]
                parent, _, child = name.rpartition(".")
                if parent in sys.modules:
                    sys.modules[parent].__dict__.pop(child, None)
        gc.collect()

    def _open_queue(self, sealing):
        """The queue: with a sealer to append (`sealing`), or writable for acks only."""
        if self._queue is not None:
            return self._queue
        from .queue import Queue

        # taken out, not shared: a phase that fails before it leaves a checkpoint (the open may
        # already have removed segments) makes the next one scan
        resume, self._resume = self._resume, None
        queue = Queue(self.storage, self._make_sealer if sealing else None,
                      rotate_bytes=self.rotate,
                      budget_bytes=self.budget, clock=self.platform.clock, writable=True,
                      resume=resume)
        self.torn_tails += queue.torn  # a reopened queue finds each torn append once
        if queue.device_id is not None and queue.device_id != self.device_id:
            raise ConfigError("queue %s belongs to %s, not %s"
                              % (self.queue_dir, queue.device_id, self.device_id))
        if self.resident and sealing:
            self._queue = queue
        return queue

    def _make_sealer(self, epoch, chain):
        from .sealing import Sealer  # here: the queue asks once its segments are read

        return Sealer(self.platform.crypto(), self.device_id, epoch, chain)

    def _provision(self, path):
        from .queue_state import STATE  # not the whole queue: this runs at every boot

        found = False
        for name in self.storage.list():  # to the end: a dropped listing keeps the directory open
            found = found or name == STATE
        if found:
            if path:  # a cut after provisioning left the file: key material must not stay
                try:
                    os.remove(path)
                except OSError:
                    pass
            return
        from .provisioning import provision

        try:
            provision(self.storage, self.device_id, path)
        finally:
            self._end_phase()

    def _the_policy(self):
        if self._policy is not None:
            return self._policy
        from .policy import DEFAULT

        policy = DEFAULT
        body = None
        if self._versions[0]:  # the collector's policy, installed, over the config file's
            from .update import policy_body

            body = policy_body(self.storage)
        if body is not None or self.policy_path:
            import json

            from .override import with_overrides

            try:
                if body is None:
                    with open(self.policy_path) as f:
                        body = f.read()
                policy = with_overrides(DEFAULT, json.loads(body))
            except (OSError, ValueError) as exc:
                raise ConfigError("policy file %s: %s" % (self.policy_path, exc))
        if self.resident:
            self._policy = policy
        return policy

    # -- the API ------------------------------------------------------------------------------

    def on_decline(self, event):
        """The decision to show for a decline `event` (docs/EVENT.md), once its incident is durable.

        Never touches the network. If the incident cannot be stored (a broken flash), the
        decision is still returned, with `stored` False and the reason in `store_error`.
        """
        decision, record = self._decide(event)
        self._end_phase()
        try:
            seq = self._store(record, decision["priority"])
            if seq is None:
                decision["store_error"] = "no room: counted as evicted"
        except Exception as exc:  # a broken flash, a full heap: the operator sees the decision
            seq = None
            decision["store_error"] = "%s: %s" % (type(exc).__name__, exc)
        finally:
            self._end_phase()
        decision["seq"] = seq
        decision["stored"] = seq is not None
        return decision

    def _decide(self, event):
        from .decision import classify
        from .record import build

        try:
            policy = self._the_policy()
        except ConfigError:  # the policy file broke since the boot checked it: the default decides
            policy = None
        crypto = self.platform.hmac()
        watch = self._watched(event, crypto) if self._versions[1] else None
        decision = classify(event, policy, watch)
        # seq 0 for now: the queue numbers the record as it seals it
        return decision, build(event, decision, self.device_id, 0, crypto, self.token_key)

    def _watched(self, event, crypto):
        """(watchlist version, terminals seen) if the card's token is on the installed
        watchlist; None if not, without a card number, or if the flash fails to say."""
        from .event import read_event
        from .record import token
        from .watchlist import lookup

        pan = read_event(event)[0]["pan"]
        try:
            return None if pan is None else lookup(self.storage, token(crypto, self.token_key, pan))
        except OSError:  # the decline still gets its decision, without the watchlist
            return None

    def _store(self, record, priority):
        queue = self._open_queue(True)
        seq = queue.append(record, priority)  # if it raises, no checkpoint: the next phase scans
        self._resume = queue.checkpoint()
        return seq

    def sync_step(self):
        """Upload at most one batch if one is due, else fetch at most one chunk of an update
        (docs/DEVICE.md "Updates"); return how many incidents the collector acknowledged (0:
        nothing to send, not due yet, an update's step, or the request failed: see `link`).

        Blocks at most for one request (the transport's timeout). After a failure the next try
        waits a backoff with full jitter, up to MAX_SYNC_DELAY seconds. `updating` says whether
        an update is being fetched, so a caller may step again at once.
        """
        self.updating = False
        now = self.platform.clock()
        if now + MAX_SYNC_DELAY + self.spread < self._next_try:
            self._next_try = now  # the clock went back: never wait past the longest backoff
        if self.url is None or now < self._next_try:
            return 0
        try:
            return self._upload_one()
        except (OSError, LostcardError, MemoryError) as exc:  # flash or heap: retried later
            self._back_off(exc)
            return 0
        finally:
            self._end_phase()

    def _back_off(self, exc):
        from .sync import retry_delay

        delay = retry_delay(exc, self._failures, self._uniform, MAX_SYNC_DELAY)
        self._next_try = self.platform.clock() + delay
        self._failures += 1
        self.last_error = "%s: %s" % (type(exc).__name__, exc)

    def _upload_one(self):
        from .errors import SyncError
        from .sync import Uploader

        queue = self._open_queue(self.resident)
        transport = self._transport or self.platform.transport(self.url, self.ca)
        if self.resident:
            self._transport = transport  # one HTTP client, its connection kept alive
        uploader = Uploader(queue, transport, self.platform.hmac(),
                            self.platform.random_bytes, queue.device_id, queue.ack_key,
                            self._batch_bytes, last_failed=self._last_failed,
                            max_batch=self.max_batch,
                            # batch key 7 only to a collector that spoke of updates since the
                            # boot: one of the previous release would refuse its MAC (403)
                            updates=None if self._heard == [None, None] else self._updates())
        try:
            done = uploader.step()
        except SyncError as exc:
            return self._link_failed(exc)
        finally:
            self._resume = queue.checkpoint()
            self._last_failed = uploader.last_failed
            self._batch_bytes = uploader.batch_bytes  # as the collector's last reply allowed
        device_id, ack_key, offer = queue.device_id, queue.ack_key, uploader.offer
        uploader = queue = None
        if not done:
            self._end_phase()  # the queue's and the batch's modules: a fetch needs neither
            from .fetch import due, step

            fetch = due(self)
            if fetch:
                try:
                    problem = step(self, transport, device_id, ack_key, fetch[0], fetch[1])
                except SyncError as exc:
                    return self._link_failed(exc)
                if problem:  # the collector answered, but not with an update: the link is up
                    self._back_off(SyncError(problem))
                    return 0
                self.updating = due(self) is not None  # more to fetch: a chunk, or the other kind's check-in
        self._failures = 0
        self._next_try = 0.0
        self.last_error = None
        if done:
            self.link = "up"
            self.last_sync = self.platform.clock()
            self.update_refused = None  # the batch carried it, and its acknowledgement verified
            if offer is not None:
                self._offer = offer
                self._heard = [self.last_sync, self.last_sync]
        return done

    def _link_failed(self, exc):
        self._back_off(exc)
        self.link = "down"
        return 0

    def _updates(self):
        """What the terminal runs, as batches and fetches tell the collector (protocol.py)."""
        return [self._versions[0], self._versions[1], self.update_refused]

    def link_returned(self, spread=None):
        """The payment application saw the host answer again: forget the backoff and sync
        within `spread` seconds (random, so a fleet back from one outage does not stampede;
        default the config's sync_spread_s, 0 for a terminal known to be alone)."""
        spread = self.spread if spread is None else spread
        self._failures = 0
        self._next_try = min(self._next_try, self.platform.clock() + self._uniform(0, spread))

    def _uniform(self, low, high):
        fraction = int.from_bytes(self.platform.random_bytes(4), "big") / 4294967296
        return low + (high - low) * fraction

    def status(self):
        """What the terminal's status screen shows: queue depth, oldest incident age, last sync,
        link state, and what was lost (evicted, corrupt) since provisioning."""
        try:
            stats = self._open_queue(self.resident).stats()
        except (OSError, LostcardError, MemoryError) as exc:
            return {"device_id": self.device_id, "link": self.link, "error": str(exc)}
        finally:
            self._end_phase()
        return {
            "device_id": self.device_id,
            "queued": stats["records"],
            "queued_bytes": stats["bytes"],
            "oldest_age_s": stats["oldest_age_s"],
            "last_sync": self.last_sync,
            "link": self.link,
            "last_error": self.last_error,  # why the link is down (a refused certificate...)
            "next_sync_in_s": max(0.0, self._next_try - self.platform.clock()),
            "evicted": sum(stats["evicted"].values()),
            "corrupt": stats["corrupt"],
            "torn_tails": self.torn_tails,  # appends a power cut interrupted, set aside
            "policy_version": self._versions[0],  # installed updates (0: none)
            "watchlist_version": self._versions[1],
            "update_refused": self.update_refused,  # [kind, version, reason] not yet reported
        }


async def sync_forever(terminal, idle_s=30.0, busy_s=0.0):
    """An asyncio task for firmware that runs asyncio: `asyncio.create_task(sync_forever(t))`.

    Each round is one sync_step (one request at most, blocking for its duration); between rounds
    the payment application runs. Sleeps `busy_s` while batches or an update's chunks go
    through, else `idle_s`.
    """
    import asyncio

    while True:
        try:
            done = terminal.sync_step()
        except Exception as exc:  # whatever happens, the task lives on and tries again later
            terminal.last_error = repr(exc)
            done = 0
        await asyncio.sleep(busy_s if done or terminal.updating else idle_s)
