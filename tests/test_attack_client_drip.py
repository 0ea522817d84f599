"""Attack (review R13D): a server, or a man in the middle, that drips its bytes one at a time, each
a little sooner than the transport's timeout, holds a terminal's sync_step (and the payment
application that waits on it) for as long as it has bytes to drip: the timeout is per read, not
per request. docs/SYNC.md and Terminal.sync_step promise "at most for one request (the
transport's timeout)".

Each test gives the transport a 1 s timeout and drips a byte every 0.25 s, up to CAP bytes
(CAP * 0.25 = 30 s). A transport with a deadline for the whole request hangs up within a few
bytes; the failure condition is generous: the client still there after LIMIT bytes (10 s, ten
times its timeout).
"""

import select
import socket
import threading
import time

import pytest

from lostcard.errors import SyncError
from lostcard_cpython.transport import HttpTransport
from loopback_server import LoopbackServer
from micropython_process import micropython
import tls_ca

INTERVAL = 0.25
CAP = 120
LIMIT = 40


def _read_request(conn):
    """The whole POST (its body by Content-Length), so that the client is waiting for a reply."""
    data = conn.recv(65536)
    while True:
        head, blank, body = data.partition(b"\r\n\r\n")
        if blank and len(body) >= int(head.lower().split(b"content-length:")[1].split(b"\r")[0]):
            return
        data += conn.recv(65536)


class DripServer(LoopbackServer):
    """Reads the request (if `read_request`), sends `head`, then drips `byte` every INTERVAL s
    until the client hangs up or CAP bytes are out; `dripped` is how many went out while the
    client was still there."""

    def __init__(self, head, byte=b"a", read_request=True, url="http://127.0.0.1:%d"):
        self.head, self.byte, self.read_request = head, byte, read_request
        self.dripped = None
        self.done = threading.Event()
        LoopbackServer.__init__(self, self._drip, url)

    def _drip(self, conn):
        sent = 0
        with conn:
            try:
                if self.read_request:
                    _read_request(conn)
                conn.sendall(self.head)
                while sent < CAP:
                    if select.select([conn], [], [], 0)[0] and not conn.recv(4096):
                        break  # the client hung up
                    conn.sendall(self.byte)
                    sent += 1
                    time.sleep(INTERVAL)
            except OSError:  # reset by the client: it hung up
                pass
            finally:
                self.dripped = sent
                self.done.set()


DEVICE_POST = """
import os
from lostcard.errors import SyncError
from lostcard_mpy.transport import HttpTransport
try:
    HttpTransport(%r, %r, timeout=1).post("/v1/batch", os.urandom(600))
    print("returned")
except SyncError as exc:
    print("refused", exc.args[0])
"""


def _device_post(bundle, url, ca=None):
    proc = micropython(bundle, ["-c", DEVICE_POST % (url, ca)])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def _cpython_post(url, ca=None):
    transport = HttpTransport(url, ca, timeout=1)
    try:
        transport.post("/v1/batch", bytes(600))
    except SyncError:
        pass
    finally:
        transport.close()


@pytest.mark.parametrize("what, head", [
    ("headers that never end", b"HTTP/1.0 200 OK\r\nX-Drip: "),
    ("a body", b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n"),
])
@pytest.mark.parametrize("port", ["micropython", "cpython"])
def test_a_dripping_server_cannot_hold_a_terminal_past_its_timeout(bundle, port, what, head):
    server = DripServer(head)
    try:
        if port == "micropython":
            _device_post(bundle, server.url)
        else:
            _cpython_post(server.url)
        assert server.done.wait(CAP * INTERVAL + 30)
    finally:
        server.close()
    assert server.dripped < LIMIT, "%s: held %d bytes * %.2f s with a 1 s timeout" % (
        what, server.dripped, INTERVAL)


def test_a_man_in_the_middle_without_a_certificate_cannot_hold_the_device(bundle, tmp_path):
    """Before any certificate is checked: a TLS record header announcing 16 KiB of handshake,
    then its body dripped. mbedtls waits for the record, a read at a time, each with the full
    timeout. (CPython's ssl handshake has a deadline for the whole handshake.)"""
    certs = tls_ca.make(tmp_path)
    server = DripServer(b"\x16\x03\x03\x40\x00", b"\x00", read_request=False,
                        url="https://localhost:%d")
    try:
        _device_post(bundle, server.url, str(certs["ca"]))
        assert server.done.wait(CAP * INTERVAL + 30)
    finally:
        server.close()
    assert server.dripped < LIMIT, "handshake: held %d bytes * %.2f s with a 1 s timeout" % (
        server.dripped, INTERVAL)
