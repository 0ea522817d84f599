"""TLS with a verified certificate, on both terminals' clients, against a real collector serving
https on 127.0.0.1 (as "localhost"), its certificates from a test CA (tests/tls_ca.py).

The right CA, or the collector's self-signed certificate pinned: everything acknowledged. A wrong
CA, an expired certificate, a certificate for another host name, and a man in the middle with his
own certificate: refused, the reason on one line, and the queue still holds every incident
(nothing forgotten, nothing stored).
"""

import json
import select
import socket
import sqlite3
import ssl
import subprocess
import sys

import httpx
import pytest

from lostcard.queue import Queue
from lostcard_cpython.storage import DirStorage
from lostcard_cpython.terminal import Terminal
from lostcard_cpython.tls_collector import HttpsCollector
from loopback_server import LoopbackServer
from firmware_boards import unix32
from micropython_process import micropython
from test_firmware_unix32 import HEAP as UNIX32_HEAP, exe, tools  # noqa: F401 (fixtures)
from terminal_setup import DEVICE, SECRET, provisioned_terminal
import tls_ca

DECLINES = 6
CASES = ("right_ca", "pinned", "wrong_ca", "expired", "wrong_host", "mitm")


class Mitm:
    """A man in the middle: TLS to the terminal with his own certificate (self-signed for
    "localhost"), TLS to the real collector, every byte relayed between them."""

    def __init__(self, cert, key, upstream_port, ca):
        self.front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.front.load_cert_chain(cert, key)
        self.back = ssl.create_default_context(cafile=ca)
        self.upstream_port = upstream_port
        self.server = LoopbackServer(self._relay, "https://localhost:%d")
        self.url = self.server.url

    def _relay(self, conn):
        try:
            with self.front.wrap_socket(conn, server_side=True) as down, \
                    self.back.wrap_socket(socket.create_connection(
                        ("127.0.0.1", self.upstream_port)), server_hostname="localhost") as up:
                peers = {down: up, up: down}
                while True:
                    ready = [s for s in peers if s.pending()] or \
                        select.select(list(peers), [], [], 5)[0]
                    if not ready:
                        return
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        peers[sock].sendall(data)
        except OSError:  # the terminal refused the handshake: what the tests want
            conn.close()

    def stop(self):
        self.server.close()


@pytest.fixture(scope="module")
def collectors(tmp_path_factory):
    """Per case: (the collector's URL, the CA file the terminal trusts), and the databases."""
    tmp = tmp_path_factory.mktemp("tls")
    certs = tls_ca.make(tmp)
    servers = {name: HttpsCollector(tmp / (name + ".db"), SECRET, certs[name],
                                    certs[name + "_key"]).start()
               for name in ("good", "expired", "other_host", "mitm")}
    mitm = Mitm(certs["mitm"], certs["mitm_key"], servers["good"].port, certs["ca"])
    cases = {"right_ca": (servers["good"].url, certs["ca"]),
             # the collector's own self-signed certificate, pinned
             "pinned": (servers["mitm"].url, certs["mitm"]),
             "wrong_ca": (servers["good"].url, certs["other_ca"]),
             "expired": (servers["expired"].url, certs["ca"]),
             "wrong_host": (servers["other_host"].url, certs["ca"]),
             "mitm": (mitm.url, certs["ca"])}
    yield {"cases": cases, "db": servers["good"].db, "certs": certs, "mitm": mitm,
           "dbs": [server.db for server in servers.values()]}
    mitm.stop()
    for server in servers.values():
        server.stop()


def _queue_of_declines(tmp_path, url, ca):
    """A provisioned terminal (the emulator's) holding DECLINES incidents; its config."""
    provisioned_terminal(tmp_path, url, DECLINES, collector_ca=ca)
    config = json.loads((tmp_path / "lostcard.json").read_text())
    terminal = Terminal(dict(config, collector_url=None))
    with open(tmp_path / "declines.jsonl", encoding="utf-8") as f:
        for line in f:
            assert terminal.on_decline(json.loads(line))["stored"]
    return config


def _queued(config):
    return Queue(DirStorage(config["queue_dir"])).stats()["records"]


def _stored(collectors):
    total = 0
    for db in collectors["dbs"]:
        with sqlite3.connect(db) as con:
            total += con.execute("SELECT COUNT(*) FROM incidents WHERE device = ?",
                                 (DEVICE,)).fetchone()[0]
    return total


