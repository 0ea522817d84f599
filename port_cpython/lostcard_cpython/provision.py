"""Provisioning files: what a new terminal receives once, at the factory or the acquirer's bench.

A CBOR map {1: device id, 2: chain(0), 3: ack key, 4: first sequence number}: the device's key
chain at epoch 0 and its acknowledgement key, both derived from the fleet secret, which never
leaves the provisioning host. The Terminal creates its queue from the file and deletes it.
"""

import cbor2

from lostcard import keys
from lostcard.collector import fleet

from . import crypto
from .atomic import write_new


def provisioning(fleet_secret, device_id, first_seq=1):
    """The provisioning file's bytes for `device_id`."""
    root = keys.device_root(crypto, fleet_secret, device_id)
    return cbor2.dumps({1: device_id, 2: keys.first_chain(crypto, root),
                        3: fleet.ack_key(crypto, fleet_secret, device_id), 4: first_seq})


def write(path, fleet_secret, device_id, first_seq=1):
    """Write the new file, readable by its owner alone (it holds key material): whole or not at
    all, never over an existing one."""
    write_new(path, provisioning(fleet_secret, device_id, first_seq), 0o600)
