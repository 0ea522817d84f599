"""Files written whole or not at all: a temporary file beside the target, fsynced, then renamed
(or linked, to refuse an existing target). A failure leaves neither the target nor the temporary."""

import errno
import os
import tempfile


def _temporary(path, data, mode):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_new(path, data, mode=0o600):
    """Write `data` to `path`, which must not exist (FileExistsError then, nothing written)."""
    tmp = _temporary(path, data, mode)
    try:
        os.link(tmp, path)  # atomic, and fails if the target exists
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "exists already; not overwritten", path) from None
    finally:
        os.unlink(tmp)


def write_replace(path, data, mode=0o644):
    """Write `data` to `path`, replacing it in one step."""
    tmp = _temporary(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
