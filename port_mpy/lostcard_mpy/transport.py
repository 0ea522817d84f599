"""HTTP for the sync on a terminal: one HTTP/1.0 POST per connection over `socket`, and for an
https collector `tls` with its certificate verified against collector_ca (micropython-lib's
`requests` cannot verify one: it sets CERT_NONE).
"""

import select
import socket
import time

from lostcard.errors import SyncError


class HttpTransport:
    def __init__(self, base_url, ca=None, timeout=10):
        self.url = base_url
        self.ca = ca  # a path, read at the first https request; its context kept
        self.timeout = timeout
        self.context = None

    def post(self, path, body, limit=256):
        sock = stream = socket.socket()
        try:
            scheme, _, rest = self.url.partition("://")
            where, _, prefix = rest.partition("/")
            host, _, port = where.partition(":")
            https = scheme.lower() == "https"
            sock.settimeout(self.timeout)
            sock.connect(socket.getaddrinfo(host, int(port or (443 if https else 80)))[0][-1])
            # one deadline for the whole request: the socket's timeout is per read, and a server
            # (or a man in the middle, before any certificate) dripping a byte a read would hold
            # the terminal for as many reads as it has bytes
            end = time.ticks_add(time.ticks_ms(), int(self.timeout * 1000))
            sock.setblocking(False)
            if https:
                stream = self._tls().wrap_socket(sock, server_hostname=host,
                                                 do_handshake_on_connect=False)
            poll = select.poll()
            poll.register(stream, select.POLLOUT)
            out = memoryview(("POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/cbor"
                              "\r\nContent-Length: %d\r\n\r\n" % (("/" + prefix).rstrip("/") + path,
                                                                   host, len(body))).encode()
                             + body)
            while len(out):  # the handshake and the request, non-blocking against the deadline
                left = time.ticks_diff(end, time.ticks_ms())
                if left <= 0:
                    raise OSError("timed out")
                poll.poll(min(left, 100))
                out = out[stream.write(out) or 0:]
            data = bytearray()
            # a byte a read, each read's timeout what is left; the head gets 768 bytes
            while len(data) < limit + 768:
                left = time.ticks_diff(end, time.ticks_ms())
                if left <= 0:
                    raise OSError("timed out")
                sock.settimeout(left / 1000)
                chunk = stream.read(1)
                if not chunk:
                    break
                data += chunk
            head, _, reply = bytes(data).partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
        except Exception as exc:  # a refused certificate, a broken or hostile server: a failed step
            raise SyncError("network: %s" % (str(exc).strip().split("\n")[0] or type(exc).__name__))
        finally:
            stream.close()  # the TLS socket's close frees mbedtls's buffers and closes `sock`
        if status == 429:
            wait = head.lower().partition(b"\nretry-after:")[2].split(b"\r")[0].strip()
            raise SyncError("collector busy (429)", min(int(wait), 300) if wait.isdigit() else None)
        return status, reply[:limit]

    def _tls(self):
        if self.context is None:
            import tls
            from binascii import a2b_base64

            context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            # a client's default already, set all the same (the stubs do not know the attribute)
            context.verify_mode = tls.CERT_REQUIRED  # type: ignore[attr-defined]
            with open(self.ca, "rb") as f:
                parts = f.read().split(b"-----BEGIN CERTIFICATE-----")
            # MicroPython's mbedtls parses no PEM (no MBEDTLS_PEM_PARSE_C): each certificate's
            # base64 goes in as DER; a file without one is DER already
            for part in parts[1:] or parts:
                context.load_verify_locations(a2b_base64(part.split(b"-")[0])
                                              if len(parts) > 1 else part)
            self.context = context
        return self.context
