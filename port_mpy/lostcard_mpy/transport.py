"""HTTP for the sync on a terminal: micropython-lib's `requests` (frozen into the unix port).

`requests` does not check TLS certificates; the protocol carries its own guarantees (sealed
records, MAC'd acknowledgements), see docs/SYNC.md.
"""

import requests

from lostcard.errors import SyncError

MAX_REPLY = 256


class HttpTransport:
    def __init__(self, base_url, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def post(self, path, body):
        try:
            reply = requests.post(self.base_url + path, data=body, timeout=self.timeout,
                                  headers={"Content-Type": "application/cbor"})
            try:
                # a reply is ~30 bytes: read no more than a little over that, whatever is sent
                return reply.status_code, reply.raw.read(MAX_REPLY)
            finally:
                reply.close()
        except Exception as exc:  # a broken or hostile server: a failed step, never a crash
            raise SyncError("network: %s" % (exc,))
