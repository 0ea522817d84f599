"""The firmware the tests run: lostcard frozen into MicroPython 1.28.0 (`lostcard build-firmware`),
the 32-bit unix build as a program and the Cortex-M3 board in QEMU on its serial console.

The source is ../shared/micropython/micropython-1.28.0.tar.xz beside the checkout (or
$LOSTCARD_MICROPYTHON_SRC). A clone elsewhere skips the firmware tests with that reason; CI (`CI`
set) fails instead. Builds are cached (~/.cache/lostcard/firmware), so only the first session pays.
"""

import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lostcard_cpython import firmware, paths

SOURCE = Path(os.environ.get("LOSTCARD_MICROPYTHON_SRC")
              or paths.ROOT.parent / "shared" / "micropython" / "micropython-1.28.0.tar.xz")


def build(board, out, heap=firmware.DEFAULT_HEAP):
    if not SOURCE.exists():
        reason = "no MicroPython source at %s (set LOSTCARD_MICROPYTHON_SRC)" % SOURCE
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(firmware.build_firmware(SOURCE, board, out, heap)["path"])


def tools_only(bundle, out):
    """The test bundle without the device packages: frozen lostcard must be the one imported
    (sys.path puts '' before '.frozen', so a lostcard/ directory in the working one would win)."""
    shutil.copytree(bundle, out, ignore=shutil.ignore_patterns("lostcard", "lostcard_mpy"))
    return out


def unix32(exe, args, cwd, heap="48K", path=(), timeout=300):
    env = dict(os.environ, MICROPYPATH=":".join([".frozen"] + [str(p) for p in path]))
    env["LOSTCARD_FIXTURES"] = str(paths.FIXTURES)
    return subprocess.run([str(exe), "-X", "heapsize=" + heap] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


class Qemu:
    """One power-on of the MPS2-AN385 board: its flash image is `workdir`/lostcard-flash.img, so a
    second Qemu on the same workdir is a reboot. `icount` counts instructions deterministically."""

    def __init__(self, elf, workdir, icount=False):
        # the console on a plain stdio chardev: QEMU's multiplexer would take Ctrl-A (raw REPL)
        args = ["qemu-system-arm", "-machine", "mps2-an385", "-display", "none", "-monitor", "null",
                "-semihosting", "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
                "-kernel", str(elf)]
        if icount:
            args[1:1] = ["-icount", "shift=0"]
        self.proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._lines = queue.Queue()
        self._partial = b""
        threading.Thread(target=self._read, daemon=True).start()
        self.expect(">>> ")

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                self._lines.put(None)
                return
            self._lines.put(chunk)

    def expect(self, marker, timeout=120):
        """Console output up to and including `marker` (bytes or str)."""
        marker = marker.encode() if isinstance(marker, str) else marker
        deadline = time.monotonic() + timeout
        while marker not in self._partial:
            try:
                chunk = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                chunk = b""
            if chunk is None or time.monotonic() > deadline:
                raise AssertionError("board said %r, never %r" % (self._partial[-2000:], marker))
            self._partial += chunk
        cut = self._partial.index(marker) + len(marker)
        out, self._partial = self._partial[:cut], self._partial[cut:]
        return out.decode("utf-8", "replace").replace("\r\n", "\n")

    def send(self, text):
        self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
        self.proc.stdin.flush()

    def line(self, timeout=120):
        return self.expect(b"\n", timeout).rstrip("\n")

    def run(self, code):
        """Run `code` in the raw REPL; its output, or AssertionError with the board's traceback."""
        self.send(b"\x01")
        self.expect("raw REPL; CTRL-B to exit\r\n>")
        self.send(code.encode() + b"\x04")
        self.expect("OK")
        out, err = self.expect(b"\x04>")[:-2].split("\x04")[:2]
        self.send(b"\x02")  # back to the friendly REPL
        self.expect(">>> ")
        assert not err, err
        return out

    def start(self, code):
        """Start `code` in the raw REPL and return at once: it talks on the console (line())."""
        self.send(b"\x01")
        self.expect("raw REPL; CTRL-B to exit\r\n>")
        self.send(code.encode() + b"\x04")
        self.expect("OK")

    def finish(self):
        """Wait for the program start() began to end; its output after the last line() read."""
        out, err = self.expect(b"\x04>")[:-2].split("\x04")[:2]
        self.send(b"\x02")
        self.expect(">>> ")
        assert not err, err
        return out

    def put(self, name, data):
        """Write a file on the board's flash, as mpremote cp does over the REPL."""
        self.run("f = open(%r, 'wb')" % name)
        for at in range(0, len(data), 256):
            self.run("f.write(bytes.fromhex(%r))" % data[at:at + 256].hex())
        self.run("f.close(); del f")

    def reset(self):
        """Power off: machine.reset() ends QEMU."""
        self.send("import machine; machine.reset()\r\n")
        self.proc.wait(timeout=60)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
