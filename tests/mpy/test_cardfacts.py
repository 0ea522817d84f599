"""Card and terminal data checks, and the text tables the policy is stored in.

Runs unchanged on CPython (pytest) and on MicroPython (runner.py): plain asserts only.
"""

from lostcard.cardfacts import civil_year_month, luhn_ok, older_version, parse_expiry, tvr_bit
from lostcard.collector.policy_check import rows
from lostcard.override import build, without
from lostcard.table import row
from sample_events import NOW


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert luhn_ok("5555555555554444")
    assert luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("79927398710")


def test_civil_year_month():
    assert civil_year_month(0) == (1970, 1)
    assert civil_year_month(951782400) == (2000, 2)      # 2000-02-29 00:00
    assert civil_year_month(951868799) == (2000, 2)      # 2000-02-29 23:59:59
    assert civil_year_month(951868800) == (2000, 3)
    assert civil_year_month(NOW) == (2026, 11)
    assert civil_year_month(4102444799) == (2099, 12)
    assert civil_year_month(4102444800) == (2100, 1)


def test_expiry_parsing():
    assert parse_expiry("2812") == (2028, 12)
    assert parse_expiry("2801") == (2028, 1)
    assert parse_expiry("2813") is None
    assert parse_expiry("2800") is None
    assert parse_expiry("281") is None


def test_tvr_bits_are_numbered_from_the_most_significant():
    assert tvr_bit("8000000000", 1, 8)
    assert not tvr_bit("8000000000", 1, 7)
    assert tvr_bit("4000000000", 1, 7)
    assert tvr_bit("0040000000", 2, 7)
    assert tvr_bit("0000008000", 4, 8)
    assert tvr_bit("0000000040", 5, 7)
    assert tvr_bit("0000000001", 5, 1)


def test_older_version():
    assert older_version("2.4.0", "2.4.1")
    assert not older_version("2.4.1", "2.4.1")
    assert older_version("2.9.9", "2.10")
    assert not older_version("2.4", "2.4.0") and not older_version("2.4.0", "2.4")
    assert older_version("2.4", "2.4.1")
    assert not older_version("3.0rc1", "3.0")
    assert not older_version("beta", "2.0") and not older_version("2.0", "beta")


def test_text_tables():
    table = build([["a", "1", "x"], ["ab", "2", "y"]])
    assert row(table, "a") == ["1", "x"]
    assert row(table, "ab") == ["2", "y"]
    assert row(table, "b") is None
    assert list(rows(table)) == [["a", "1", "x"], ["ab", "2", "y"]]
    assert list(rows(build([]))) == []
    assert without(table, "a") == build([["ab", "2", "y"]])
    assert without(table, "ab") == build([["a", "1", "x"]])
    assert without(table, "b") == table


def test_file_tables_find_rows_across_chunk_boundaries():
    from lostcard.table import FileTable
    from fixture_files import fixture_path

    path = fixture_path("../core/lostcard/texts.txt")
    rows_seen = 0
    for chunk in (200, 512):
        table = FileTable(path, chunk)
        with open(path) as f:
            for line in f:
                if line.strip() and line[0] != "#":
                    key, rest = line.rstrip("\n").split("|", 1)
                    assert table.row(key) == rest.split("|"), (chunk, key)
                    rows_seen += 1
        assert table.row("why:no_such_rule") is None
        assert table.row("why:tamp") is None  # a prefix of a key is not the key
    assert rows_seen > 200
