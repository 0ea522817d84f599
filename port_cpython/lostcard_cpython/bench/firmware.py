"""`lostcard bench firmware`: the device budgets where a terminal runs them, side by side: the .mpy
bundle on the 64-bit PyPI interpreter, lostcard frozen into the 32-bit unix build, and frozen into
the Cortex-M3 board in QEMU (`lostcard build-firmware`, built before anything is measured).

For each, the smallest heap for (a) boot + Terminal(), (b) 50 declines with a 1,000-incident backlog,
(c) one sync step and (d) one sync step over https (the unix builds; the QEMU board has no network:
(d) - (c) is what TLS costs the MicroPython heap; mbedtls's own buffers, which the unix port takes
from libc, are measured beside it by valgrind's massif), found by probing heaps in
1 KiB steps (port_mpy/tools/lostcard_tools/bench_heap.py): the unix interpreters at -X heapsize,
the board, whose heap is fixed when it is built, by a ballast taken from its 64 KiB first. A heap
counts once it and the two above it pass: random nonces move the need by a little.
Every column starts from the same backlog, made once by the emulator's Terminal with the same
keys; the unix columns keep it in a directory (the host's file system: no cache in the heap), the
board on LittleFS in its flash (whose caches are in the heap): not the same storage, so the board's
figure is the one to hold against the goal. The phases mode (the default) everywhere. On the board, on_decline is also counted in instructions (QEMU
-icount shift=0: one instruction per virtual nanosecond).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .. import firmware, provision
from .. import scenarios as scenario_file
from ..local_collector import LocalCollector
from ..paths import micropython_env, tool
from ..qemu_board import Qemu
from ..tls_collector import HttpsCollector, self_signed
from .harness import built_bundle

SECRET = bytes(range(9, 41))
DEVICE = "BENCH-FW-1"
BACKLOG = 1000
DECLINES = 50
MHZ = 168  # a Cortex-M3/M4 terminal's clock, at one instruction per cycle: a lower bound
GOALS = {"declines": 40, "boot+decline+sync": 48}
STEPS = ("boot", "declines", "sync", "sync_tls")
BOARD_HEAP_KIB = firmware.DEFAULT_HEAP >> 10


def _backlog(tmp, url):
    """A terminal provisioned and filled with BACKLOG incidents by the emulator: its directory."""
    from ..terminal import Terminal

    home = Path(tmp) / "terminal"
    home.mkdir()
    provision.write(str(home / "prov.cbor"), SECRET, DEVICE)
    config = {"device_id": DEVICE, "queue_dir": "q", "token_key": "77" * 32,
              "provisioning": "prov.cbor", "collector_url": url, "sync_spread_s": 0,
              "budget_bytes": 512 << 10}
    (home / "lostcard.json").write_text(json.dumps(config))
    events = [item["event"] for item in scenario_file.load()]
    with open(home / "declines.jsonl", "w", encoding="utf-8") as f:
        for n in range(DECLINES):
            f.write(json.dumps(events[n % len(events)], ensure_ascii=False) + "\n")
    cwd = os.getcwd()
    os.chdir(home)
    try:
        terminal = Terminal(config)
        for n in range(BACKLOG):
            terminal.on_decline(events[n % len(events)])
    finally:
        os.chdir(cwd)
    return home


def _over_tls(home, tmp, url, cert):
    """The backlog's terminal, copied, syncing to the https collector at `url` and pinning its
    certificate `cert`: its directory."""
    tls_home = Path(tmp) / "terminal-tls"
    shutil.copytree(home, tls_home)
    shutil.copyfile(cert, tls_home / "collector.pem")
    config = json.loads((home / "lostcard.json").read_text())
    config.update(collector_url=url, collector_ca="collector.pem")
    (tls_home / "lostcard.json").write_text(json.dumps(config))
    return tls_home


def _probe_unix(exe, path, homes, tmp, step, heap_kib, rom=None):
    """`step` run on a copy of its terminal, homes[step] (or homes[None])."""
    work = Path(tmp) / "probe"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(homes.get(step, homes[None]), work)
    step = "sync" if step == "sync_tls" else step
    # a ROMFS image is read into the heap first: this unix build has no memory-mapped ROM
    mount = ("import sys, vfs; vfs.mount(vfs.VfsRom(open(%r, 'rb').read()), '/rom'); "
             "sys.path.insert(0, '/rom'); " % rom) if rom else ""
    code = mount + ("import lostcard_tools.bench_heap as b; b.main(%r, 'lostcard.json', 0, "
                    "'declines.jsonl', %d)" % (step, DECLINES))
    env = micropython_env(*path)
    proc = subprocess.run([str(exe), "-X", "heapsize=%dK" % heap_kib, "-c", code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    return _result(proc.stdout) if proc.returncode == 0 else None


def _beyond_heap(exe, path, homes, tmp, step, heap_kib=64):
    """Peak bytes malloc'd beyond the MicroPython heap while `step` runs on frozen unix32, by
    valgrind's massif (None without valgrind): the unix port's mbedtls takes its buffers from
    libc, where a board's (MICROPY_MBEDTLS_CONFIG_BARE_METAL) takes them from that heap."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    work = Path(tmp) / "probe-massif"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(homes.get(step, homes[None]), work)
    out = work / "massif.out"
    subprocess.run([valgrind, "--tool=massif", "--massif-out-file=%s" % out, str(exe), "-X",
                    "heapsize=%dK" % heap_kib, "-c", "import lostcard_tools.bench_heap as b; "
                    "b.main('sync', 'lostcard.json', 0)"], cwd=work, env=micropython_env(*path),
                   capture_output=True, timeout=600)
    return max(int(n) for n in re.findall(r"mem_heap_B=(\d+)", out.read_text())) - (heap_kib << 10)


