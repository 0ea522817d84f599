"""`lostcard bench fleet`: a fleet's reconnect storm against one collector. N terminals, each
with a backlog of incidents, start over a window (uniformly jittered, as their backoff spreads
them) and sync it; the load generator (fleet_load.py) runs in its own processes, the collector
(`lostcard collector serve`) in its own, started and healthy before the timed region.

At the end the collector's store is read back and set beside what the terminals sent and what
they were acknowledged: lost = acknowledged but not stored (a terminal forgot it), duplicated =
stored twice. The goals are issue 14's: 0 lost, 0 duplicated, p99 < 1 s for accepted requests,
every terminal done within fleet_load.CAP.
"""

import multiprocessing
import os
import random
import tempfile
import time

from lostcard.errors import LostcardError

from . import fleet_load

SEED = 14
P99_GOAL_MS = 1000.0
READY_TIMEOUT = 600.0  # seconds for the generators to seal their backlogs


def run(out, terminals=10000, window=60, per_terminal=5, db=None, processes=1, seed=SEED):
    from ..collector_store import open_store
    from ..local_collector import LocalCollector

    if db:
        _refuse_used(db)
    secret, run_id = os.urandom(32), os.urandom(3).hex()
    with tempfile.TemporaryDirectory() as tmp:
        db = db or os.path.join(tmp, "fleet.db")
        secret_file = os.path.join(tmp, "fleet.secret")
        with open(secret_file, "w") as f:
            f.write(secret.hex())
        server = LocalCollector(db, secret_file).start()
        try:
            target = ("127.0.0.1", server.port)
            tallies, elapsed = _storm(secret, run_id, terminals, window, per_terminal, target,
                                      processes, seed)
        finally:
            server.stop()
        store = open_store(db, readonly=True)
        try:
            held = store.sequences()
        finally:
            store.close()
    _verdict(out, terminals, window, per_terminal, processes, run_id, tallies, held, elapsed,
             "PostgreSQL" if db.startswith("postgresql://") else "SQLite")


def _refuse_used(db):
    """A --db an earlier run (or a collector) wrote belongs to another fleet secret (the bench
    draws a new one per run): its collector would refuse to start."""
    from ..collector_store import is_url, open_store, without_password

    if not is_url(db):
        used = os.path.exists(db)
    else:
        store = open_store(db, readonly=True, any_release=True)
        try:
            used = store.fleet_fingerprint() is not None
        finally:
            store.close()
    if used:
        raise LostcardError("--db %s holds an earlier run's database (each run draws its own "
                            "fleet secret): name a new file or an empty PostgreSQL database"
                            % without_password(db))


def _storm(secret, run_id, terminals, window, per_terminal, target, processes, seed):
    """The generators' tallies and the storm's seconds, from the common start to the last
    generator's end."""
    context = multiprocessing.get_context("spawn")  # no copy of this process's state
    pipes, procs = [], []
    try:
        for k in range(processes):
            mine, theirs = context.Pipe()
            proc = context.Process(target=fleet_load.worker, daemon=True, args=(
                theirs, secret, run_id, range(k, terminals, processes), per_terminal, target,
                seed))
            proc.start()
            theirs.close()  # the child's end: its death must end our recv() with EOFError
            pipes.append(mine)
            procs.append(proc)
        for pipe in pipes:  # every backlog sealed before the clock starts
            if not pipe.poll(READY_TIMEOUT):
                raise LostcardError("a load generator did not seal its backlogs in %d s"
                                    % READY_TIMEOUT)
            _receive(pipe)
        jitter = random.Random(seed)
        t0 = time.monotonic() + 0.5
        starts = {fleet_load.device_id(run_id, n): t0 + jitter.uniform(0, window)
                  for n in range(terminals)}
        for pipe in pipes:
            pipe.send(starts)
        tallies = [_receive(pipe) for pipe in pipes]
        return tallies, time.monotonic() - t0
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


def _receive(pipe):
    try:
        return pipe.recv()
    except EOFError:  # its traceback is above
        raise LostcardError("a load generator failed") from None


def _percentile(values, q):
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _verdict(out, terminals, window, per_terminal, processes, run_id, tallies, held, elapsed,
             backend):
    sent = {fleet_load.device_id(run_id, n): set(range(1, per_terminal + 1))
            for n in range(terminals)}
    latencies = sorted(ms for t in tallies for ms in t["latencies"])
    acked, done, errors = {}, {}, {}
    for t in tallies:
        acked.update(t["acked"])
        done.update(t["done"])
        for kind, count in t["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    refused = {status: sum(t["refused"][status] for t in tallies) for status in (429, 503)}
    stored = duplicated = lost = strangers = 0
    for device, seqs in sent.items():
        mine = held.get(device, [])
        stored += len(set(mine))
        duplicated += len(mine) - len(set(mine))
        strangers += len(set(mine) - seqs)
        lost += len({seq for seq in seqs if seq <= acked.get(device, 0)} - set(mine))
    incidents = terminals * per_terminal
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)

    def goal(label, value, met, wanted):
        out.write("%-52s %12s  (goal %s: %s)\n" % (label, value, wanted,
                                                   "met" if met else "NOT met"))

    out.write("lostcard bench fleet: %d terminals x %d incidents, starts over %d s, %d generator "
              "process(es) from %d loopback addresses, collector on %s\n" % (
                  terminals, per_terminal, window, processes,
                  len(fleet_load.SOURCE_ADDRESSES), backend))
    goal("lost (acknowledged, not stored)", lost, lost == 0, "0")
    goal("duplicated (stored twice)", duplicated, duplicated == 0, "0")
    goal("stored but never sent", strangers, strangers == 0, "0")
    goal("acks not covering their batch", sum(t["short_acks"] for t in tallies),
         not sum(t["short_acks"] for t in tallies), "0")
    goal("p99 of accepted requests (ms)", "%.0f" % p99, p99 < P99_GOAL_MS,
         "< %.0f" % P99_GOAL_MS)
    goal("terminals done within %d s" % fleet_load.CAP, "%d/%d" % (len(done), terminals),
         len(done) == terminals, "all")
    out.write("%-52s %12.1f\n" % ("slowest terminal, start to last ack (s)",
                                  max(done.values(), default=0.0)))
    out.write("%-52s %12.1f\n" % ("storm, first start to last terminal (s)", elapsed))
    out.write("%-52s %12d\n" % ("requests (accepted %d)" % len(latencies),
                                sum(t["requests"] for t in tallies)))
    out.write("%-52s %12s\n" % ("refused: 429 busy / 503 unavailable",
                                "%d / %d" % (refused[429], refused[503])))
    out.write("%-52s %12s\n" % ("other failures, retried", ", ".join(
        "%s %d" % item for item in sorted(errors.items())) or "none"))
    out.write("fleet: terminals=%d incidents=%d stored=%d lost=%d duplicated=%d p50_ms=%.0f "
              "p99_ms=%.0f refused=%d\n" % (terminals, incidents, stored, lost, duplicated, p50,
                                            p99, refused[429] + refused[503]))
