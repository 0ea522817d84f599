"""Attack (review R13D): hostile replies to a terminal's POST that its transports take in.

- CPython: httpx decodes any Content-Encoding the server names (gzip, deflate) whatever the
  request asked for; a reply's 256-byte bound is applied after decoding, so a few hundred KiB of
  gzip become hundreds of MiB in the terminal's memory (each network read inflated at once).
- MicroPython: an upper-case scheme ("HTTPS://", which httpx and RFC 3986 take for https) is
  spoken as plain HTTP to port 80 or the given port, with collector_ca ignored, and
  lostcard_mpy.Terminal's "an https collector_url needs collector_ca" check lets it through.
"""

import gzip
import tracemalloc

from lostcard_cpython.transport import HttpTransport
from micropython_process import micropython
from test_transport import CannedServer

BOMB_MIB = 256


def test_a_compressed_reply_does_not_inflate_in_the_terminal():
    bomb = gzip.compress(bytes(BOMB_MIB << 20), 9)  # ~255 KiB on the wire
    server = CannedServer(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n"
                          b"\r\n" % len(bomb) + bomb)
    transport = HttpTransport(server.url, timeout=5)
    tracemalloc.start()
    try:
        status, reply = transport.post("/v1/batch", b"\xa0")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        transport.close()
        server.close()
    assert status == 200 and len(reply) <= 257
    # generous: the wire bytes ten times over; an inflated read is 64 MiB
    wire = len(bomb)
    assert peak < 10 * wire, "a %d KiB reply took %d MiB" % (wire >> 10, peak >> 20)


DEVICE_POST = """
from lostcard.errors import SyncError
from lostcard_mpy.transport import HttpTransport
try:
    HttpTransport(%r, "/nonexistent-ca.pem", timeout=5).post("/v1/batch", b"\\xa0")
    print("returned")
except SyncError as exc:
    print("refused", exc.args[0])
"""


def test_an_upper_case_https_url_is_not_spoken_in_clear(bundle):
    server = CannedServer(b"HTTP/1.0 200 OK\r\n\r\n")
    try:
        proc = micropython(bundle, ["-c", DEVICE_POST % server.url.replace("http", "HTTPS")])
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    # TLS would have failed on the CA file before a byte went out; the server, plain HTTP, would
    # have read no request line
    assert server.requests == [], "sent in clear: %r (%s)" % (server.requests, proc.stdout)