def _result(out):
    if out is None:
        return None
    for line in out.splitlines():
        if line.startswith("OK "):
            return json.loads(line[3:])
    return None


def _romfs(tmp):
    """The device bundle as a ROMFS image (mpremote's builder): its path and size."""
    import contextlib
    import io

    from mpremote.romfs import make_romfs

    from .. import mpybuild

    device = Path(tmp) / "device"
    mpybuild.build(device, tools=False)
    with contextlib.redirect_stdout(io.StringIO()):  # it lists every file it packs
        image = make_romfs(str(device), mpy_cross=False)
    path = Path(tmp) / "bundle.romfs"
    path.write_bytes(image)
    return str(path), len(image)


def _board_image(elf, home, bundle, tmp):
    """The board's flash with the backlog, the config, the declines and the probe tool on it."""
    work = Path(tmp) / "board"
    work.mkdir()
    board = Qemu(elf, work)
    try:
        board.run("import os; os.mkdir('q'); os.mkdir('lostcard_tools')")
        for path in sorted((home / "q").iterdir()):
            board.put("q/" + path.name, path.read_bytes())
        for name in ("lostcard.json", "declines.jsonl"):
            board.put(name, (home / name).read_bytes())
        for name in ("__init__.mpy", "bench_heap.mpy"):
            board.put("lostcard_tools/" + name, (Path(bundle) / "lostcard_tools" / name).read_bytes())
        board.reset()
    finally:
        board.close()
    return work / Qemu.IMAGE


def _probe_board(elf, image, tmp, step, heap_kib):
    work = Path(tmp) / "probe-board"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copyfile(image, work / Qemu.IMAGE)
    board = Qemu(elf, work, icount=True)
    try:
        ballast = BOARD_HEAP_KIB - heap_kib << 10
        out = board.run_unchecked("import lostcard_tools.bench_heap as b; b.main(%r, 'lostcard.json', %d, "
                                  "'declines.jsonl', %d)" % (step, ballast, DECLINES))
    finally:  # the probe's flash is thrown away: power off without asking the board
        board.close()
    return _result(out)


