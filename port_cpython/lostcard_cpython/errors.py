"""The CPython port's own error: an operation that was tried and failed (exit 1), as opposed to
bad usage or input (every other LostcardError: exit 2)."""

from lostcard.errors import LostcardError


class Failed(LostcardError):
    """The operation was tried and did not succeed; what it kept is said with it."""
