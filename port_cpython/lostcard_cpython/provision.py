"""Provisioning files: what a new terminal receives once, at the factory or the acquirer's bench.

A CBOR map {1: device id, 2: chain(0), 3: ack key, 4: first sequence number}: the device's key
chain at epoch 0 and its acknowledgement key, both derived from the fleet secret, which never
leaves the provisioning host. The Terminal creates its queue from the file and deletes it.

Each file starts a new random incarnation of the device (lostcard.keys): its first sequence number
is incarnation << 24 and its chain(0) is derived with it, so a terminal provisioned again under
the same device id (a replaced or reset one) never seals under a key and nonce used before, and
its sequence numbers never collide with the old terminal's at the collector. Two provisionings
of one device id draw the same incarnation with odds of 1 in 2**31 - 1.
"""

import secrets

import cbor2

from lostcard.collector import fleet

from . import crypto
from .atomic import write_new


def provisioning(fleet_secret, device_id, incarnation=None):
    """The provisioning file's bytes for `device_id`, of a new random incarnation unless one is
    given (0: the derivation of terminals provisioned before incarnations, first sequence 1)."""
    if incarnation is None:
        incarnation = 1 + secrets.randbelow(fleet.MAX_INCARNATION)
    root = fleet.device_root(crypto, fleet_secret, device_id)
    return cbor2.dumps({1: device_id, 2: fleet.first_chain(crypto, root, incarnation),
                        3: fleet.ack_key(crypto, fleet_secret, device_id, incarnation),
                        4: incarnation << fleet.INCARNATION_SHIFT or 1})


def write(path, fleet_secret, device_id, incarnation=None):
    """Write the new file, readable by its owner alone (it holds key material): whole or not at
    all, never over an existing one."""
    write_new(path, provisioning(fleet_secret, device_id, incarnation), 0o600)
