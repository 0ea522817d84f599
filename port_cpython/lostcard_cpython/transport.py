"""HTTP for the sync on CPython: httpx, every network failure turned into SyncError.

An https collector's certificate is verified against `ca` (a PEM file: a CA, or the collector's
own certificate to pin) or, without one, the system's trust store (httpx's default).
"""

import ssl

import httpx

from lostcard.errors import LostcardError, SyncError

MAX_REPLY = 256
MAX_RETRY_AFTER = 300


def tls_context(ca):
    """An ssl context trusting only the PEM file `ca` (httpx 0.28 takes a context, not a path);
    LostcardError in one line if it is missing or holds no certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError:  # before OSError, its base class
        raise LostcardError("CA file %s: not a PEM certificate" % ca) from None
    except OSError as exc:
        raise LostcardError("CA file %s: %s" % (ca, exc.strerror)) from None
    return context


def retry_after(value):
    """Retry-After in whole seconds, clamped to 0..MAX_RETRY_AFTER; None if absent or not a
    number of seconds (an HTTP date is not worth a terminal's clock)."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):  # "²" is a digit to str.isdigit, not to int
        return None
    return min(int(value), MAX_RETRY_AFTER)


def _reason(exc):
    """The failure in one line: a refused certificate says why (the status screen shows it)."""
    cause = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "certificate refused: %s" % cause.verify_message
        cause = cause.__cause__ or cause.__context__
    return exc.__class__.__name__


class HttpTransport:
    def __init__(self, base_url, ca=None, timeout=10.0):
        verify = tls_context(ca) if ca else True
        self.client = httpx.Client(base_url=base_url, timeout=timeout, verify=verify)

    def post(self, path, body):
        try:
            with self.client.stream("POST", path, content=body,
                                    headers={"content-type": "application/cbor"}) as reply:
                if reply.status_code == 429:
                    raise SyncError("collector busy (429)",
                                    retry_after(reply.headers.get("retry-after")))
                data = b""
                for chunk in reply.iter_bytes():  # a reply is ~30 bytes: stop well past that
                    data += chunk
                    if len(data) > MAX_REPLY:
                        break
                return reply.status_code, data[:MAX_REPLY + 1]
        except httpx.HTTPError as exc:
            raise SyncError("network: %s" % _reason(exc)) from None

    def close(self):
        self.client.close()
