"""Issue-13 newcomer review (R13C): a terminal's config mistakes that README step 4 invites, found
only at the first sync and then retried for ever with a last_error nobody can act on (MicroPython:
"network: list index out of range", "network: [Errno 2] ENOENT"). docs/DEVICE.md: "A config
that cannot work (...an unreadable policy or provisioning file...) raises ConfigError at
construction, before any decline". Shown on the emulator's Terminal (the same core as the device).
"""

import json

import pytest

from lostcard.errors import ConfigError
from lostcard_cpython.terminal import Terminal
from terminal_setup import provisioned_terminal


def _config(tmp_path, **changes):
    provisioned_terminal(tmp_path, "https://collector.acquirer.example:8443", 0)
    config = json.loads((tmp_path / "lostcard.json").read_text())
    config.update(changes)
    return config


@pytest.mark.parametrize("changes", [
    # a typo in the scheme: sent as plain http to the TLS port; the device's last_error is then
    # "network: list index out of range"
    {"collector_url": "htps://collector.acquirer.example:8443", "collector_ca": "ca.pem"},
    # collector_ca names no file: the device says "network: [Errno 2] ENOENT" at each sync
    {"collector_ca": "/no/such/ca.pem"},
    # a CA for an http collector: the integrator believes in TLS, the terminal sends in clear
    {"collector_url": "http://collector.acquirer.example:8080", "collector_ca": "ca.pem"},
], ids=["scheme_typo", "missing_ca_file", "ca_with_http"])
def test_a_collector_config_that_cannot_work_is_refused_at_construction(tmp_path, changes):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    changes = {k: (str(tmp_path / v) if k == "collector_ca" and not v.startswith("/") else v)
               for k, v in changes.items()}
    with pytest.raises(ConfigError):
        Terminal(_config(tmp_path, **changes))


def test_the_right_collector_config_is_taken(tmp_path):
    """The control: README's https config with an existing collector_ca constructs."""
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    Terminal(_config(tmp_path, collector_ca=str(tmp_path / "ca.pem")))
