"""`lostcard bench fleet --db PATH` on a database an earlier run wrote (the README: "--db: a path
or a postgresql:// URL") is refused up front, one line saying what to do (name a new file or an
empty database), never "the collector exited: ... the fleet secret in /tmp/tmpXXXX/fleet.secret
is not the one": a secret file the operator never made (the bench draws one per run)."""

import subprocess
import sys


def _fleet(db):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "bench", "fleet",
                           "--terminals", "2", "--window", "1", "--db", db],
                          capture_output=True, text=True, timeout=120)


def test_bench_fleet_on_a_database_of_an_earlier_run_says_what_to_do(tmp_path):
    db = str(tmp_path / "fleet.db")
    first = _fleet(db)
    assert first.returncode == 0, first.stderr
    second = _fleet(db)
    assert second.returncode == 2, second.stderr
    line = second.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert "/tmp" not in line.replace(str(tmp_path), ""), line  # not a file of the bench's own
    assert "new" in line or "empty" in line, line
