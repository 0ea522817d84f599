"""HTTP for the sync on CPython: httpx, every network failure turned into SyncError."""

import httpx

from lostcard.errors import SyncError

MAX_REPLY = 256
MAX_RETRY_AFTER = 300  # seconds: no collector keeps a terminal waiting longer


class HttpTransport:
    def __init__(self, base_url, timeout=10.0):
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    def post(self, path, body):
        try:
            with self.client.stream("POST", path, content=body,
                                    headers={"content-type": "application/cbor"}) as reply:
                if reply.status_code == 429:
                    raise SyncError("collector busy (429)", _seconds(reply.headers))
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


def _seconds(headers):
    """Retry-After as whole seconds, 0..MAX_RETRY_AFTER; None if absent or not a number (an
    HTTP date included: a terminal's clock may be wrong)."""
    value = headers.get("retry-after", "").strip()
    return min(int(value), MAX_RETRY_AFTER) if value.isascii() and value.isdigit() else None
