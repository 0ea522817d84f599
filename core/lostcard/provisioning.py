"""A new terminal's first boot: its queue created from the provisioning file.

The file (written by `lostcard provision` on the provisioning host) is a CBOR map {1: device id,
2: chain(0), 3: ack key, 4: first sequence number}. Once the queue state holds them the file is
overwritten with zeros and deleted: from then on the chain key lives only in the queue state,
ratcheted forward. (A copy-on-write file system may keep the old blocks until it reuses them;
docs/SECURITY.md.) Apart from terminal.py because it runs once in a terminal's life.
"""

import os

from . import cbor
from .errors import ConfigError, LostcardError
from .queue import Queue


def provision(storage, device_id, path):
    if path is None:
        raise ConfigError("queue not provisioned and no provisioning file set")
    try:
        with open(path, "rb") as f:
            data = f.read()
        p = cbor.decode(data)
        if p[1] != device_id:
            raise ConfigError("provisioning file is for %s, not %s" % (p[1], device_id))
        Queue.provision(storage, p[2], p.get(4, 1), device_id, p[3])
    except ConfigError:
        raise
    except (OSError, LostcardError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError("provisioning file %s unusable: %s" % (path, exc))
    with open(path, "wb") as f:
        f.write(bytes(len(data)))
    os.remove(path)
