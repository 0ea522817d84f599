"""Attack: pipelined requests from a client that never reads its responses. uvicorn parses
every request in what it reads and queues one RequestResponseCycle per request (its scope, its
headers) however long the queue; and the header timer is cancelled once a request's headers are
in and re-armed only when the queue is empty, so nothing times out a connection whose responses
wait on a full send buffer (uvicorn's send awaits drain() without a deadline). Measured: one
connection, 5 s, 18 MB of "GET /v1/health" sent -> the collector at 1.2 GiB, held; 32 such
connections lock their address out (the per-address cap) for as long as the client likes."""

import socket
import time

from lostcard_cpython.collector_server import HEADER_TIMEOUT, KEEP_ALIVE
from lostcard_cpython.local_collector import LocalCollector
from server_attack import PeakRss
from test_collector_server import secret_file  # noqa: F401 (a fixture)

REQUEST = b"GET /v1/health HTTP/1.1\r\nHost: collector\r\n\r\n"
BOUND = 128  # MiB the collector may grow by for one connection's queued requests
HELD = HEADER_TIMEOUT + KEEP_ALIVE + 30  # seconds: a connection not read from is closed by then


def _never_reading(port, source, count):
    """A connection that sent `count` pipelined requests and will read nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the responses back up at once
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.settimeout(30)
    try:
        sock.sendall(REQUEST * count)
    except OSError:  # refused or closed by the server: what a bound would do
        pass
    return sock


def test_pipelined_requests_are_bounded_in_memory(tmp_path, secret_file):  # noqa: F811
    server = LocalCollector(tmp_path / "collector.db", secret_file).start()
    watch = PeakRss(server.proc.pid)
    watch.start()
    sock = None
    try:
        sock = _never_reading(server.port, "127.0.0.12", 8 * 2**20 // len(REQUEST))  # 8 MiB
        growth = watch.growth(5)
        assert growth < BOUND, ("the collector grew by %d MiB queueing one connection's 8 MiB "
                                "of pipelined requests" % growth)
    finally:
        if sock is not None:
            sock.close()
        watch.stop.set()
        server.stop()


def test_a_connection_whose_responses_are_never_read_is_closed(tmp_path, secret_file):  # noqa: F811
    server = LocalCollector(tmp_path / "collector.db", secret_file).start()
    count = 10000  # ~1.4 MB of responses: past every buffer between the server and the client
    sock = _never_reading(server.port, "127.0.0.13", count)
    try:
        time.sleep(HELD)
        # now read: a server that closed the connection sends a reset or an end, not them all
        answered, tail = 0, b""
        sock.settimeout(10)
        try:
            while answered < count:
                data = sock.recv(1 << 16)
                if not data:
                    break
                tail += data
                answered += tail.count(b"HTTP/1.1 ")
                tail = tail[tail.rfind(b"HTTP/1.1 ") + 1:] if b"HTTP/1.1 " in tail else tail[-8:]
        except OSError:
            pass
        assert answered < count, ("a client that read nothing for %d s (header timeout %d s) "
                                  "still had its connection, and all %d responses"
                                  % (HELD, HEADER_TIMEOUT, count))
    finally:
        sock.close()
        server.stop()
