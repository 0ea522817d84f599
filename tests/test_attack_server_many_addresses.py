"""Attack: idle connections from many addresses, each under the per-address cap. The gate
refuses a new connection once MAX_CONNECTIONS are open, whoever holds them; the header timer
closes an idle one after HEADER_TIMEOUT, and a client that reconnects at once takes the place
again before a terminal does. Measured: 33 addresses x 32 idle connections, reconnecting, and a
terminal's `lostcard sync --give-up-after 30` stopped after 6 failed attempts (ReadError: closed
at accept) in 17 s. 33 IPv4 addresses are a small botnet or a /27; over IPv6, one host's /64
(tests/test_attack_server_ipv6.py). When full, the server could close the oldest connection that
has not sent a request's headers instead of the new one (or shorten the header timeout)."""

import selectors
import socket
import subprocess
import sys
import threading
import time

from lostcard_cpython.collector_server import MAX_CONNECTIONS, PER_IP
from test_collector_server import SYNC_BOUND, _fd_room, collector, secret_file  # noqa: F401
from test_sync import _device, _stored

ADDRESSES = ["127.0.3.%d" % n for n in range(1, MAX_CONNECTIONS // PER_IP + 2)]  # one spare


class Squatter(threading.Thread):
    """PER_IP idle connections from each address, each reconnected as soon as it is closed."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop = port, threading.Event()
        self.selector = selectors.DefaultSelector()
        for address in ADDRESSES:
            for _ in range(PER_IP):
                self.connect(address)

    def connect(self, address):
        sock = socket.socket()
        sock.bind((address, 0))
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.selector.register(sock, selectors.EVENT_READ, address)

    def run(self):
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.05):
                try:
                    data = key.fileobj.recv(64)
                except OSError:
                    data = b""
                if not data:  # closed by the server: take the place again
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                    self.connect(key.data)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()


def test_a_terminal_syncs_while_every_place_is_squatted(collector, tmp_path):  # noqa: F811
    _fd_room(2 * MAX_CONNECTIONS + 512)
    q, seqs = _device(tmp_path, "T-CROWDED")
    squatter = Squatter(collector.port)
    squatter.start()
    try:
        time.sleep(2)
        sync = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "sync", "-v", "--dir",
                               str(tmp_path / "T-CROWDED"), "--url", collector.url, "--now",
                               "--give-up-after", str(SYNC_BOUND)],
                              capture_output=True, text=True, timeout=SYNC_BOUND + 30)
    finally:
        squatter.stop.set()
        squatter.join(timeout=30)
    assert sync.returncode == 0, ("a terminal did not sync in %d s while %d addresses held %d "
                                  "idle connections each: %s" % (
                                      SYNC_BOUND, len(ADDRESSES), PER_IP,
                                      sync.stderr.strip().splitlines()[-1]))
    assert _stored(str(tmp_path / "collector.db"), "T-CROWDED") == sorted(seqs)
