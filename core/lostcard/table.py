"""Text tables: '|'-separated rows in one string, looked up by their first field.

The policy and the terminal texts are kept this way because a single string costs one heap block
on MicroPython, where the same data as dicts of lists cost several times more (an object header
and an interned string per cell). A table starts with a newline and ends every row with one.
"""


def row(table, key):
    """The fields after `key` on its row, or None if no row starts with `key`."""
    n = len(key)
    # a match counts only as a whole first field; searching for the bare key allocates nothing
    start = table.find(key)
    while start >= 0:
        if start > 0 and table[start - 1] == "\n" and table[start + n] == "|":
            return table[start + n + 1:table.find("\n", start)].split("|")
        start = table.find(key, start + 1)
    return None
