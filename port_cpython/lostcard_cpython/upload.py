"""`lostcard sync`'s loop around the core's Uploader: one log line per attempt and its outcome,
backoff with full jitter for what may pass (the network, a busy or failing collector; a busy one's
Retry-After), and a stop
at once for what retrying cannot fix: a collector that refuses the request (3xx, 4xx other than
408 and 429) or an acknowledgement that does not verify. Nothing unacknowledged is ever forgotten:
the queue stays as it was, and the next run resumes.
"""

import logging
import ssl

from lostcard.errors import SyncError
from lostcard.sync import Uploader, backoff_delay

from .errors import Failed

log = logging.getLogger("lostcard.sync")
RETRY_STATUSES = (408, 429)  # below 500, the only answers that may change on their own
NOT_VERIFIED = "acknowledgement did not verify"  # lostcard.sync.Uploader.step's words
# a collector serving https hangs up on plain http without a word, as a crashed one does
NO_REPLY_HINT = ": no HTTP reply; an https collector at an http:// --url?"


class CountingUploader(Uploader):
    """The core's Uploader, remembering the records acknowledged (`acked`: (lane, seq)): after a
    rewind (a collector restored) the batch just acknowledged and what the window holds are sent,
    and acknowledged, again; `lostcard sync` counts each record once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acked, self.sending = set(), (None, [])

    def _batch(self):
        self.sending = super()._batch()
        return self.sending

    def step(self):
        done = super().step()
        lane, batch = self.sending
        self.acked.update((lane, seq) for seq, _ in batch[:done])  # the first `done`: seq order
        return done


class StatusTransport:
    """The transport, remembering the last status, and refusing at once an answer that says the
    request itself is wrong."""

    def __init__(self, transport):
        self.transport = transport
        self.status = None

    def post(self, path, body):
        self.status = None
        try:
            status, reply = self.transport.post(path, body)
        except SyncError as exc:
            refused = _tls_refused(exc)
            if isinstance(refused, ssl.SSLCertVerificationError):
                raise Failed("the collector's certificate was refused (%s): is --ca the CA that "
                             "signed it, and --url's host the name in it? (retrying cannot "
                             "help; nothing forgotten)" % refused.verify_message) from None
            if refused is not None:
                raise Failed("the TLS handshake failed (%s): does the collector serve https at "
                             "--url? (retrying cannot help; nothing forgotten)"
                             % (refused.reason or refused)) from None
            raise
        self.status = status
        if status == 403:
            raise Failed("the collector refused this terminal's requests as not authenticated: "
                         "the collector's fleet secret differs from this terminal's "
                         "provisioning? (retrying cannot help; nothing forgotten)")
        if 300 <= status < 500 and status not in RETRY_STATUSES:
            raise Failed("the collector answered %d to %s: is --url the collector's base URL? "
                         "(retrying cannot help; nothing forgotten)" % (status, path))
        return status, reply


def _tls_refused(exc):
    """The TLS error under a network failure, if the handshake itself failed: a plain-HTTP
    server or a certificate refused answer the same way every time. An EOF mid-handshake may be
    the network's, and is retried."""
    while exc is not None:
        if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def run(uploader, transport, sleep, uniform, clock, max_failures, give_up_s):
    """Upload until the queue is empty; the number of records acknowledged. Raises Failed when
    it stops short: at once for what retrying cannot fix, else after `max_failures` failures in a
    row or when the next wait would end more than `give_up_s` seconds after the start. A busy
    collector (429, SyncError(words, seconds)) is waited out, max(backoff, its Retry-After): it
    raises the backoff but is no failure, so only `give_up_s` bounds it."""
    started = clock()
    sent, failures, strikes, attempt = 0, 0, 0, 0
    while True:
        attempt += 1
        try:
            done = uploader.step()
        except SyncError as exc:
            if transport.status == 200 and str(exc).startswith(NOT_VERIFIED):
                raise Failed("the collector's acknowledgement did not verify: the collector's "
                             "fleet secret differs from this terminal's provisioning? (nothing "
                             "forgotten)") from None
            busy = len(exc.args) > 1  # the transport's 429, with the Retry-After seconds or None
            delay = backoff_delay(failures, uniform)
            failures += 1
            if busy:
                delay = max(delay, exc.args[1] or 0)
                if clock() + delay - started > give_up_s:
                    raise Failed("sync stopped: the collector is busy (429) and asks to wait "
                                 "%.0f s, past --give-up-after %.0f s; %d sent, the rest stays "
                                 "queued: run again later" % (delay, give_up_s, sent)) from None
                log.debug("attempt %d: collector busy, retry after %.0f s", attempt, delay)
                sleep(delay)
                continue
            strikes += 1
            if strikes >= max_failures or clock() + delay - started > give_up_s:
                log.debug("attempt %d: %s; giving up", attempt, exc)
                raise Failed("sync stopped after %d failed attempts in a row (%s%s); %d sent, "
                             "the rest stays queued: run again to resume" % (
                                 strikes, exc, NO_REPLY_HINT if "RemoteProtocolError" in str(exc)
                                 else "", sent)) from None
            log.debug("attempt %d: %s; retrying in %.1f s", attempt, exc, delay)
            sleep(delay)
            continue
        failures = strikes = 0
        if done == 0:
            log.debug("the queue is empty")
            return sent
        sent += done
        log.debug("attempt %d: %d acknowledged, %d sent so far", attempt, done, sent)
