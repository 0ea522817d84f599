"""The README's PostgreSQL and backup commands as a newcomer types them: a misspelt URL, the
backup of a PostgreSQL database."""

import os
import re
import subprocess
import sys

from test_storage_faults import _closed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", *args],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def _readme_section(title):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    match = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text, re.S | re.M)
    assert match, "README has no section %r" % title
    return match.group(1)


def test_backup_of_a_postgresql_url_points_to_the_readme_section_on_pg_dump(tmp_path):
    """`collector backup --db postgresql://...` says: back it up with pg_dump or a base backup
    (README, "Running the collector"). That section says nothing of pg_dump: it is under "A
    collector fleet on PostgreSQL" (which `collector restore`'s message names)."""
    done = _cli("collector", "backup", "--db", "postgresql://lostcard@127.0.0.1:1/lostcard",
                "--out", str(tmp_path / "b.db"))
    assert done.returncode == 2, done.stderr
    named = re.search(r'README, "([^"]+)"', done.stderr)
    assert named, done.stderr
    assert "pg_dump" in _readme_section(named.group(1)), done.stderr


def test_a_postgresql_url_missing_its_slashes_is_not_served_as_a_new_sqlite_file(tmp_path):
    """`--db postgresql:lostcard` (the // forgotten) is taken as a SQLite path: serve creates a
    file named "postgresql:lostcard" and serves an empty collector on it, logging "SQLite" only
    in passing, while the fleet's other processes use PostgreSQL. The issue: a --db URL that
    cannot connect is one line and exit 2 at start."""
    secret = tmp_path / "fleet.secret"
    secret.write_text("11" * 32)
    proc = subprocess.Popen([sys.executable, "-m", "lostcard_cpython.cli", "collector", "serve",
                             "--db", "postgresql:lostcard", "--fleet-secret-file", str(secret),
                             "--port", "0"], cwd=str(tmp_path), stderr=subprocess.PIPE, text=True)
    try:
        err = proc.communicate(timeout=8)[1]
    except subprocess.TimeoutExpired:
        proc.terminate()
        err = proc.communicate(timeout=30)[1]
    created = [n for n in os.listdir(tmp_path) if n.startswith("postgresql:")]
    assert not created, "created %s; stderr: %s" % (created, err)
    assert proc.returncode == 2, err


def test_a_misspelt_postgresql_url_is_refused_in_one_line_whatever_its_case(tmp_path):
    for db in ("postgresql:lostcard", "POSTGRESQL://db/lostcard", "Postgres:lostcard"):
        done = _cli("collector", "stats", "--db", db, cwd=str(tmp_path))
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.splitlines()) == 1 and "postgresql://" in done.stderr, done.stderr
    assert os.listdir(tmp_path) == []
