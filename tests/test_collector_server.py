"""The collector's server against slow, idle and greedy clients, and serving TLS (docs/SYNC.md,
"The server"), on a real collector process on loopback. Attackers connect from other loopback
addresses (Linux routes all of 127/8 to lo) so that the per-address cap is the attacker's, not
the terminal's. Time bounds are generous failure conditions, not measurements.
"""

import os
import resource
import socket
import ssl
import subprocess
import sys
import threading
import time

import httpx
import pytest

from lostcard import protocol
from lostcard.errors import SyncError
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard_cpython import crypto, upload
from lostcard_cpython.errors import Failed
from lostcard_cpython.collector_server import (BUSY_ENV, HEADER_TIMEOUT, MAX_CONNECTIONS,
                                               MAX_IN_FLIGHT, PER_IP, RETRY_AFTER, Backpressure)
from lostcard_cpython.local_collector import LocalCollector, free_port
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.transport import HttpTransport
from test_cli_bad_input import USAGE, assert_one_line, lostcard
from test_sync import SECRET, _device, _pending, _stored
import tls_ca

ATTACKERS = ["127.0.0.%d" % n for n in range(2, 10)]  # 8 addresses: 250 sockets, <= 32 each
IDLE, TRICKLING = 200, 50
CLOSE_BOUND = HEADER_TIMEOUT + 30  # seconds: the server must have closed an attacker by then
SYNC_BOUND = 30  # seconds for the terminal's whole sync under attack


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "fleet.secret"
    path.write_text(SECRET.hex())
    return path


@pytest.fixture
def collector(tmp_path, secret_file):
    server = LocalCollector(tmp_path / "collector.db", secret_file).start()
    yield server
    server.stop()


def _fd_room(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def _connect(port, source):
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def _closed_by_server(sock, deadline):
    """True once the server closed `sock` (end of file or reset), False if still open at
    `deadline` (time.monotonic())."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except (socket.timeout, BlockingIOError):
        return False


def _open_now(sock):
    """The server has not closed `sock` (nothing to read, no end of file)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


def _get_health(sock):
    sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: collector\r\n\r\n")
    sock.settimeout(10)
    return sock.recv(4096).split(b"\r\n", 1)[0]


class Trickler(threading.Thread):
    """Sends each socket one byte of request headers that never end, every 0.2 s, until the
    server closes it; counts the bytes each sent after HEADER_TIMEOUT."""

    HEADERS = b"POST /v1/batch HTTP/1.1\r\nHost: collector\r\nX-Pad: " + b"a" * 100000

    def __init__(self, socks):
        super().__init__(daemon=True)
        self.socks, self.stop = socks, threading.Event()
        self.late = [0] * len(socks)

    def run(self):
        started, alive = time.monotonic(), set(range(len(self.socks)))
        for n in range(len(self.HEADERS)):
            if self.stop.wait(0.2) or not alive:
                return
            for i in list(alive):
                try:
                    self.socks[i].send(self.HEADERS[n:n + 1])
                except OSError:  # closed by the server
                    alive.discard(i)
                    continue
                if time.monotonic() - started > HEADER_TIMEOUT:
                    self.late[i] += 1


def test_a_terminal_syncs_through_idle_and_trickling_connections(collector, tmp_path):
    _fd_room(1024)
    q, seqs = _device(tmp_path, "T-ATTACKED")
    port = collector.port
    opened = time.monotonic()
    idle = [_connect(port, ATTACKERS[n % len(ATTACKERS)]) for n in range(IDLE)]
    trickling = [_connect(port, ATTACKERS[n % len(ATTACKERS)]) for n in range(TRICKLING)]
    trickler = Trickler(trickling)
    trickler.start()
    try:
        started = time.monotonic()
        sync = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "sync", "-v", "--dir",
                               str(tmp_path / "T-ATTACKED"), "--url", collector.url, "--now"],
                              capture_output=True, text=True, timeout=SYNC_BOUND)
        took = time.monotonic() - started
        assert sync.returncode == 0, sync.stderr
        assert "synced %d incidents; 0 left" % len(seqs) in sync.stderr
        assert _stored(str(tmp_path / "collector.db"), "T-ATTACKED") == sorted(seqs)
        # every attacker is closed by the server: the trickling ones still sending
        deadline = opened + CLOSE_BOUND
        closed = [_closed_by_server(s, deadline) for s in idle + trickling]
        assert all(closed), "%d of %d still open" % (closed.count(False), len(closed))
        trickler.join(timeout=30)
        assert not trickler.is_alive()
    finally:
        trickler.stop.set()
        for s in idle + trickling:
            s.close()
    print("terminal synced %d incidents in %.1f s under %d idle + %d trickling connections; "
          "the server closed all %d; bytes trickled past %d s: %d"
          % (len(seqs), took, IDLE, TRICKLING, len(closed), HEADER_TIMEOUT, sum(trickler.late)))


