"""A collector process on 127.0.0.1 for the demo and the benchmarks: `lostcard collector serve`
on a free port, started, waited for until it answers, and stopped."""

import socket
import subprocess
import sys
import time

from lostcard.errors import LostcardError


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

    def start(self):
        import httpx

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve", "--db", self.db,
             "--fleet-secret-file", self.secret_file, "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(400):
            try:
                if httpx.get(self.url + "/v1/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise LostcardError("the collector did not start on %s" % self.url)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