def smallest(probe, lo, hi):
    """The smallest heap (KiB) in lo..hi from which it and the two above pass, with its result;
    (None, None) if none does. A bisection finds the edge, then the heaps above are checked."""
    while lo < hi:
        mid = (lo + hi) // 2
        if probe(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    for heap in range(lo, hi + 1):
        first = probe(heap)
        # heaps past the top cannot be probed (the board's is fixed): they count as passing
        if first is not None and all(probe(h) is not None for h in (heap + 1, heap + 2) if h <= hi):
            return heap, first
    return None, None


def run(out, source=None):
    source = Path(source or firmware.DEFAULT_SOURCE)
    if not source.exists():
        raise firmware.FirmwareError("no MicroPython source at %s: give --micropython SRC (1.28.0, a "
                                     "tree or its .tar.xz)" % source)
    with tempfile.TemporaryDirectory() as tmp, built_bundle() as bundle:
        exe32 = firmware.build_firmware(source, "unix32", Path(tmp) / "unix32")
        elf = firmware.build_firmware(source, "qemu-mps2-an385", Path(tmp) / "qemu")
        tools = firmware.tools_only(bundle, Path(tmp) / "tools")  # the frozen lostcard must be used
        secret = Path(tmp) / "fleet.secret"
        secret.write_text(SECRET.hex())
        collector = LocalCollector(Path(tmp) / "collector.db", secret).start()
        cert, key = self_signed(Path(tmp) / "collector.pem")
        https = HttpsCollector(Path(tmp) / "collector-tls.db", SECRET, cert, key).start()
        try:
            home = _backlog(tmp, collector.url)
            homes = {None: home, "sync_tls": _over_tls(home, tmp, https.url, cert)}
            image = _board_image(elf["path"], home, bundle, tmp)
            rom, rom_size = _romfs(tmp)
            columns = {
                "PyPI .mpy (64-bit)": lambda step, kib: _probe_unix(tool("micropython"), [bundle], homes,
                                                                    tmp, step, kib),
                "PyPI ROMFS (64-bit)": lambda step, kib: _probe_unix(tool("micropython"), [tools], homes,
                                                                     tmp, step, kib, rom),
                "frozen unix32": lambda step, kib: _probe_unix(exe32["path"], [tools], homes,
                                                               tmp, step, kib),
                "frozen Cortex-M3": lambda step, kib: None if step.startswith("sync") else _probe_board(
                    elf["path"], image, tmp, step, kib),
            }
            found = {name: {step: smallest(lambda kib: probe(step, kib), 8,
                                           BOARD_HEAP_KIB if "M3" in name else 512)
                            for step in STEPS}
                     for name, probe in columns.items()}
            # on_decline's cost at the board's whole heap: at the smallest one the collector runs
            # far more often than a terminal's would
            timed = _probe_board(elf["path"], image, tmp, "declines", BOARD_HEAP_KIB)
            mbedtls = {step: _beyond_heap(exe32["path"], [tools], homes, tmp, step)
                       for step in ("sync", "sync_tls")}
        finally:
            collector.stop()
            https.stop()
    _report(out, found, timed, exe32, elf, rom_size, mbedtls)


def _more(steps):
    tls, plain = steps["sync_tls"][0], steps["sync"][0]
    return "%+d" % (tls - plain) if tls is not None and plain is not None else "?"


def _report(out, found, timed, exe32, elf, rom_size, mbedtls):
    out.write("lostcard bench firmware: smallest heap (KiB) per step, phases mode, a %d-incident "
              "backlog\n" % BACKLOG)
    names = list(found)
    out.write("%-40s" % "" + "".join("%20s" % n for n in names) + "\n")
    for step, label in (("boot", "(a) boot + Terminal()"), ("declines", "(b) %d declines" % DECLINES),
                        ("sync", "(c) one sync step"), ("sync_tls", "(d) one sync step over https")):
        cells = []
        for name in names:
            heap, _ = found[name][step]
            cells.append("-" if heap is None and "M3" in name and step.startswith("sync") else
                         "none <= max" if heap is None else "%d" % heap)
        out.write("%-40s" % label + "".join("%20s" % c for c in cells) + "\n")
    out.write("TLS handshake, certificate verified, in the MicroPython heap (the transport's "
              "objects, the CA's context): (d) - (c) = %s KiB\n"
              % ", ".join("%s %s" % (name, _more(found[name])) for name in names[:3]))
    if mbedtls["sync_tls"] is not None:
        out.write("TLS handshake, mbedtls's own buffers (on unix from libc, outside the heaps above; "
                  "on a board from the MicroPython heap): peak %d bytes malloc'd beyond the heap in "
                  "(d) on frozen unix32, %d in (c) (valgrind massif; in both the unix port takes a "
                  "32 KiB buffer for moments, never during the handshake)\n"
                  % (mbedtls["sync_tls"], mbedtls["sync"]))
    out.write("PyPI ROMFS: the %d-byte image is read into the heap (this interpreter has no "
              "memory-mapped ROM); on a board with ROMFS in flash subtract it: the modules run "
              "from the image in place\n" % rom_size)
    if timed:
        instructions = timed["median_us"] * 1000
        out.write("on_decline on the Cortex-M3 at its %d KiB heap (median of %d): %d instructions = "
                  "%.1f ms at %d MHz (one instruction per cycle; flash wait states and the flash's "
                  "own program time, which the emulated file costs nothing, come on top)\n"
                  % (BOARD_HEAP_KIB, DECLINES, instructions, instructions / MHZ / 1000, MHZ))
    m3 = found["frozen Cortex-M3"]
    u32 = found["frozen unix32"]
    steps = (m3["boot"][0], m3["declines"][0], u32["sync"][0])
    peak = max(steps) if None not in steps else None
    m3 = m3["declines"][0]
    out.write("goal: (b) on the Cortex-M3 <= %d KiB: %s (%s KiB)\n" % (
        GOALS["declines"], "met" if m3 and m3 <= GOALS["declines"] else "NOT met", m3))
    out.write("goal: boot + decline + sync step <= %d KiB (Cortex-M3 boot and declines, unix32 sync: the "
              "board has no network): %s (%s KiB)\n"
              % (GOALS["boot+decline+sync"], "met" if peak and peak <= GOALS["boot+decline+sync"]
                 else "NOT met", peak))
    for info in (exe32, elf):
        out.write("%s: %d bytes in flash, lostcard adds %d (goal <= 65536: %s); bundle %d bytes of .mpy\n" % (
            info["board"], info["size"], info["lostcard_adds"],
            "met" if info["lostcard_adds"] <= 65536 else "NOT met", info["bundle_mpy"]))
