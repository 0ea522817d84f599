"""The throwaway PostgreSQL is stopped and removed at exit, also one by SIGTERM (`timeout 600
pytest ...`, a CI job cancelled): pg_ctl daemonizes the server, and Python's default SIGTERM ends
the process without atexit, which would leave it running for good, port and
/tmp/lostcard-pg-* directory and all."""

import os
import signal
import subprocess
import sys
import time

import psycopg

from lostcard_cpython.throwaway_pg import ThrowawayPostgres

CHILD = """
import sys, time
from lostcard_cpython.throwaway_pg import ThrowawayPostgres
server = ThrowawayPostgres()
print(server.dir, server.port, flush=True)
time.sleep(600)
"""


def _answers(port):
    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:%d/postgres" % port,
                        connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


def test_a_test_run_ended_by_sigterm_leaves_no_server_behind():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    directory, port = child.stdout.readline().split()
    port = int(port)
    try:
        assert _answers(port)
        child.send_signal(signal.SIGTERM)  # what `timeout` sends
        child.wait(30)
        time.sleep(5)  # time to stop, if anything stops it
        left = _answers(port), os.path.isdir(directory)
    finally:  # stop what the child started, if it is still there
        if os.path.isdir(os.path.join(directory, "data")):
            server = ThrowawayPostgres.__new__(ThrowawayPostgres)
            from lostcard_cpython import throwaway_pg
            server.bin, server.as_root = throwaway_pg._binaries(), os.geteuid() == 0
            server.dir, server.data, server.running = directory, os.path.join(directory, "data"), True
            server.close()
    assert left == (False, False), "server answering, directory left: %s" % (left,)
