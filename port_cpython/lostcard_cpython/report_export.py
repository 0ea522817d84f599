"""The report's files: the page, or its tables for a spreadsheet or a script, each written whole
or not at all (a temporary file beside it, then a rename), so that a failed run leaves the last
good report in place and no half file.

csv: a directory with one file per table, `<table>.csv`, its header the columns' keys; every
table is written, an empty one as its header alone, so that a script finds the same files each
time. json: one object, the period and the filters, then every table as a list of objects keyed
by its columns.
"""

import csv
import io
import json
import os
import tempfile

from lostcard.errors import LostcardError

from .report_tables import Cell, iso

FORMATS = ("html", "csv", "json")


def check_out(path, fmt):
    """Refuse an output the format cannot write, before anything is read or written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise LostcardError("--out %s: no directory %s" % (path, folder))
    if fmt == "csv":
        if os.path.exists(path) and not os.path.isdir(path):
            raise LostcardError("--out %s is a file; --format csv writes a directory of tables"
                                % path)
    elif os.path.isdir(path):
        raise LostcardError("--out %s is a directory; --format %s writes one file" % (path, fmt))


def write_text(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _data(cell):
    return cell.data if isinstance(cell, Cell) else cell


def _inert(value):
    """A text a spreadsheet would run as a formula (a stolen terminal can seal an operator id
    "=HYPERLINK(...)") gets a leading apostrophe, which spreadsheets read as "text"."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(directory, tables):
    if not os.path.isdir(directory):
        os.mkdir(directory)  # its parent must exist: no tree made on a typo
    for table in tables:
        text = io.StringIO()
        out = csv.writer(text)
        out.writerow(c.key for c in table.columns)
        out.writerows([_inert(_data(cell)) for cell in row] for row in table.rows)
        write_text(os.path.join(directory, table.name + ".csv"), text.getvalue())


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
