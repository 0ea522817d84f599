import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Deterministic examples and no timing-based checks: CI must never fail by chance or load.
settings.register_profile("ci", derandomize=True, max_examples=300, deadline=None,
                          suppress_health_check=list(HealthCheck), database=None)
settings.load_profile("ci")


def pytest_configure(config):
    # every run ends with its slowest tests beside the wall time, so that a slow one is seen when
    # it comes; --durations=N on the command line still decides
    if config.option.durations is None:
        config.option.durations = 8


# The core tests in tests/mpy/ are plain modules shared with MicroPython; make them importable.
sys.path.insert(0, str(Path(__file__).parent / "mpy"))


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """The compiled bundle every MicroPython test runs, built once for the whole session."""
    from micropython_process import build_bundle

    return build_bundle(tmp_path_factory.mktemp("mpy"))


from pg import new_db, pg_server, pg_url  # noqa: E402,F401  (fixtures for every test module)
