"""Attack: request headers without a size or count bound. uvicorn's httptools protocol keeps
every header line of a request until its end (a Python tuple of two bytes objects each), and
the header timer bounds only the time: on loopback a client sends tens of MB of "a:b" lines
within HEADER_TIMEOUT, ~11x that in the collector's memory (measured: one connection, 10 MB
sent, +112 MiB; four connections from one address, 10 s, 2.5 GiB). The memory is given back
when the timer closes the connection, and taken again by the next wave."""

import socket

from lostcard_cpython.local_collector import LocalCollector
from server_attack import PeakRss
from test_collector_server import secret_file  # noqa: F401 (a fixture)

SENT = 24 * 2**20  # bytes of header lines, sent in well under HEADER_TIMEOUT on loopback
BOUND = 128  # MiB the collector may grow by: an 8 KiB header limit would keep it near 0


def test_request_headers_are_bounded_in_memory(tmp_path, secret_file):  # noqa: F811
    server = LocalCollector(tmp_path / "collector.db", secret_file).start()
    watch = PeakRss(server.proc.pid)
    watch.start()
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.11", 0))
        sock.connect(("127.0.0.1", server.port))
        sock.settimeout(20)
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: collector\r\n")
        line = b"a:b\r\n" * 13107  # 64 KiB of header lines
        sent = 0
        try:
            while sent < SENT:
                sock.sendall(line)
                sent += len(line)
        except OSError:  # refused or closed by the server: what a bound would do
            pass
        growth = watch.growth(3)
        assert growth < BOUND, ("the collector grew by %d MiB holding %d MiB of one request's "
                                "header lines" % (growth, sent >> 20))
    finally:
        sock.close()
        watch.stop.set()
        server.stop()
