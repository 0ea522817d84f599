"""Where `lostcard collector report` writes: never over the database or the fleet secret, a csv
report only into a new, empty or earlier report's directory, and whole or not at all (a full
disk, here a file size limit, is one line naming the user's path, exit 1, nothing left)."""

import os
import resource

import pytest

from lostcard_cpython import report, report_export
from test_report import NOW, PLAN, SECRET, _command, build_db


def _files(folder):
    """{name: bytes} under `folder`, SQLite's -wal and -shm and the commit count beside them
    aside (the store's business)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm", "-commits"))}


@pytest.mark.parametrize("args, said", [
    (("--out", "c.db"), "--out c.db would overwrite the collector database c.db"),
    (("--out", "./c.db"), "--out ./c.db would overwrite the collector database c.db"),
    (("--format", "json", "--out", "c.db-wal"),
     "--out c.db-wal would overwrite the collector database c.db-wal"),
    (("--out", "fleet.secret"), "--out fleet.secret would overwrite the fleet secret file "
                                "fleet.secret"),
    (("--out", "linked.html"), "--out linked.html would overwrite the collector database c.db"),
    (("--format", "csv", "--out", "tables"),
     "--out tables would overwrite the fleet secret file fleet.secret"),
])
def test_the_report_never_replaces_the_database_or_the_secret(tmp_path, args, said):
    build_db(tmp_path / "c.db")
    (tmp_path / "fleet.secret").write_text(SECRET.hex())
    os.link(tmp_path / "c.db", tmp_path / "linked.html")  # the same file under another name
    report.write(tmp_path / "c.db", SECRET, tmp_path / "tables", fmt="csv", now=NOW)
    os.replace(tmp_path / "tables" / "summary.csv", tmp_path / "summary.csv")
    os.link(tmp_path / "fleet.secret", tmp_path / "tables" / "summary.csv")
    before = _files(tmp_path)
    proc, err = _command(tmp_path, *args)
    assert proc.returncode == 2 and err == ["lostcard: " + said], proc.stderr
    assert _files(tmp_path) == before


def test_a_csv_report_goes_only_where_no_other_file_is(tmp_path):
    build_db(tmp_path / "c.db")
    proc, err = _command(tmp_path, "--format", "csv", "--out", ".")
    assert proc.returncode == 2 and err == [
        "lostcard: --out . is a directory that holds other files; --format csv writes a new or "
        "empty directory, or an earlier report's"], proc.stderr
    assert sorted(_files(tmp_path)) == ["c.db", "fleet.secret"]
    (tmp_path / "empty").mkdir()
    proc, _ = _command(tmp_path, "--format", "csv", "--out", "empty")
    assert proc.returncode == 1, proc.stderr  # written, with the tampering alert
    assert report_export.MARKER in os.listdir(tmp_path / "empty")
    # an earlier report's directory is replaced, a file the user put there kept
    (tmp_path / "empty" / "notes.txt").write_text("mine")
    (tmp_path / "empty" / "summary.csv").write_text("stale")
    proc, _ = _command(tmp_path, "--format", "csv", "--out", "empty")
    assert proc.returncode == 1, proc.stderr
    assert (tmp_path / "empty" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "empty" / "summary.csv").read_text(encoding="utf-8-sig").startswith(
        "figure,")


def test_a_later_csv_report_leaves_no_table_of_the_earlier(tmp_path):
    build_db(tmp_path / "full.db")
    build_db(tmp_path / "undated.db", [row for row in PLAN if row[2] is None])
    report.write(tmp_path / "full.db", SECRET, tmp_path / "tables", fmt="csv", now=NOW)
    assert (tmp_path / "tables" / "over_time.csv").exists()
    report.write(tmp_path / "undated.db", SECRET, tmp_path / "tables", fmt="csv", now=NOW)
    built = report.build(tmp_path / "undated.db", SECRET, now=NOW)["tables"]
    assert "over_time" not in built  # no trusted time: nothing to chart
    assert sorted(os.listdir(tmp_path / "tables")) == sorted(
        [name + ".csv" for name in built] + [report_export.MARKER])


def _small_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))  # incidents.csv is over 2 KiB


@pytest.mark.parametrize("args, said", [
    (("--out", "r.html"), "r.html"),
    (("--format", "json", "--out", "r.json"), "r.json"),
    (("--format", "csv", "--out", "tables"), "tables/incidents.csv"),
])
def test_a_report_that_cannot_be_written_leaves_nothing(tmp_path, args, said):
    build_db(tmp_path / "c.db")
    (tmp_path / "fleet.secret").write_text(SECRET.hex())
    before = _files(tmp_path)
    proc, err = _command(tmp_path, *args, preexec_fn=_small_files)
    assert proc.returncode == 1 and err == ["lostcard: %s: cannot write: File too large"
                                            % said], proc.stderr
    assert _files(tmp_path) == before and sorted(os.listdir(tmp_path)) == sorted(
        p for p in os.listdir(tmp_path) if p in before or p.endswith(("-wal", "-shm", "-commits")))


def test_a_failed_csv_report_keeps_the_earlier_one_whole(tmp_path):
    build_db(tmp_path / "c.db")
    proc, _ = _command(tmp_path, "--format", "csv", "--out", "tables", "--terminal", "T-SHOP-2")
    assert proc.returncode == 0, proc.stderr
    before = _files(tmp_path)
    proc, err = _command(tmp_path, "--format", "csv", "--out", "tables",
                         preexec_fn=_small_files)
    assert err == ["lostcard: tables/incidents.csv: cannot write: File too large"], proc.stderr
    assert _files(tmp_path) == before and sorted(os.listdir(tmp_path / "tables")) == sorted(
        name.split("/")[1] for name in before if name.startswith("tables/"))


def test_what_a_killed_csv_report_left_is_no_obstacle_and_goes(tmp_path):
    build_db(tmp_path / "c.db")
    left = tmp_path / "tables" / (report_export.WRITING + "x1")
    left.mkdir(parents=True)
    (left / "summary.csv").write_text("half")
    report.write(tmp_path / "c.db", SECRET, tmp_path / "tables", fmt="csv", now=NOW)
    assert not left.exists() and report_export.MARKER in os.listdir(tmp_path / "tables")