@pytest.fixture
def fresh(collectors):
    """Each test's terminal has the same device id: the collectors start it from nothing."""
    for db in collectors["dbs"]:
        with sqlite3.connect(db) as con:
            con.execute("DELETE FROM incidents WHERE device = ?", (DEVICE,))
    return collectors


REFUSALS = {  # what each client says, in its one line
    "cpython": {"wrong_ca": "unable to get local issuer certificate",
                "expired": "certificate has expired",
                "wrong_host": "Hostname mismatch",
                "mitm": "self-signed certificate"},
    "micropython": {"wrong_ca": "not correctly signed by the trusted CA",
                    "expired": "validity has expired",
                    "wrong_host": "does not match with the expected CN",
                    "mitm": "not correctly signed by the trusted CA"},
}


@pytest.mark.parametrize("case", CASES)
def test_lostcard_sync_trusts_only_the_ca_it_is_given(fresh, tmp_path, case):
    url, ca = fresh["cases"][case]
    config = _queue_of_declines(tmp_path, url, ca)
    proc = subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "sync", "--dir",
                           config["queue_dir"], "--url", url, "--ca", ca, "--now"],
                          capture_output=True, text=True, timeout=120)
    if case in ("right_ca", "pinned"):
        assert proc.returncode == 0, proc.stderr
        assert "synced %d incidents; 0 left" % DECLINES in proc.stderr
        assert _queued(config) == 0 and _stored(fresh) == DECLINES
        return
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    # upload.py's words for a handshake that retrying cannot fix: it stops at the first attempt
    assert "certificate was refused (" in proc.stderr and "--ca" in proc.stderr, proc.stderr
    assert _queued(config) == DECLINES and _stored(fresh) == 0  # nothing forgotten


@pytest.mark.parametrize("case", CASES)
def test_the_emulator_terminal_trusts_only_its_collector_ca(fresh, tmp_path, case):
    url, ca = fresh["cases"][case]
    terminal = Terminal(_queue_of_declines(tmp_path, url, ca))
    done = terminal.sync_step()
    if case in ("right_ca", "pinned"):
        while done:
            done = terminal.sync_step()
        assert _stored(fresh) == DECLINES and terminal.status()["queued"] == 0
        return
    assert done == 0 and terminal.link == "down"
    assert REFUSALS["cpython"][case] in terminal.last_error, terminal.last_error
    assert "\n" not in terminal.last_error
    assert terminal.status()["queued"] == DECLINES and _stored(fresh) == 0


@pytest.mark.parametrize("case", CASES)
def test_the_device_trusts_only_its_collector_ca(fresh, bundle, tmp_path, case):
    """MicroPython (the PyPI build, mbedtls) at the terminal's 64 KiB heap: the core Uploader
    over lostcard_mpy's transport."""
    url, ca = fresh["cases"][case]
    config = _queue_of_declines(tmp_path, url, ca)
    proc = micropython(bundle, ["-m", "sync_client", config["queue_dir"], url, "20", ca])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    if case in ("right_ca", "pinned"):
        assert proc.stdout.split()[-1] == "done", proc.stdout
        assert _queued(config) == 0 and _stored(fresh) == DECLINES
        return
    lines = proc.stdout.splitlines()
    assert len(lines) == 20 and all(line.startswith("refused: network: ") for line in lines)
    assert REFUSALS["micropython"][case] in lines[0], lines[0]
    assert _queued(config) == DECLINES and _stored(fresh) == 0


@pytest.mark.parametrize("case", CASES)
def test_the_unix32_firmware_trusts_only_its_collector_ca(fresh, exe, tools, tmp_path, case):
    """The same on lostcard frozen into the 32-bit unix firmware (mbedtls 3.6.2, validity dates
    checked), at its tests' 48 KiB heap."""
    url, ca = fresh["cases"][case]
    config = _queue_of_declines(tmp_path, url, ca)
    proc = unix32(exe, ["-m", "sync_client", config["queue_dir"], url, "3", ca], cwd=tools,
                  heap=UNIX32_HEAP)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    if case in ("right_ca", "pinned"):
        assert proc.stdout.split()[-1] == "done", proc.stdout
        assert _queued(config) == 0 and _stored(fresh) == DECLINES
        return
    assert REFUSALS["micropython"][case] in proc.stdout.splitlines()[0], proc.stdout
    assert _queued(config) == DECLINES and _stored(fresh) == 0


def test_the_man_in_the_middle_relays_to_a_client_that_does_not_verify(collectors):
    """The MITM cases prove something: a client without verification goes through him."""
    reply = httpx.get(collectors["mitm"].url + "/v1/health", verify=False)
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}
