"""Files written whole or not at all: a temporary file beside the target, fsynced, then renamed
(or linked, to refuse an existing target). A failure leaves neither the target nor the temporary,
and says the user's path, never the temporary's: a missing directory is bad input (exit 2), any
other failure to write (full disk, file too large, read-only...) a failed operation (exit 1)."""

import errno
import os
import tempfile

from lostcard.errors import LostcardError

from .errors import Failed

# link() refused by the file system itself (vfat, some SMB shares), not by the target
NO_LINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def _check(path):
    if not os.path.basename(path):
        raise LostcardError("%r is not a file name" % path)


def _failed(path, exc):
    if isinstance(exc, FileExistsError):
        return FileExistsError(errno.EEXIST, "exists already; not overwritten", path)
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return LostcardError("%s: no such directory" % path)
    return Failed("%s: cannot write: %s" % (path, exc.strerror or exc))


def _fill(fd, data, mode):
    os.fchmod(fd, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _temporary(path, data, mode):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        _fill(fd, data, mode)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _create(path, data, mode):
    """Without link(): create `path` exclusively and fill it; a failure removes what was made."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _fill(fd, data, mode)
    except BaseException:
        os.unlink(path)
        raise


def write_new(path, data, mode=0o600):
    """Write `data` to `path`, which must not exist (FileExistsError then, nothing written)."""
    _check(path)
    try:
        tmp = _temporary(path, data, mode)
        try:
            os.link(tmp, path)  # atomic, and fails if the target exists
        except OSError as exc:
            if exc.errno not in NO_LINK:
                raise
            _create(path, data, mode)
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise _failed(path, exc) from None


def write_replace(path, data, mode=0o644):
    """Write `data` to `path`, replacing it in one step."""
    _check(path)
    try:
        tmp = _temporary(path, data, mode)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise _failed(path, exc) from None
