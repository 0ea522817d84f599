"""A throwaway PostgreSQL server for the tests and the benchmarks: initdb and pg_ctl in a temporary
directory, on a free port of 127.0.0.1 with its unix socket in that directory, never a system
one. fsync stays on: the same durability as the collector's SQLite (synchronous=FULL), so that
benchmarks compare like with like. Stopped and removed at exit, also one by SIGTERM (`timeout`,
a cancelled CI job), which ends Python without atexit: pg_ctl daemonizes the server.

initdb refuses to run as root (CI runs as root): then the server runs as the `postgres` user
Debian's package creates, which owns the directory.
"""

import atexit
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading

from lostcard.errors import LostcardError

from .local_collector import free_port

SUPERUSER = "postgres"
NOT_INSTALLED = ("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on "
                 "PATH): apt-get install postgresql")


def _binaries():
    """The directory of initdb, pg_ctl and postgres: Debian's newest, else the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        raise LostcardError(NOT_INSTALLED)
    return os.path.dirname(initdb)


class ThrowawayPostgres:
    def __init__(self):
        self.bin = _binaries()
        self.as_root = os.geteuid() == 0
        # in the system's temporary directory itself: the postgres user must reach it, which a
        # private parent (pytest's tmp_path is under a 0700 directory) would not allow
        self.dir = tempfile.mkdtemp(prefix="lostcard-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.running = False
        if self.as_root:
            import pwd

            try:
                user = pwd.getpwnam(SUPERUSER)
            except KeyError:
                shutil.rmtree(self.dir)
                raise LostcardError("running as root, PostgreSQL's initdb needs the %r user "
                                    "its Debian package creates" % SUPERUSER) from None
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        atexit.register(self.close)
        _close_on_sigterm(self)
        self._run("initdb", "-D", self.data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                  "--no-locale")
        self.start()

    def _run(self, tool, *args):
        command = [os.path.join(self.bin, tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, cwd=self.dir)
        if done.returncode:
            raise LostcardError("%s failed: %s" % (tool, done.stdout.decode(errors="replace")))

    def start(self):
        """Start (again, after stop) on the same port and data."""
        self._run("pg_ctl", "start", "-w", "-D", self.data, "-l", os.path.join(self.dir, "log"),
                  "-o", "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on "
                  "-c max_connections=200" % (self.port, self.dir))
        self.running = True

    def stop(self):
        """Stop fast, as an operator's restart or a crash does: connections are cut."""
        self.running = False
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data)

    def url(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (SUPERUSER, self.port, database)

    def create_database(self, name):
        """A new, empty database; its URL."""
        from .collector_store_pg import create_database

        create_database(self.url(), name)
        return self.url(name)

    def close(self):
        if os.path.isdir(self.dir):
            if self.running:
                try:
                    self.stop()
                except LostcardError:
                    pass  # it went away by itself: remove what is left
            shutil.rmtree(self.dir, ignore_errors=True)


_LIVE = []  # servers to close on SIGTERM


def _close_on_sigterm(server):
    """Close `server` on SIGTERM too, then end as SIGTERM would have (or as the handler the
    program had set). Signal handlers are the main thread's to set: from another thread, or
    where SIGTERM is ignored, atexit alone."""
    _LIVE.append(server)
    previous = signal.getsignal(signal.SIGTERM)
    if (getattr(previous, "__name__", "") == "_close_all" or previous == signal.SIG_IGN
            or threading.current_thread() is not threading.main_thread()):
        return

    def _close_all(signum, frame):
        for each in _LIVE:
            each.close()
        if callable(previous):
            return previous(signum, frame)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return None

    signal.signal(signal.SIGTERM, _close_all)
