"""The collector's HTTP server against slow, idle and greedy clients (docs/SYNC.md, "The
server"): uvicorn with its httptools protocol, extended by GuardedProtocol, plus TLS and the
backpressure of POST /v1/batch.

uvicorn alone times out only idle keep-alive connections, and its concurrency limit answers 503
to everyone once idle sockets fill it. Here a connection must finish its request headers (and
its TLS handshake) within HEADER_TIMEOUT of connecting or of its previous response, however it
trickles them; a client address holds at most PER_IP connections and the server MAX_CONNECTIONS,
more are closed at accept; and a batch beyond MAX_IN_FLIGHT is answered 429 with Retry-After at
once instead of queueing.
"""

import ipaddress
import logging
import os
import random
import resource
import ssl
import time

from lostcard.errors import LostcardError
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = 10.0  # seconds from connect, or from the last response, to complete headers
KEEP_ALIVE = 5  # seconds a connection may idle between requests
PER_IP = 32  # open connections per client address
MAX_CONNECTIONS = 1024  # open connections in all
INGEST_THREADS = 4  # batches ingested at once (the fleet keys and SQLite serialise them anyway)
MAX_IN_FLIGHT = 2 * INGEST_THREADS  # batches ingested or waiting for a thread; more get 429
RETRY_AFTER = (1, 5)  # seconds a 429 asks for, drawn uniformly: a busy fleet spreads out
WARN_EVERY = 60.0  # seconds between warnings of one kind: a flood logs one a minute
# Test hook (tests only): "N" answers the first N batches 429, as an overloaded collector would.
BUSY_ENV = "LOSTCARD_COLLECTOR_BUSY"
MAX_HEAD_BYTES = 16 * 1024  # a request's line and headers (a terminal's are ~150 bytes)
REQUEST_DEADLINE = 30.0  # seconds from a request's headers to its response written: body (10 s),
# ingest and a client that reads its reply; past it the connection is aborted
log = logging.getLogger("lostcard.collector")


