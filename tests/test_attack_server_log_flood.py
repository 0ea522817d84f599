"""Attack: the collector's log flooded by malformed requests. The collector rate-limits its own
warnings (one line a minute per kind), but uvicorn logs "Invalid HTTP request received." once
per malformed request, unlimited: measured 500 requests in 0.11 s from one client -> 500 lines,
~4,500 lines (~300 KB) a second, ~1 GB of log an hour, and the rate-limited lines an operator
should see are buried."""

import socket
import subprocess
import sys
import time

from lostcard_cpython.local_collector import free_port
from test_collector_server import secret_file  # noqa: F401 (a fixture)

REQUESTS = 300
BOUND = 20  # lines for all of them: rate-limited, it would be one or two


def test_malformed_requests_do_not_flood_the_log(tmp_path, secret_file):  # noqa: F811
    port = free_port()
    log = tmp_path / "collector.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector",
                                 "serve", "--db", str(tmp_path / "collector.db"),
                                 "--fleet-secret-file", str(secret_file), "--port", str(port)],
                                stderr=err)
    try:
        deadline = time.monotonic() + 30
        while b"listening on" not in log.read_bytes():
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        before = len(log.read_bytes().splitlines())
        for _ in range(REQUESTS):
            sock = socket.socket()
            sock.bind(("127.0.0.15", 0))
            sock.connect(("127.0.0.1", port))
            sock.settimeout(10)
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            try:
                while sock.recv(4096):  # until the server's answer and close
                    pass
            except OSError:
                pass
            sock.close()
        time.sleep(1)
        lines = log.read_bytes().splitlines()[before:]
        assert len(lines) < BOUND, ("%d malformed requests wrote %d log lines, e.g. %r"
                                    % (REQUESTS, len(lines), lines[-1]))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
