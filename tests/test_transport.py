"""Both ports' HTTP transports against a canned server (lostcard/platform.py, "Transport"): a 429
raises SyncError("collector busy (429)", seconds) with Retry-After clamped to 0..300 (None if
absent or not a number of seconds), a reply is read only up to its bound, the base URL's path is
kept, and `lostcard sync --ca` refuses a CA file it cannot use in one line, exit 2.
"""

import json
import subprocess
import sys

import pytest

from lostcard.errors import SyncError
from lostcard_cpython.terminal import Terminal
from lostcard_cpython.transport import HttpTransport
from loopback_server import LoopbackServer
from micropython_process import micropython
from terminal_setup import provisioned_terminal

BODY = b"\xa1\x01\x02"


class CannedServer(LoopbackServer):
    """Answers every request with `response` and remembers each request line and body."""

    def __init__(self, response):
        self.response = response
        self.requests = []
        LoopbackServer.__init__(self, self._answer)

    def _answer(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(head.lower().partition(b"content-length:")[2].split(b"\r")[0])
            while len(body) < length:
                body += conn.recv(4096)
            self.requests.append((head.split(b"\r\n")[0].decode(), body))
            conn.sendall(self.response)


def _busy(retry_after):
    header = b"" if retry_after is None else b"Retry-After: %s\r\n" % retry_after
    return (b"HTTP/1.1 429 Too Many Requests\r\n" + header
            + b"Content-Type: application/json\r\nContent-Length: 17\r\n"
            b"Connection: close\r\n\r\n{\"error\": \"busy\"}")


DEVICE_POST = """
from lostcard.errors import SyncError
from lostcard_mpy.transport import HttpTransport
try:
    status, reply = HttpTransport(%r, timeout=5).post("/v1/batch", %r, %d)
    print("ok", status, reply.hex())
except SyncError as exc:
    print("refused", repr(exc.args))
"""


def _post(client, url, limit=256):
    """(status, reply) or the SyncError's args, from the port `client`: (name, bundle)."""
    name, bundle = client
    if name == "cpython":
        transport = HttpTransport(url, timeout=5)
        try:
            return transport.post("/v1/batch", BODY, limit)
        except SyncError as exc:
            return exc.args
        finally:
            transport.close()
    proc = micropython(bundle, ["-c", DEVICE_POST % (url, BODY, limit)])
    assert proc.returncode == 0, proc.stderr
    word, _, rest = proc.stdout.strip().partition(" ")
    if word == "ok":
        status, reply = rest.split(" ")
        return int(status), bytes.fromhex(reply)
    return eval(rest)  # the args tuple's repr: a str and an int or None


@pytest.fixture(params=["cpython", "micropython"])
def client(request, bundle):
    return request.param, bundle


@pytest.mark.parametrize("retry_after, seconds", [(b"7", 7), (b"0", 0), (b"86400", 300),
                                                  (None, None), (b"soon", None),
                                                  (b"Wed, 21 Oct 2026 07:28:00 GMT", None)])
def test_a_429_raises_sync_error_with_the_retry_after_seconds(client, retry_after, seconds):
    server = CannedServer(_busy(retry_after))
    try:
        assert _post(client, server.url) == ("collector busy (429)", seconds)
    finally:
        server.close()


def test_a_long_reply_is_read_only_up_to_its_bound_and_the_base_path_kept(client):
    reply = bytes(range(256)) * 8  # 2 KiB, where an acknowledgement is ~30 bytes
    server = CannedServer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)
    try:
        status, got = _post(client, server.url + "/lostcard/")
        assert server.requests[0][0].split(" ")[:2] == ["POST", "/lostcard/v1/batch"]
        assert server.requests[0][1] == BODY
    finally:
        server.close()
    assert status == 200 and 0 < len(got) <= 257 and reply.startswith(got)


def test_a_caller_may_read_a_longer_reply_up_to_its_own_limit(client):
    # a fetch reply carries a chunk of an update (~1,060 bytes): its caller passes ~1,100
    reply = bytes(range(256)) * 8
    server = CannedServer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)
    try:
        status, got = _post(client, server.url, 1100)
    finally:
        server.close()
    assert status == 200 and 1100 <= len(got) <= 1101 and reply.startswith(got)


@pytest.mark.parametrize("content, says", [(None, "No such file"),
                                           (b"not a certificate\n", "not a PEM certificate")])
def test_sync_refuses_a_ca_file_it_cannot_use_in_one_line(tmp_path, content, says):
    ca = tmp_path / "ca.pem"
    if content is not None:
        ca.write_bytes(content)
    queue = tmp_path / "queue"
    provisioned_terminal(tmp_path, "https://localhost:9", 1)
    terminal = Terminal(json.loads((tmp_path / "lostcard.json").read_text()))
    assert terminal.on_decline(json.loads((tmp_path / "declines.jsonl").read_text()))["stored"]
    before = sorted((p.name, p.read_bytes()) for p in queue.iterdir())
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "sync", "--dir",
                           str(queue), "--url", "https://localhost:9", "--ca", str(ca), "--now"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert says in proc.stderr and str(ca) in proc.stderr
    assert sorted((p.name, p.read_bytes()) for p in queue.iterdir()) == before
