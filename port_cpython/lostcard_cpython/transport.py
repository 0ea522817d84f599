"""HTTP for the sync on CPython: httpx, every network failure turned into SyncError."""

import httpx

from lostcard.errors import SyncError


class HttpTransport:
    def __init__(self, base_url, timeout=10.0):
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    def post(self, path, body):
        try:
            reply = self.client.post(path, content=body,
                                     headers={"content-type": "application/cbor"})
        except httpx.HTTPError as exc:
            raise SyncError("network: %s" % (exc.__class__.__name__,)) from None
        return reply.status_code, reply.content

    def close(self):
        self.client.close()
