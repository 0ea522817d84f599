"""The `options` the operator's --db URL carries are kept beside the store's own (statement_timeout,
read-only, synchronous_commit): e.g. a search_path that puts this fleet's tables in its own schema,
not in `public` (where another fleet's collector, or anything else, may keep its tables)."""

import psycopg

from lostcard_cpython.collector_store import open_store


def test_the_urls_own_options_are_kept(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA fleet_a")
    url = pg_url + "?options=-c%20search_path%3Dfleet_a"
    store = open_store(url)
    try:
        store.store_batch("T-OPT", [("T-OPT", 1, 1700000000, "c", "s", "a", 1, None, "0042",
                                     "p", 0, b"sealed")], [], None, 0, 1, 1)
    finally:
        store.close()
    with psycopg.connect(pg_url) as admin:
        where = admin.execute("SELECT table_schema FROM information_schema.tables "
                              "WHERE table_name = 'incidents'").fetchall()
    assert where == [("fleet_a",)]  # found: [('public',)]
