"""Two `collector serve` processes with different fleet secrets starting at once on a new
PostgreSQL database (the fleet's design: many processes, one database; one of them given another
fleet's or a mistyped secret). Both pass _check_fleet (no fingerprint yet), then each claims:
INSERT .. ON CONFLICT DO NOTHING keeps the first, and the second, reading back a fingerprint not
its own, refuses to serve (SqliteStore has the same window between check and claim). Here the
other process's claim is made to land between this one's check and its claim."""

import types

import pytest

from lostcard.errors import LostcardError
from lostcard_cpython import cli_collector, collector
from lostcard_cpython.collector_store import open_store
from lostcard_cpython.fleet_secret import fingerprint
from lostcard_cpython.local_collector import free_port

OTHER = bytes(range(32))


def test_a_claim_lost_to_another_fleet_at_start_refuses_to_serve(
        pg_url, tmp_path, monkeypatch):
    secret = tmp_path / "fleet.secret"
    secret.write_text("ab" * 32)
    real_check, served = cli_collector._check_fleet, []

    def check_then_the_other_process_claims(*args, **kwargs):
        real_check(*args, **kwargs)  # passes: the database holds no fingerprint yet
        other = open_store(pg_url)  # the other collector, started at the same moment
        other.fleet_fingerprint(claim=fingerprint(OTHER))
        other.close()
    monkeypatch.setattr(cli_collector, "_check_fleet", check_then_the_other_process_claims)
    monkeypatch.setattr(collector, "serve", lambda *a, **k: served.append(1))
    args = types.SimpleNamespace(db=pg_url, fleet_secret_file=str(secret), raw_secret=False,
                                 tls_cert=None, tls_key=None, host="127.0.0.1", port=free_port(),
                                 access_log=False, accept_loss=False,
                                 metrics_token_file=None, alert_url=None)
    with pytest.raises(LostcardError, match="fleet secret"):
        cli_collector._serve(args)
    assert served == []  # never serves under a secret that is not the database's
