"""The report's incidents: one snapshot of the collector's store, each sealed record opened with
the fleet secret for the facts that are not columns (operator id, network state, firmware), and
each terminal's clock judged before its times are charted.
"""

from lostcard import policy
from lostcard.collector import record_check
from lostcard.collector.fleet import FleetKeys
from lostcard.errors import LostcardError

from . import crypto, fastcbor
from .collector_store import open_store
from .incidents import describe
from .publish import status
from .report_analysis import DAY


def _opener(fleet_secret):
    fleet = FleetKeys(crypto, fleet_secret)  # one for all records: its ratchet is reused

    def open_facts(device, sealed):
        try:
            return describe(record_check.open_sealed(crypto, fleet, sealed, fastcbor.decode,
                                                     device))
        except LostcardError:
            return None
    return open_facts


def load(db_path, fleet_secret, now):
    """The database's incidents (dicts, facts opened; `time` None where the clock is not
    trusted), quarantine counts and gaps (SqliteStore.report_snapshot), and the updates the
    terminals run (publish.status)."""
    store = open_store(db_path, readonly=True)
    try:
        rows, quarantine, gaps = store.report_snapshot()
        updates = status(store)
    finally:
        store.close()
    limits = policy.DEFAULT["limits"]
    # a clock that lost power or jumped ahead: its times would stretch the chart by decades
    low, high = limits["plausible_time_min"], min(limits["plausible_time_max"], now + DAY)
    open_facts = _opener(fleet_secret)
    incidents = []
    for device, t, cause, subcause, action, token, last4, sealed in rows:
        described = open_facts(device, sealed)
        facts = described["facts"] if described else {}
        trusted = t is not None and facts.get("clock_ok") is not False and low <= t < high
        incidents.append({"device": device, "time": t if trusted else None,
                          "cause": cause, "subcause": subcause, "action": action,
                          "token": token, "last4": last4, "facts": facts,
                          "brand": (described or {}).get("card", {}).get("brand"),
                          "opened": described is not None})
    return incidents, quarantine, gaps, updates
