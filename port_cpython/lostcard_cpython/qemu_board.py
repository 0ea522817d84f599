"""The QEMU MPS2-AN385 board (`lostcard build-firmware --board qemu-mps2-an385`) driven over its serial
console, as mpremote drives a board on USB: the raw REPL, files put on its flash, a program's lines.
Used by the firmware tests and `lostcard bench firmware`.
"""

import queue
import subprocess
import threading
import time

from lostcard.errors import LostcardError


class BoardError(LostcardError):
    """The board raised, or did not say what was expected in time."""


class BoardTimeout(BoardError):
    """The board said nothing expected in time: a hang or a starved host, not the program's answer."""


class Qemu:
    """One power-on of the MPS2-AN385 board: its flash image is `workdir`/lostcard-flash.img, so a
    second Qemu on the same workdir is a reboot. `icount` counts instructions deterministically."""

    IMAGE = "lostcard-flash.img"  # the board's _boot.py names it

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
        try:
            self.expect(">>> ")
        except BaseException:  # an idle board spins a core: never leave one behind
            self.close()
            raise

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
                raise BoardTimeout("board said %r, never %r" % (self._partial[-2000:], marker))
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
        """Run `code` in the raw REPL; its output, or BoardError with the board's traceback."""
        self.start(code)
        return self.finish()

    def run_unchecked(self, code, timeout=600):
        """Run `code`; its output, or None if it raised (a MemoryError at a probed heap). A board
        that says nothing within `timeout` seconds raises BoardTimeout: no answer is not a failure."""
        self.start(code)
        try:
            return self.finish(timeout)
        except BoardTimeout:
            raise
        except BoardError:
            return None

    def start(self, code):
        """Start `code` in the raw REPL and return at once: it talks on the console (line())."""
        self.send(b"\x01")
        self.expect("raw REPL; CTRL-B to exit\r\n>")
        self.send(code.encode() + b"\x04")
        self.expect("OK")

    def finish(self, timeout=120):
        """Wait for the program start() began to end; its output after the last line() read, or
        BoardError with the board's traceback."""
        out, err = self.expect(b"\x04>", timeout)[:-2].split("\x04")[:2]
        self.send(b"\x02")  # back to the friendly REPL
        self.expect(">>> ")
        if err:
            raise BoardError(err)
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
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a board too full to import machine: pull the plug
            self.close()
            raise BoardError("the board did not reset") from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
