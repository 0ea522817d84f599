"""The one exception tree of lostcard; ports translate their own errors into it."""


class LostcardError(Exception):
    """Root of every error lostcard raises on purpose."""


class PolicyError(LostcardError):
    """A policy or a per-acquirer override is malformed; raised when it is built, never mid-decision."""
