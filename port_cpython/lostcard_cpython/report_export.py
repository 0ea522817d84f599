"""The report's files: the page, or its tables for a spreadsheet or a script, each written whole
or not at all, so that a failed run (a full disk) leaves the last good report in place and no
half file: a file goes to a temporary file beside it, then a rename; csv tables all go to a
temporary directory inside --out, then each is renamed into place.

csv: a directory with one file per table, `<table>.csv` (UTF-8 with a byte order mark, without
which Excel reads Chinese as Latin-1), its header the columns' keys; every table is written, an
empty one as its header alone, so that a script finds the same files each time, and MARKER,
which lists them: a later report may replace them, and only them. json: one object, the period
and the filters, then every table as a list of objects keyed by its columns.
"""

import csv
import io
import json
import os
import shutil
import tempfile

from lostcard.errors import LostcardError

from .errors import Failed
from .report_tables import Cell, iso

FORMATS = ("html", "csv", "json")
MARKER = "lostcard-report.txt"
MARKED = "lostcard collector report: its tables, one file a line\n"
WRITING = ".lostcard-writing."  # the temporary directory inside --out


def _same(path, other):
    if os.path.realpath(path) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(path, other)
    except OSError:  # either is absent
        return False


def check_out(path, fmt, keep=()):
    """Refuse an output the format cannot write, or one that would replace a file in `keep`
    ((what, path) pairs: the database, its -wal and -shm, the fleet secret file), before
    anything is read or written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise LostcardError("--out %s: no directory %s" % (path, folder))
    if fmt == "csv":
        if os.path.exists(path) and not os.path.isdir(path):
            raise LostcardError("--out %s is a file; --format csv writes a directory of tables"
                                % path)
        found = os.listdir(path) if os.path.isdir(path) else []
        if MARKER not in found and any(not n.startswith(WRITING) for n in found):
            raise LostcardError("--out %s is a directory that holds other files; --format csv "
                                "writes a new or empty directory, or an earlier report's" % path)
        targets = [os.path.join(path, name) for name in found]
    elif os.path.isdir(path):
        raise LostcardError("--out %s is a directory; --format %s writes one file" % (path, fmt))
    else:
        targets = [path]
    for target in targets:
        for what, kept in keep:
            if _same(target, kept):
                raise LostcardError("--out %s would overwrite %s %s" % (path, what, kept))


def _cannot_write(path, exc):
    return Failed("%s: cannot write: %s" % (path, exc.strerror or exc))


def write_text(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(path),
                                   suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def _data(cell):
    return cell.data if isinstance(cell, Cell) else cell


def _inert(value):
    """A text a spreadsheet would run as a formula (a stolen terminal can seal an operator id
    "=HYPERLINK(...)") gets a leading apostrophe, which spreadsheets read as "text"; a truth is
    true or false, as in the json."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(directory, tables):
    """Every table into `directory` (made if absent: its parent must exist, no tree is made
    on a typo), replacing an earlier report's tables, the ones it had and this one has not too;
    on a failure, nothing of this report is left."""
    made = not os.path.isdir(directory)
    names = [table.name + ".csv" for table in tables]
    name, work = None, None
    try:
        if made:
            os.mkdir(directory)
        work = tempfile.mkdtemp(dir=directory, prefix=WRITING)
        for name, table in zip(names, tables):
            text = io.StringIO()
            out = csv.writer(text)
            out.writerow(c.key for c in table.columns)
            out.writerows([_inert(_data(cell)) for cell in row] for row in table.rows)
            with open(os.path.join(work, name), "w", encoding="utf-8-sig", newline="") as f:
                f.write(text.getvalue())
        name = MARKER
        with open(os.path.join(work, MARKER), "w", encoding="utf-8") as f:
            f.write(MARKED + "".join(n + "\n" for n in names))
    except BaseException as exc:
        if work:
            shutil.rmtree(work)
        if made and os.path.isdir(directory):
            os.rmdir(directory)
        if isinstance(exc, OSError):
            raise _cannot_write(os.path.join(directory, name) if name else directory,
                                exc) from None
        raise
    earlier = _listed(directory)
    try:
        for name in names + [MARKER]:  # renames: nothing left to fail for want of space
            os.replace(os.path.join(work, name), os.path.join(directory, name))
    except OSError as exc:  # something of the user's in the way, a directory named a table
        raise _cannot_write(os.path.join(directory, name), exc) from None
    for name in sorted(set(earlier) - set(names)):
        try:
            os.remove(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    for name in os.listdir(directory):  # ours, and any a killed run left
        if name.startswith(WRITING):
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def _listed(directory):
    """The tables an earlier report wrote into `directory`, by its MARKER."""
    try:
        with open(os.path.join(directory, MARKER), encoding="utf-8") as f:
            lines = f.read().splitlines()[1:]
    except FileNotFoundError:
        return []
    # only names this module writes: a marker edited by hand removes nothing else
    return [n for n in lines if n.endswith(".csv") and os.path.basename(n) == n
            and not n.startswith(".")]


def json_text(meta, tables):
    """`meta`: generated, period, previous period, terminals, untrusted clocks left out."""
    def window(w):
        return {"start": iso(w[0]), "end": iso(w[1])} if w else None
    return json.dumps({
        "generated": iso(meta["generated"]), "period": window(meta["period"]),
        "previous_period": window(meta["previous_period"]), "terminals": meta["terminals"],
        "left_out_clock_not_trusted": meta["left_out"],
        "tables": {t.name: {"title": t.title, "columns": [c.key for c in t.columns],
                            "rows": [{c.key: _data(cell) for c, cell in zip(t.columns, row)}
                                     for row in t.rows]}
                   for t in tables},
    }, ensure_ascii=False, indent=1) + "\n"
