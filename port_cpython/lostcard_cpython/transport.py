"""HTTP for the sync on CPython: httpx, every network failure turned into SyncError.

An https collector's certificate is verified against `ca` (a PEM file: a CA, or the collector's
own certificate to pin) or, without one, the system's trust store (httpx's default).
"""

import ssl
import threading

import httpx

from lostcard.errors import LostcardError, SyncError

MAX_REPLY = 256  # bytes of a reply read unless the caller asks for more
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
        self.timeout = timeout
        self._new_client = lambda: httpx.Client(base_url=base_url, timeout=timeout, verify=verify)
        self.client = self._new_client()

    def post(self, path, body, limit=MAX_REPLY):
        """One request within `timeout` in all: httpx's timeouts are per read, and a server
        dripping a byte a read would hold the caller for as many reads as it sends bytes. Past
        the deadline the request's connection is closed under its thread."""
        outcome = []

        def request():
            try:
                outcome.append(self._post(path, body, limit))
            except Exception as exc:  # raised again in the caller's thread
                outcome.append(exc)

        worker = threading.Thread(target=request, daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not outcome:
            stuck, self.client = self.client, self._new_client()
            try:  # its socket closed under the worker, whose next read then fails
                stuck.close()
            except Exception:  # closing from another thread: whatever it says, it is gone
                pass
            raise SyncError("network: no complete reply in %g s" % self.timeout)
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    def _post(self, path, body, limit):
        try:
            with self.client.stream("POST", path, content=body,
                                    headers={"content-type": "application/cbor"}) as reply:
                if reply.status_code == 429:
                    raise SyncError("collector busy (429)",
                                    retry_after(reply.headers.get("retry-after")))
                data = b""
                # as sent (no gzip bomb inflated); an acknowledgement is ~30 bytes, a fetch
                # reply ~1,060: stop past `limit`, one byte kept to show the reply was longer
                for chunk in reply.iter_raw():
                    data += chunk
                    if len(data) > limit:
                        break
                return reply.status_code, data[:limit + 1]
        except httpx.HTTPError as exc:
            raise SyncError("network: %s" % _reason(exc)) from None

    def close(self):
        self.client.close()
