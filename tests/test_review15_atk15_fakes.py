"""Review of issue 15 (atk15): the test fake storage and the storage contract.

Severity: low (tests). Both ports' storages raise OSError(ENOENT) when asked to remove a file
that is not there (os.remove), and lostcard.update._remove relies on it; the MemoryStorage fake
of tests/mpy/queue_fakes.py, used by the update-flow tests, raises KeyError instead. So a refusal
before any partial exists (add_chunk at offset 0 with a header that does not match the reply:
one forged fetch reply) crashes sync_step with KeyError under the fakes, and the shared tests
cannot exercise that path. Fix: MemoryStorage.remove raises OSError(2, name) for a missing file.
"""

import pytest

from queue_fakes import MemoryStorage


def test_the_fake_storage_removes_a_missing_file_as_the_ports_do():
    with pytest.raises(OSError) as raised:
        MemoryStorage({}).remove("policy.new")
    assert raised.value.args[0] == 2
