"""Text tables: '|'-separated rows in one string, looked up by their first field.

The policy and the terminal texts are kept this way because a single string costs one heap block
on MicroPython, where the same data as dicts of lists cost several times more (an object header
and an interned string per cell). A table starts with a newline and ends every row with one.
"""


def row(table, key):
    """The fields after `key` on its row, or None if no row starts with `key`."""
    start = table.find("\n" + key + "|")
    if start < 0:
        return None
    end = table.find("\n", start + 1)
    return table[start + len(key) + 2:end].split("|")
