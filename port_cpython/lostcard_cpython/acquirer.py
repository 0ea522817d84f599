"""Per-acquirer policy files: JSON overrides of the response-code map (see policy.with_overrides)."""

import json

from lostcard.errors import PolicyError
from lostcard.collector.policy_check import check
from lostcard.override import with_overrides
from lostcard.policy import DEFAULT


def load_policy(path=None):
    """The default policy, or the default with the overrides in `path` applied."""
    if path is None:
        return check(DEFAULT)
    try:
        with open(path, encoding="utf-8-sig") as f:
            overrides = json.load(f)
    except (OSError, ValueError) as exc:
        raise PolicyError("policy file %s: %s" % (path, exc))
    return check(with_overrides(DEFAULT, overrides))
