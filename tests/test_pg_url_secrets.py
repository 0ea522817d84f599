"""A --db URL's password must never reach stderr, whatever libpq thinks of the
URL; a malformed URL is one line and exit 2, never an internal error."""

import subprocess
import sys

import pytest

SECRET = "s3cretPW"


def _stats(url):
    return subprocess.run([sys.executable, "-m", "lostcard_cpython.cli", "collector", "stats",
                           "--db", url], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("url", [
    # libpq quotes the whole URI in this error
    "postgresql://fleet:%s@[::1]x/lostcard" % SECRET,
    # a password with a '%' not written as %25: libpq quotes the token
    "postgresql://fleet:%s%%zz@127.0.0.1:9/lostcard" % SECRET,
])
def test_libpq_url_errors_do_not_leak_the_password(url):
    done = _stats(url)
    assert done.returncode == 2, done.stderr
    assert SECRET not in done.stderr, done.stderr


def test_an_unclosed_ipv6_bracket_is_one_line_exit_2_not_an_internal_error():
    done = _stats("postgresql://fleet:%s@[::1/lostcard" % SECRET)
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr and SECRET not in done.stderr, done.stderr


@pytest.mark.parametrize("url", [
    "postgresql://fleet:%s?x@127.0.0.1:9/lostcard" % SECRET,  # '?' in the password
    "postgresql://fleet:%s#x@127.0.0.1:9/lostcard" % SECRET,  # '#' in the password
    "postgresql://fleet@127.0.0.1:9/lostcard?%%70assword=%s" % SECRET,  # %70 is 'p'
])
def test_without_password_hides_the_password_libpq_reads(url):
    from psycopg.conninfo import conninfo_to_dict

    from lostcard_cpython.collector_store import without_password

    assert SECRET in conninfo_to_dict(url)["password"]  # libpq takes this URL, and this password
    assert SECRET not in without_password(url)


def test_a_password_with_a_question_mark_is_not_printed():
    done = _stats("postgresql://fleet:%s?x@127.0.0.1:9/lostcard" % SECRET)
    assert done.returncode == 2, done.stderr
    assert SECRET not in done.stderr, done.stderr
