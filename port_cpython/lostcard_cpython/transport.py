"""HTTP for the sync on CPython: httpx, every network failure turned into SyncError."""

import httpx

from lostcard.errors import SyncError

MAX_REPLY = 256


class HttpTransport:
    def __init__(self, base_url, timeout=10.0):
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    def post(self, path, body):
        try:
            with self.client.stream("POST", path, content=body,
                                    headers={"content-type": "application/cbor"}) as reply:
                data = b""
                for chunk in reply.iter_bytes():  # a reply is ~30 bytes: stop well past that
                    data += chunk
                    if len(data) > MAX_REPLY:
                        break
                return reply.status_code, data[:MAX_REPLY + 1]
        except httpx.HTTPError as exc:
            raise SyncError("network: %s" % (exc.__class__.__name__,)) from None

    def close(self):
        self.client.close()