class Warnings:
    """One line per kind of refusal at most every WARN_EVERY seconds, with how many it sums up:
    an operator sees an attack without the log becoming one."""

    def __init__(self):
        self.counts, self.said = {}, {}

    def note(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1
        now = time.monotonic()
        if now - self.said.get(what, -WARN_EVERY) < WARN_EVERY:
            return
        self.said[what] = now
        log.warning("%s (%d since the last line like this one)", what, self.counts.pop(what))


def client_of(ip):
    """The client an address counts for: an IPv6 host holds a whole /64, and an IPv4-mapped
    address is its IPv4 one."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network((address, 64), strict=False))
    return ip


class QuietParserErrors(logging.Filter):
    """uvicorn logs one line per malformed request: a flood of them would bury what an operator
    must see. They go through Warnings' once a minute instead."""

    def __init__(self, warnings):
        super().__init__()
        self.warnings = warnings

    def filter(self, record):
        if record.getMessage().startswith("Invalid HTTP request"):
            self.warnings.note("invalid HTTP requests refused")
            return False
        return True


class Gate:
    """Open connections, per client (client_of) and in all; shared by a server's connections
    (all on its event loop's thread). When all places are taken, the connection that has waited
    longest for its request headers makes room for a new one: squatters reconnecting at once
    cannot keep a terminal out."""

    def __init__(self, per_ip=PER_IP, most=MAX_CONNECTIONS):
        self.per_ip, self.most = per_ip, most
        self.open, self.total = {}, 0
        self.idle = {}  # connections waiting for request headers, oldest first
        self.warnings = Warnings()

    def admit(self, ip):
        ip = client_of(ip)
        if self.open.get(ip, 0) >= self.per_ip:
            self.warnings.note("connections closed at accept: %d open from one address"
                               % self.per_ip)
            return False
        if self.total >= self.most:
            if not self.idle:
                self.warnings.note("connections closed at accept: %d open" % self.most)
                return False
            next(iter(self.idle))._close("connections closed: all %d places taken, the one "
                                         "idle longest made room" % self.most)
        self.open[ip] = self.open.get(ip, 0) + 1
        self.total += 1
        return True

    def release(self, ip):
        ip = client_of(ip)
        self.total -= 1
        self.open[ip] -= 1
        if not self.open[ip]:
            del self.open[ip]


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the gate at accept, the header timeout, and TLS done
    here (asyncio's start_tls) rather than by uvicorn: so that a client stalling its handshake is
    admitted, counted and timed out like one stalling its headers. Relies on uvicorn's
    connection_made, connection_lost, data_received, on_headers_complete and
    on_response_complete (pyproject pins the versions)."""

    def __init__(self, *args, gate, tls=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate, self.tls = gate, tls
        self.admitted = False
        self.peer = self.raw = self.header_timer = None
        self.early = b""  # TLS: what the client sent with its handshake's end
        self.head_bytes = 0  # of the request whose headers are awaited
        self.request_timer = None

    def connection_made(self, transport):
        peer = transport.get_extra_info("peername")
        ip = peer[0] if peer else None
        if not self.gate.admit(ip):
            transport.abort()
            return
        self.admitted, self.peer, self.raw = True, ip, transport
        self._arm()
        if self.tls is None:
            super().connection_made(transport)
        else:  # no byte read before start_tls hands the socket to the TLS layer
            transport.pause_reading()
            self.loop.create_task(self._handshake(transport))

    async def _handshake(self, raw):
        try:
            tls = await self.loop.start_tls(raw, self, self.tls, server_side=True,
                                            ssl_handshake_timeout=HEADER_TIMEOUT)
        except Exception:  # whatever an untrusted peer did, start_tls closed the connection
            self._release()
            return
        if not self.admitted:  # lost or timed out meanwhile
            return
        super().connection_made(tls)
        early, self.early = self.early, b""
        if early:
            super().data_received(early)

    def data_received(self, data):
        # the TLS layer delivers the first request as the handshake ends, before start_tls
        # returns the transport that uvicorn's side needs
        if self.transport is None:
            self.early += data
            return
        super().data_received(data)
        if self.header_timer is not None:  # still no complete headers: bounded in bytes too
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self._close("connections closed: request headers over %d bytes" % MAX_HEAD_BYTES)

    def connection_lost(self, exc):
        self._release()
        if self.transport is not None:  # uvicorn's side was set up: a connection it knows
            super().connection_lost(exc)

    def _release(self):
        self.gate.idle.pop(self, None)
        for timer in (self.header_timer, self.request_timer):
            if timer is not None:
                timer.cancel()
        self.header_timer = self.request_timer = None
        if self.admitted:  # once: a failed handshake may end here and in connection_lost
            self.admitted = False
            self.gate.release(self.peer)

    def _arm(self):
        self.head_bytes = 0
        self.header_timer = self.loop.call_later(HEADER_TIMEOUT, self._expire)
        self.gate.idle[self] = None

    def _close(self, why):
        self.gate.warnings.note(why)
        self._release()
        # abort, not close: a TLS close would wait for the peer's close_notify
        (self.transport or self.raw).abort()

    def _expire(self):
        self.header_timer = None
        self._close("connections closed: no complete request headers in %d s" % HEADER_TIMEOUT)

    def on_headers_complete(self):
        self.gate.idle.pop(self, None)
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            # a pipelined request: no terminal sends one, and uvicorn would queue each without
            # bound while a client that never reads its replies holds them all
            self._close("connections closed: pipelined requests")
            raise ConnectionAbortedError("pipelined request")  # stops the parser's chunk
        super().on_headers_complete()
        self.request_timer = self.loop.call_later(
            REQUEST_DEADLINE, self._close, "connections closed: a request not done in %d s "
            "(a client not reading its reply?)" % REQUEST_DEADLINE)

    def on_response_complete(self):
        if self.request_timer is not None:
            self.request_timer.cancel()
            self.request_timer = None
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()


def raise_fd_limit():
    """Room for MAX_CONNECTIONS sockets beside the database's files: a soft limit of 1024 (a
    common default) would make accept fail before the gate could refuse anything."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = MAX_CONNECTIONS + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (
            want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


def _check_certificate(path):
    """Refuse, in one line, a certificate every terminal would refuse: expired, not yet valid,
    or a CA's own (served by mistake for the collector's)."""
    import datetime

    from cryptography import x509

    try:
        with open(path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
    except (OSError, ValueError):
        return  # load_cert_chain says what is wrong with the file
    now = datetime.datetime.now(datetime.timezone.utc)
    if now > cert.not_valid_after_utc:
        raise LostcardError("--tls-cert %s expired on %s: terminals would refuse it"
                            % (path, cert.not_valid_after_utc.date()))
    if now < cert.not_valid_before_utc:
        raise LostcardError("--tls-cert %s is not yet valid (from %s): terminals would "
                            "refuse it" % (path, cert.not_valid_before_utc.date()))
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise LostcardError("--tls-cert %s is a CA's certificate: serve the collector's own "
                                "(the CA's goes to the terminals as collector_ca)" % path)
    except x509.ExtensionNotFound:
        pass


def tls_context(cert, key):
    """The server's TLS context from PEM files, or one line saying which file is wrong: before
    anything is created."""
    if (cert is None) != (key is None):
        raise LostcardError("--tls-cert and --tls-key go together: give both or neither")
    if cert is None:
        return None
    for path in (cert, key):
        if not os.path.isfile(path):
            raise LostcardError("%s: %s" % (path, "not a file" if os.path.exists(path)
                                             else "no such file"))
    _check_certificate(cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)

    def encrypted():  # OpenSSL would ask for a pass phrase on a terminal a service has not
        raise LostcardError("--tls-key %s is encrypted: give its unencrypted key (the collector "
                            "starts unattended)" % key)

    try:
        context.load_cert_chain(cert, key, password=encrypted)
    except ssl.SSLError as exc:
        why = ("the key does not match the certificate" if "KEY_VALUES_MISMATCH" in str(exc)
               else "not a PEM certificate and its unencrypted PEM key")
        raise LostcardError("--tls-cert %s --tls-key %s: %s" % (cert, key, why)) from None
    except OSError as exc:
        raise LostcardError("--tls-cert %s --tls-key %s: %s" % (cert, key, exc.strerror)) \
            from None
    return context


class Backpressure:
    """Batches in flight; past the bound the collector answers 429 at once: a queue would only
    turn the overload into timeouts, and the terminal retries after Retry-After anyway."""

    def __init__(self, bound=MAX_IN_FLIGHT):
        self.bound, self.in_flight = bound, 0
        self.forced = int(os.environ.get(BUSY_ENV) or 0)
        self.warnings = Warnings()

    def enter(self):
        """True if the batch may go on (then leave() after it), False if it gets 429."""
        if self.forced > 0 or self.in_flight >= self.bound:
            self.forced = max(0, self.forced - 1)
            self.warnings.note("collector busy: batches answered 429 (more than %d in flight)"
                               % self.bound)
            return False
        self.in_flight += 1
        return True

    def leave(self):
        self.in_flight -= 1

    @staticmethod
    def retry_after():
        return str(random.randint(*RETRY_AFTER))