def test_one_address_gets_at_most_32_connections(collector):
    port = collector.port
    held = [_connect(port, "127.0.0.3") for _ in range(PER_IP)]
    extra = _connect(port, "127.0.0.3")  # accepted after the 32 above: the kernel's queue is FIFO
    try:
        assert _closed_by_server(extra, time.monotonic() + HEADER_TIMEOUT / 2)
        assert all(_open_now(s) for s in held)  # the 32 are held, not timed out
        other = _connect(port, "127.0.0.4")  # another address is served
        assert _get_health(other) == b"HTTP/1.1 200 OK"
        other.close()
        for s in held:  # the 32 were admitted: each is answered
            assert _get_health(s) == b"HTTP/1.1 200 OK"
        held.pop().close()  # a place freed: the address may connect again
        deadline = time.monotonic() + 30
        while True:
            again = _connect(port, "127.0.0.3")
            try:
                if _get_health(again) == b"HTTP/1.1 200 OK":
                    break
            except OSError:
                pass
            finally:
                again.close()
            assert time.monotonic() < deadline, "the freed place was not given back"
            time.sleep(0.1)
    finally:
        extra.close()
        for s in held:
            s.close()


def test_the_server_holds_1024_connections_and_the_idlest_makes_room(collector):
    _fd_room(MAX_CONNECTIONS + 256)
    addresses = ["127.0.1.%d" % n for n in range(1, MAX_CONNECTIONS // PER_IP + 1)]
    held = [_connect(collector.port, a) for a in addresses for _ in range(PER_IP)]
    extra = _connect(collector.port, "127.0.2.1")  # an address of its own, past the total
    try:
        # the connection that waited longest for its headers is closed for it, no other
        assert _closed_by_server(held[0], time.monotonic() + HEADER_TIMEOUT / 2)
        assert all(_open_now(s) for s in held[1:]) and _open_now(extra)
        assert _get_health(extra) == b"HTTP/1.1 200 OK"
    finally:
        extra.close()
        for s in held:
            s.close()


def test_in_flight_batches_are_bounded():
    busy = Backpressure()
    assert all(busy.enter() for _ in range(MAX_IN_FLIGHT))
    assert not busy.enter()
    busy.leave()
    assert busy.enter()


def test_a_busy_collector_answers_429_with_retry_after_and_sync_waits_it_out(
        tmp_path, secret_file, monkeypatch):
    monkeypatch.setenv(BUSY_ENV, "3")  # the first three batches: 429
    server = LocalCollector(tmp_path / "collector.db", secret_file).start()
    try:
        q, seqs = _device(tmp_path, "T-BUSY")
        lane = next(lane for lane in (1, 2, 3) if list(q.pending(lane)))
        items = [list(item) for item in q.pending(lane)][:1]  # authenticated: 429 comes after
        body = protocol.encode_batch(crypto, q.ack_key, "T-BUSY", bytes(16), lane, items,
                                     q.gaps(), protocol.digest(items))
        reply = httpx.post(server.url + "/v1/batch", content=body, timeout=10)
        assert reply.status_code == 429 and "busy" in reply.json()["error"]
        assert RETRY_AFTER[0] <= int(reply.headers["retry-after"]) <= RETRY_AFTER[1]
        transport = HttpTransport(server.url)
        with pytest.raises(SyncError) as busy:
            transport.post("/v1/batch", body)
        assert busy.value.args[0] == "collector busy (429)"
        assert RETRY_AFTER[0] <= busy.value.args[1] <= RETRY_AFTER[1]
        transport.close()
        # one more 429, then the collector takes batches: waited out, and not a failure
        sync = lostcard("sync", "-v", "--dir", str(tmp_path / "T-BUSY"), "--url", server.url,
                        "--now", "--max-failures", "1", "--give-up-after", "60", cwd=tmp_path)
        err = sync.stderr.decode()
        assert sync.returncode == 0, err
        assert "attempt 1: collector busy, retry after" in err
        assert _stored(str(tmp_path / "collector.db"), "T-BUSY") == sorted(seqs)
    finally:
        server.stop()


class Outcomes:
    """An uploader whose steps answer in turn: a count acknowledged, or a SyncError to raise."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    def step(self):
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, int):
            return outcome
        raise outcome


def _sync(outcomes, max_failures=8, give_up_s=100.0):
    """upload.run on fakes, the jitter at its largest; (records sent, the waits)."""
    waits, clock = [], [0.0]

    def sleep(s):
        waits.append(s)
        clock[0] += s

    transport = upload.StatusTransport(None)
    sent = upload.run(Outcomes(outcomes), transport, sleep, lambda a, b: b, lambda: clock[0],
                      max_failures, give_up_s)
    return sent, waits


def _busy(seconds):
    return SyncError("collector busy (429)", seconds)


def test_sync_waits_out_a_busy_collector_without_counting_it_a_failure():
    # max(backoff, Retry-After); the backoff grows; no strike: --max-failures 1 is not reached
    assert _sync([_busy(4), _busy(None), _busy(0), 5, 0], max_failures=1) == (5, [4, 2.0, 4.0])
    # a network failure after a 429 is the first strike, with the backoff the 429 raised
    assert _sync([_busy(1), SyncError("network: ConnectError"), 1, 0], max_failures=2) == \
        (1, [1.0, 2.0])
    with pytest.raises(Failed, match="after 1 failed attempts"):
        _sync([_busy(1), SyncError("network: ConnectError")], max_failures=1)
    # only the time bound ends it
    with pytest.raises(Failed, match=r"busy \(429\) and asks to wait 300 s, past "
                                     r"--give-up-after 100 s"):
        _sync([_busy(8), _busy(300)], give_up_s=100)


def test_retry_after_is_whole_seconds_clamped_or_nothing():
    from lostcard_cpython.transport import retry_after

    for value, seconds in [("3", 3), (" 120 ", 120), ("301", 300), ("99999999999", 300),
                           ("", None), ("-1", None), ("1.5", None), ("\u00b2", None),
                           ("Wed, 21 Oct 2026 07:28:00 GMT", None)]:
        header = httpx.Headers({"retry-after": value.encode("latin-1")}).get("retry-after")
        assert retry_after(header) == seconds, value
    assert retry_after(httpx.Headers({}).get("retry-after")) is None


@pytest.fixture
def certs(tmp_path):
    made = tls_ca.make(tmp_path)  # the collector's certificate is for "localhost"
    return {"ca": made["ca"], "cert": made["good"], "key": made["good_key"],
            "other_key": made["mitm_key"]}


def test_tls_serve_refuses_bad_certificate_input_before_creating_anything(
        tmp_path, secret_file, certs):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    serve = ["collector", "serve", "--fleet-secret-file", str(secret_file), "--port", "0"]
    cases = [
        (["--tls-cert", certs["cert"]], "give both or neither"),
        (["--tls-key", certs["key"]], "give both or neither"),
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", certs["key"]],
         "missing.pem: no such file"),
        (["--tls-cert", certs["cert"], "--tls-key", str(tmp_path)], "not a file"),
        (["--tls-cert", str(not_pem), "--tls-key", certs["key"]], "not a PEM certificate"),
        (["--tls-cert", certs["cert"], "--tls-key", str(not_pem)], "not a PEM certificate"),
        (["--tls-cert", certs["cert"], "--tls-key", certs["other_key"]],
         "the key does not match the certificate"),
    ]
    before = sorted(os.listdir(tmp_path))
    for options, why in cases:
        proc = lostcard(*serve, "--db", str(tmp_path / "new.db"), *options, cwd=tmp_path)
        assert why in assert_one_line(proc, USAGE), options
        assert sorted(os.listdir(tmp_path)) == before, options


def test_tls_serving_syncs_a_terminal_and_times_out_a_stalled_handshake(
        tmp_path, secret_file, certs):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve",
                             "--db", str(tmp_path / "collector.db"), "--fleet-secret-file",
                             str(secret_file), "--port", str(port), "--tls-cert", certs["cert"],
                             "--tls-key", certs["key"]], stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        assert "listening on https://127.0.0.1:%d" % port in line, line
        url = "https://localhost:%d" % port
        trust = ssl.create_default_context(cafile=certs["ca"])
        stalled = _connect(port, "127.0.0.5")  # connects, never says hello
        held = [_connect(port, "127.0.0.6") for _ in range(PER_IP)]
        extra = _connect(port, "127.0.0.6")  # the cap holds before the handshake too
        assert _closed_by_server(extra, time.monotonic() + HEADER_TIMEOUT / 2)
        assert httpx.get(url + "/v1/health", verify=trust, timeout=10).status_code == 200
        with pytest.raises(httpx.ConnectError):  # no certificate of ours for a plain client
            httpx.get(url + "/v1/health", timeout=10)
        q, seqs = _device(tmp_path, "T-TLS")
        transport = HttpTransport(url)
        transport.client = httpx.Client(base_url=url, verify=trust, timeout=10)
        uploader = Uploader(q, transport, crypto, os.urandom, q.device_id, q.ack_key)
        assert uploader.run(lambda s: None, lambda a, b: 0.0, max_failures=3) == len(seqs)
        assert _pending(Queue(DirStorage(str(tmp_path / "T-TLS")))) == []
        assert _stored(str(tmp_path / "collector.db"), "T-TLS") == sorted(seqs)
        deadline = time.monotonic() + CLOSE_BOUND
        assert _closed_by_server(stalled, deadline)
        assert all(_closed_by_server(s, deadline) for s in held)
        for s in [stalled, extra] + held:
            s.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
