"""A collector process on 127.0.0.1 for the demo, the benchmarks and the tests: `lostcard collector
serve` on a free port (or a chosen one), started, waited for until it answers, and stopped.

`start(fault)` sets the collector's crash hook (collector.FAULT_ENV) for that run only, so the
fault tests can kill it mid-batch and start it again on the same database and port.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

from lostcard.errors import LostcardError

START_TIMEOUT = 20.0  # seconds; a loaded machine imports uvicorn and starlette slowly


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCollector:
    def __init__(self, db, secret_file, port=None):
        self.db, self.secret_file = str(db), str(secret_file)
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self, fault=None):
        import httpx  # here, with the collector's modules: only a run that starts one pays

        from .collector import FAULT_ENV

        env = dict(os.environ)
        env.pop(FAULT_ENV, None)
        if fault:
            env[FAULT_ENV] = fault
        # a file, not a pipe: nobody reads a long run's stderr, and a full pipe would stall it
        errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.command(), env=env, stdout=subprocess.DEVNULL,
                                     stderr=errors)
        with errors:
            try:
                self._wait_up(errors, httpx)
            except BaseException:  # not up, or Ctrl-C meanwhile: leave no collector behind
                self.stop()
                raise
        return self

    def command(self):
        return [sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve", "--db",
                self.db, "--fleet-secret-file", self.secret_file, "--port", str(self.port)]

    def _wait_up(self, errors, httpx):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                errors.seek(0)
                raise LostcardError("the collector exited: "
                                    + errors.read().decode(errors="replace").strip())
            time.sleep(0.05)
        raise LostcardError("the collector did not start on %s" % self.url)

    def wait_dead(self, timeout=10):
        """The exit code of a collector that ends by itself (its crash hook)."""
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
