"""A TCP proxy that injects faults between a sync client and a real collector process
(lostcard_cpython.local_collector starts that).

The proxy sits between client and collector and, per request, passes it, resets the connection
before or after the collector answered, delays the answer past the client's timeout, or hands
back a changed answer (forged, replayed, another device's). Loopback only; every loop is bounded.
"""

import socket
import threading
import time

from lostcard_cpython.local_collector import free_port


def _read_message(sock):
    """One HTTP/1.1 message (head and Content-Length body) from a socket, or None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body


def _reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


class FaultProxy:
    """Forwards to `upstream_port`; `mode` applies to the next request only, then "pass"."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.mode = "pass"
        self.transform = None  # for "change": reply body -> new reply body
        self.request_transform = None  # for "swap": request body -> new request body
        self.delay = 0.0
        self.replies = []  # every reply body the collector gave, for "replay"
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        """One request per connection: the reply says `connection: close` and the proxy closes,
        which both httpx and MicroPython's HTTP/1.0 `requests` (reading to EOF) expect."""
        client.settimeout(30)
        try:
            request = _read_message(client)
            if request is None:
                client.close()
                return
            mode, self.mode = self.mode, "pass"
            if mode == "reset_before":
                _reset(client)
                return
            head, body = request
            if mode == "swap":
                body = self.request_transform(body)
                head = b"\r\n".join(
                    line if not line.lower().startswith(b"content-length") else
                    b"content-length: %d" % len(body) for line in head.split(b"\r\n"))
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
            upstream.sendall(head + b"\r\n\r\n" + body)
            reply = _read_message(upstream)
            upstream.close()
            if reply is None:  # the collector died: the client sees the connection drop
                _reset(client)
                return
            rhead, rbody = reply
            self.replies.append(rbody)
            if mode == "reset_after":
                _reset(client)
                return
            if mode == "slow":
                time.sleep(self.delay)
            if mode == "change":
                rbody = self.transform(rbody)
                rhead = b"\r\n".join(
                    line if not line.lower().startswith(b"content-length") else
                    b"content-length: %d" % len(rbody) for line in rhead.split(b"\r\n"))
            rhead = b"\r\n".join(line for line in rhead.split(b"\r\n")
                                 if not line.lower().startswith(b"connection"))
            try:
                client.sendall(rhead + b"\r\nconnection: close\r\n\r\n" + rbody)
            finally:
                client.close()
        except OSError:
            client.close()

    def close(self):
        self.running = False
        self.server.close()
